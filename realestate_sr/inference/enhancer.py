"""The one way a network runs on photos: ``Enhancer`` = a network (module or ONNX graph) + ``InferenceSettings``.

Training validation (``EnhanceModel.test``), ``scripts/tiled_infer.py``, ``scripts/evaluate.py`` (TTA and
ensembles included), ``scripts/export_onnx.py`` and ``scripts/speed_infer.py`` all run networks through it,
so the decisions below are taken here and nowhere else:

- whole photo or tiles: ``settings.tile_size`` (None: whole photos), unless the architecture declares
  ``whole_photo = True`` (it needs the whole photo in one pass), which always wins;
- TLC: only for NAFNets (``network_loading.is_nafnet``); ``tlc_note`` says when it is on but computes exactly
  what plain NAFNet does at the tile size, and ``tlc_warning`` is the one message about it;
- precision and device (as ``InferenceSettings`` decides them) and memory format;
- edit strength (``settings.strength``, or per call): whole-photo networks move their edit toward the
  identity (``WholePhotoNetwork.edit_at_strength``; exported graphs take it as an input), every other
  network's output is blended with its input pixel by pixel, ``(1 - s) x + s y``.

An Enhancer is stateless between calls and CPU-safe: the photo and the blended result stay in host memory,
only a tile batch at a time visits the device.
"""
import copy
import dataclasses

import numpy as np
import torch

from realestate_sr.archs.nafnet_arch import NAFNetLocal
from realestate_sr.archs.network_loading import (
    arch_runs_whole_photos,
    build_inference_network,
    checkpoint_param_key,
    is_nafnet,
    tlc_without_effect,
    with_tlc,
    without_tlc,
)
from realestate_sr.archs.whole_photo_ops import StrengthError, check_strength, is_whole_photo
from realestate_sr.inference import onnx_runner
from realestate_sr.inference.settings import InferenceSettings, SettingsError, resolve_device
from realestate_sr.utils.tiling import make_torch_runner, tiled_forward, tiled_forward_many


def network_to_run(network_opt, settings):
    """The ``network_g`` to build for ``settings``: NAFNets in their TLC form or plain, others unchanged."""
    if not is_nafnet(network_opt):
        return copy.deepcopy(network_opt)
    return with_tlc(network_opt, settings.train_size) if settings.tlc else without_tlc(network_opt)


def tlc_note(network_opt, settings):
    """Why TLC, though on, computes what plain NAFNet does at these settings' tile size; None when it acts, is
    off, tiles are off, the architecture runs whole photos or is not a NAFNet."""
    if not (settings.tlc and settings.tiled and is_nafnet(network_opt)) or arch_runs_whole_photos(network_opt):
        return None
    return tlc_without_effect(settings.tile_size, network_opt, settings.train_size)


def tlc_warning(note, setting='TLC'):
    """The warning for a ``tlc_note``; ``setting`` names the switch as the reader set it ('val.tlc: true')."""
    return (f'{setting} has no effect: {note}. For TLC use tiles larger than the window or whole photos '
            '(--tile-size 0, val.tile: ~); else switch it off (--no-tlc, val.tlc: false).')


def module_to_run(source, network_opt, settings, twin=None):
    """The module that runs ``source``'s current weights as ``settings`` say: ``source`` itself, or (TLC on a
    plain NAFNet) a NAFNetLocal ``twin`` that gets its weights; pass the last twin back to reuse it."""
    if not (settings.tlc and is_nafnet(network_opt)) or isinstance(source, NAFNetLocal):
        return source
    if twin is None:
        device = next(source.parameters()).device
        twin = build_inference_network(with_tlc(network_opt, settings.train_size), device=device)
    twin.load_state_dict(source.state_dict())
    return twin


class Enhancer:
    """Runs one network on photos (numpy RGB float32 H,W,3) or tensors (N,C,H,W) as ``settings`` say.

    Build it with ``from_checkpoint`` (a ``network_g`` block + a checkpoint), ``from_module`` (a live module, e.g.
    in validation) or ``from_onnx`` (an ONNX Runtime session); all three run through the same code below.

    Attributes:
        settings (InferenceSettings), device (torch.device): where tiles go,
        net (nn.Module | None): the PyTorch module (None for ONNX),
        whole_photo (bool): the architecture runs whole photos whatever the tile settings were (then
            ``settings`` say so: no tiles, no TLC),
        tlc_note (str | None): see ``tlc_note``; param_key (str | None): the checkpoint entry loaded,
        description (str): what runs where, for the settings line; notes (list[str]): other warnings,
        edit_strength (bool): ``run_batch(batch, strength=...)`` applies the strength to the edit (whole-photo
            networks); False for whole-photo graphs exported before it, which run strength 1 only.
    """

    def __init__(self, run_batch, settings, device, net=None, whole_photo=False, description='', tlc_note=None,
                 param_key=None, notes=(), edit_strength=None):
        if whole_photo:  # the settings say what runs: one pass over the whole photo, no tiles, no TLC
            settings = dataclasses.replace(settings, tile_size=None, tlc=False)
        self.run_batch, self.settings, self.device, self.net = run_batch, settings, torch.device(device), net
        self.whole_photo, self.description = bool(whole_photo), description
        self.tlc_note, self.param_key, self.notes = tlc_note, param_key, list(notes)
        self.edit_strength = self.whole_photo if edit_strength is None else bool(edit_strength)
        self.check_strength(settings.strength)

    @classmethod
    def from_module(cls, net, settings=None, tlc_note=None, param_key=None, notes=()):
        """Run ``net`` (in eval mode, on its device) as it is; the caller chose its TLC form (``module_to_run``)."""
        settings = settings or InferenceSettings()
        device = next(net.parameters()).device
        run_batch = make_torch_runner(net, settings.autocast_dtype(device), settings.channels_last)
        return cls(run_batch, settings, device, net=net, whole_photo=is_whole_photo(net),
                   description=f'{type(net).__name__} {settings.precision} on {device}', tlc_note=tlc_note,
                   param_key=param_key, notes=notes)

    @classmethod
    def from_checkpoint(cls, network_opt, checkpoint, settings=None, param_key=None):
        """Build ``network_opt`` in the form ``settings`` ask for (TLC), load ``checkpoint`` (None: the
        architecture's initial weights) and put it on ``settings.device``; on a CPU, a bf16 the caller did not
        ask for runs as fp32 (``InferenceSettings.for_device``), and ``settings`` are then the ones that run."""
        settings = settings or InferenceSettings()
        device = resolve_device(settings.device)
        settings, precision_note = settings.for_device(device.type)
        settings.autocast_dtype(device)  # fp16 on a CPU fails here, before any loading
        net = build_inference_network(network_to_run(network_opt, settings), checkpoint, param_key=param_key,
                                      device=device)
        if settings.channels_last:
            net = net.to(memory_format=torch.channels_last)
        key = checkpoint_param_key(checkpoint, param_key) if checkpoint is not None else None
        return cls.from_module(net, settings, tlc_note=tlc_note(network_opt, settings), param_key=key,
                               notes=[precision_note] if precision_note else [])

    @classmethod
    def from_onnx(cls, path, settings=None, threads=0):
        """An ONNX Runtime session on ``path`` (from scripts/export_onnx.py) run through the same tiling.

        The graph fixes the network (TLC or not) and runs float32; a TLC graph refuses tiles below its window.
        """
        settings = settings or InferenceSettings()
        device = resolve_device(settings.device)
        session = onnx_runner.load_onnx_session(path, device, threads)
        min_side = onnx_runner.onnx_min_side(session)
        if min_side and settings.tiled and settings.tile_size < min_side:
            raise SettingsError(f'{path} is a TLC graph that needs inputs of at least {min_side} px, but the tiles '
                                f'are {settings.tile_size} px: use --tile-size {min_side} or more, or export it with '
                                '--no-tlc')
        notes = []
        graph_opt = onnx_runner.onnx_network_opt(session)
        if min_side == 0 and is_nafnet(graph_opt) and settings.tlc and tlc_note(graph_opt, settings) is None:
            notes.append(f'{path} was exported without TLC while these settings ask for TLC: the graph decides, '
                         'so it runs plain NAFNet (export with TLC on to match the PyTorch backend)')
        whole_photo = arch_runs_whole_photos(graph_opt)
        if whole_photo and not isinstance(session, onnx_runner.WholePhotoSession):
            notes.append(f'{path} is a whole-photo graph exported before band inference: it runs each photo in one '
                         'piece (several GB at 3300x2200, or fails); re-export it with scripts/export_onnx.py')
        # what runs is the graph's: float32, TLC as exported, NCHW; whole-photo graphs run whole photos (the
        # runner cuts bands that know their place in the photo)
        settings = dataclasses.replace(settings, precision='fp32', tlc=bool(min_side), channels_last=False)
        edit_strength = isinstance(session, onnx_runner.WholePhotoSession) and session.takes_strength
        try:
            return cls(onnx_runner.make_onnx_runner(session), settings, 'cpu', whole_photo=whole_photo,
                       description=f'ONNX Runtime {session.get_providers()[0]} fp32' + (', TLC graph' if min_side
                                                                                         else ''),
                       notes=notes, edit_strength=edit_strength)
        except StrengthError as err:
            raise SettingsError(f'{path}: {err}') from None

    @property
    def tiles(self):
        """Whether photos are cut into tiles (False: whole photos in one pass)."""
        return self.settings.tiled

    def check_strength(self, strength):
        """``strength`` as a float this network can run; StrengthError when outside [0, 1], or not 1 for a
        whole-photo graph exported before edit strength."""
        strength = check_strength(strength)
        if strength != 1 and self.whole_photo and not self.edit_strength:
            raise StrengthError(onnx_runner.GRAPH_WITHOUT_STRENGTH)
        return strength

    def _strengths(self, strengths, count):
        """One checked strength per image: ``strengths`` None (the settings'), one value, or a list."""
        if strengths is None:
            return [self.settings.strength] * count
        if not isinstance(strengths, (list, tuple)):
            strengths = [strengths] * count
        return [self.settings.strength if value is None else self.check_strength(value) for value in strengths]

    def _whole(self, batch, strengths, run_batch=None):
        """``run_batch`` on whole images ``batch`` (on the device), each at its strength."""
        run_batch = run_batch or self.run_batch
        if all(value == 1 for value in strengths):
            return run_batch(batch)
        if self.edit_strength:
            return run_batch(batch, strength=torch.tensor(strengths, dtype=torch.float32, device=batch.device))
        return pixel_blend(batch, run_batch(batch), strengths)

    def warnings(self, tlc_setting='TLC'):
        """Every warning about how this network runs, one line each."""
        return ([tlc_warning(self.tlc_note, tlc_setting)] if self.tlc_note else []) + self.notes

    def run_tensor(self, images, progress=None, strength=None):
        """Enhance N,C,H,W float ``images`` (any device); returns N,C,H,W float32 on ``images.device``.

        ``progress(tiles_done, tiles_total)`` is called after each network call (one per image when whole).
        ``strength``: None for the settings' (``settings.strength``), else a value in [0, 1] for these images.
        """
        strengths = self._strengths(strength, images.shape[0])
        if not self.tiles:
            output = self._whole(images.to(self.device), strengths).to(images.device, torch.float32)
            if progress is not None:
                progress(1, 1)
            return output
        settings = self.settings
        output = torch.cat([
            tiled_forward(self.run_batch, images[index:index + 1], tile_size=settings.tile_size,
                          overlap=settings.overlap, tile_batch=settings.tile_batch, border_pad=settings.border_pad,
                          device=self.device, progress=progress) for index in range(images.shape[0])])
        return pixel_blend(images.to(output.device, torch.float32), output, strengths)

    def run_photo(self, rgb, progress=None, strength=None):
        """Enhance one photo, numpy RGB float32 H,W,3 in [0, 1]; returns float32 H,W,3 (not clipped).
        ``strength`` as in ``run_tensor``."""
        tensor = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32))[None]
        return self.run_tensor(tensor, progress, strength)[0].permute(1, 2, 0).numpy()

    def run_photos(self, photos, on_call=None, strengths=None):
        """Enhance several photos (numpy RGB float32 H,W,3, sizes may differ) in shared network calls.

        Tiled: the tiles of all photos are cut in order and sent ``settings.tile_batch`` at a time, so a call
        holds tiles of several photos. Whole photos: photos of one size are stacked into one call. Each output
        equals ``run_photo`` of that photo (up to float rounding of a larger batch). ``on_call(n)`` is told the
        batch size of every network call. ``strengths``: None (the settings'), or one per photo (None: the
        settings'). Returns a list of float32 H,W,3 (not clipped), in input order.
        """
        strengths = self._strengths(strengths, len(photos))

        def run_batch(batch, **net_kwargs):
            if on_call is not None:
                on_call(int(batch.shape[0]))
            return self.run_batch(batch, **net_kwargs)

        tensors = [torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32))[None]
                   for rgb in photos]
        if self.tiles:
            settings = self.settings
            outputs = tiled_forward_many(run_batch, tensors, settings.tile_size, settings.overlap,
                                         settings.tile_batch, settings.border_pad, device=self.device)
            outputs = [pixel_blend(tensor, output, [strength])
                       for tensor, output, strength in zip(tensors, outputs, strengths)]
        else:
            outputs = [None] * len(tensors)
            same_size = {}
            for index, tensor in enumerate(tensors):
                same_size.setdefault(tuple(tensor.shape), []).append(index)
            for indices in same_size.values():
                stacked = torch.cat([tensors[index] for index in indices]).to(self.device)
                results = self._whole(stacked, [strengths[index] for index in indices], run_batch)
                for index, output in zip(indices, results.to('cpu', torch.float32)):
                    outputs[index] = output[None]
        return [output[0].permute(1, 2, 0).numpy() for output in outputs]


def pixel_blend(images, outputs, strengths):
    """``(1 - s) x + s y`` per image (N,C,H,W, one strength each; exact at 0 and 1): the strength of a network
    whose edit is not a set of parameters."""
    if all(value == 1 for value in strengths):
        return outputs
    weights = torch.tensor(strengths, dtype=outputs.dtype, device=outputs.device).view(-1, 1, 1, 1)
    return torch.lerp(images.to(outputs.device, outputs.dtype), outputs, weights)
