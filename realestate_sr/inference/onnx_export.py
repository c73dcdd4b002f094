"""ONNX export of a network: one graph with dynamic N, H, W and the metadata the runner reads back.

It uses the TorchScript-based exporter (``dynamo=False``): it exports NAFNet at opset 17 with dynamic
batch/height/width using only the installed ``onnx`` package, whereas torch 2.14's dynamo exporter needs
``onnxscript``. NAFNetLocal (TLC) exports too, but tracing freezes its Python branch "window smaller than the
feature map": the graph is valid only for inputs whose sides are at least the TLC window (1.5 x the training
patch, rounded up to a multiple of 16, ``tlc_min_side``), which the runner (``onnx_runner``) enforces with a
clear error.

Whole-photo networks (``whole_photo = True``) export as one graph of two unconnected parts: the encoder
(``thumb``, ``strength`` -> ``edit0``, ``edit1``...: what the thumbnail decides, ``photo_edit``, moved toward the
identity by one strength per photo, ``edit_at_strength``) and the full-resolution stage (``src``, ``box``,
``edit0_in``... -> ``out``: ``apply_edit``), which ``onnx_runner`` opens as two sessions.
"""
import json
import math

import torch

from realestate_sr.archs.nafnet_arch import TLC_BASE_SCALE
from realestate_sr.archs.network_loading import DEFAULT_TRAIN_SIZE
from realestate_sr.archs.whole_photo_ops import crop_box, is_whole_photo, photo_thumbnail

ONNX_INPUT, ONNX_OUTPUT = 'src', 'out'
ONNX_MIN_SIDE_KEY = 'realestate_sr.min_side'
ONNX_NETWORK_KEY = 'realestate_sr.network_opt'
# whole-photo graphs: {"thumb_size": S, "edits": number of edit tensors, "band_pixels": default band size}
ONNX_WHOLE_PHOTO_KEY = 'realestate_sr.whole_photo'
ONNX_THUMB, ONNX_BOX, ONNX_STRENGTH = 'thumb', 'box', 'strength'
# pixels per band of the full-resolution stage: ~1 KB per pixel in the gather graph (grid + LUT), ~0.5 GB a band
DEFAULT_BAND_PIXELS = 1 << 19


def tlc_min_side(train_size=None, multiple=16):
    """Smallest input side an exported NAFNetLocal graph supports: the TLC window rounded up to ``multiple``."""
    train_hw = (train_size or DEFAULT_TRAIN_SIZE)[-2:]
    window = max(int(side * TLC_BASE_SCALE) for side in train_hw)
    return int(math.ceil(window / multiple) * multiple)


class WholePhotoGraph(torch.nn.Module):
    """What a whole-photo network exports: ``(src, box, thumb, strength, *edit_in) -> (out, *edit)``, two
    unconnected parts, ``out = net.apply_edit(src, box, *edit_in)`` and
    ``edit = net.edit_at_strength(net.photo_edit(thumb), strength)`` (``strength``: one value per photo)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, src, box, thumb, strength, *edit_in):
        return (self.net.apply_edit(src, box, *edit_in), *self.net.edit_at_strength(self.net.photo_edit(thumb),
                                                                                      strength))


def export_onnx(net, path, opset=17, min_side=0, network_opt=None, band_pixels=DEFAULT_BAND_PIXELS):
    """Export ``net`` (eval mode, CPU) to ``path`` with dynamic N, H, W.

    ``min_side`` > 0 (exported TLC graphs) is stored in the model's metadata
    and traced at a size above it so the local-window branch is the one frozen.
    A whole-photo network exports as ``WholePhotoGraph`` (see the module docstring), with ``band_pixels``
    recorded as the runner's default band size.
    """
    if opset < 17:
        raise ValueError(f'opset must be >= 17, got {opset}')
    side = max(64, min_side + 32)
    sample = torch.rand(1, 3, side, side)
    dynamic = {0: 'batch', 2: 'height', 3: 'width'}
    metadata = {ONNX_MIN_SIDE_KEY: str(int(min_side)), ONNX_NETWORK_KEY: json.dumps(network_opt or {})}
    if is_whole_photo(net):
        thumb = photo_thumbnail(sample, net.thumb_size)
        with torch.no_grad():
            edit = tuple(net.photo_edit(thumb))
        names = [f'edit{index}' for index in range(len(edit))]
        box = crop_box(8, 0, side - 24, side, side, side)[None]  # a band: traced with a box that is not the photo
        # traced below 1: the blend toward the identity is in the graph for every strength
        inputs = (sample[:, :, 8:side - 16], box, thumb, torch.full((1, ), 0.5), *edit)
        axes = {ONNX_INPUT: dynamic, ONNX_OUTPUT: dynamic, ONNX_BOX: {0: 'batch'}, ONNX_THUMB: {0: 'photos'},
                ONNX_STRENGTH: {0: 'photos'},
                **{f'{name}_in': {0: 'batch'} for name in names}, **{name: {0: 'photos'} for name in names}}
        torch.onnx.export(WholePhotoGraph(net), inputs, str(path), opset_version=opset, dynamo=False,
                          input_names=[ONNX_INPUT, ONNX_BOX, ONNX_THUMB, ONNX_STRENGTH,
                                       *[f'{name}_in' for name in names]],
                          output_names=[ONNX_OUTPUT, *names], dynamic_axes=axes)
        metadata[ONNX_WHOLE_PHOTO_KEY] = json.dumps({'thumb_size': net.thumb_size, 'edits': len(names),
                                                     'band_pixels': int(band_pixels)})
    else:
        torch.onnx.export(net, (sample, ), str(path), opset_version=opset, dynamo=False, input_names=[ONNX_INPUT],
                          output_names=[ONNX_OUTPUT], dynamic_axes={ONNX_INPUT: dynamic, ONNX_OUTPUT: dynamic})
    import onnx  # imported here so that torch-only users do not need it

    model = onnx.load(str(path))
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
