"""Running an exported graph (``onnx_export``) with ONNX Runtime: a ``run_batch`` callable for the Enhancer,
which tiles it; this module never tiles itself.

A whole-photo graph opens as two sessions (``WholePhotoSession``): the runner makes the thumbnail of each photo
(``photo_thumbnail``), encodes it once and feeds the photo in bands of at most ``band_pixels`` pixels with their
boxes: the traced full-resolution stage is the per-pixel gather path in one piece (hundreds of bytes per pixel),
so a band, not the photo, bounds its memory. Whole-photo networks are exact under such tiling.
"""
import json

import numpy as np
import torch

from realestate_sr.archs.whole_photo_ops import StrengthError, crop_box, photo_thumbnail
from realestate_sr.inference.onnx_export import (
    ONNX_BOX,
    ONNX_INPUT,
    ONNX_MIN_SIDE_KEY,
    ONNX_NETWORK_KEY,
    ONNX_OUTPUT,
    ONNX_STRENGTH,
    ONNX_THUMB,
    ONNX_WHOLE_PHOTO_KEY,
)


class OnnxInputTooSmallError(ValueError):
    """An input is smaller than an exported TLC graph supports."""


def onnx_providers(device):
    """ONNX Runtime execution providers for a torch device, CPU always last as the fallback."""
    import onnxruntime as ort

    wanted = ['CUDAExecutionProvider'] if torch.device(device).type == 'cuda' else []
    return [p for p in wanted if p in ort.get_available_providers()] + ['CPUExecutionProvider']


class WholePhotoSession:
    """The two parts of an exported whole-photo graph as ONNX Runtime sessions: ``encode`` (thumb -> edit)
    and ``apply`` (src, box, edit -> out); ``info`` is the graph's ``ONNX_WHOLE_PHOTO_KEY`` record. Answers
    ``get_modelmeta`` and ``get_providers`` as a session does. ``takes_strength``: the encoder has a strength
    input (graphs exported before it had none)."""

    def __init__(self, metadata, encode, apply, info):
        self.metadata, self.encode, self.apply, self.info = metadata, encode, apply, info
        self.takes_strength = ONNX_STRENGTH in {entry.name for entry in encode.get_inputs()}

    def get_modelmeta(self):
        return self.metadata

    def get_providers(self):
        return self.apply.get_providers()


def load_onnx_session(path, device='cpu', threads=0):
    """An ONNX Runtime session for ``path``, or a ``WholePhotoSession`` for an exported whole-photo graph;
    ``threads`` 0 lets ONNX Runtime choose."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), sess_options=options, providers=onnx_providers(device))
    record = session.get_modelmeta().custom_metadata_map.get(ONNX_WHOLE_PHOTO_KEY)
    if not record:
        return session
    import onnx  # the parts of the graph are cut out of it with onnx's extractor

    info = json.loads(record)
    names = [f'edit{index}' for index in range(info['edits'])]
    # the exporter drops inputs a network does not read (a global LUT ignores the box)
    present = {entry.name for entry in session.get_inputs()}
    apply_inputs = [name for name in (ONNX_INPUT, ONNX_BOX, *[f'{name}_in' for name in names]) if name in present]
    extractor = onnx.utils.Extractor(onnx.load(str(path)))
    encode_inputs = [name for name in (ONNX_THUMB, ONNX_STRENGTH) if name in present]
    parts = [extractor.extract_model(inputs, outputs) for inputs, outputs in
             ((encode_inputs, names), (apply_inputs, [ONNX_OUTPUT]))]
    encode, apply = (ort.InferenceSession(part.SerializeToString(), sess_options=options,
                                          providers=onnx_providers(device)) for part in parts)
    return WholePhotoSession(session.get_modelmeta(), encode, apply, info)


def onnx_min_side(session):
    return int(session.get_modelmeta().custom_metadata_map.get(ONNX_MIN_SIDE_KEY, '0'))


def onnx_network_opt(session):
    """The ``network_g`` block the graph was exported from (its TLC form included); {} when not recorded."""
    return json.loads(session.get_modelmeta().custom_metadata_map.get(ONNX_NETWORK_KEY, '{}') or '{}')


def make_onnx_runner(session, band_pixels=None):
    """``run_batch`` for ``tiled_forward``: N,C,h,w float tensor -> ONNX Runtime -> float32 tensor.

    A ``WholePhotoSession`` runs each batch of whole photos in bands of at most ``band_pixels`` pixels (all
    photos of the batch together; None: the graph's recorded default); its ``run_batch(batch, strength=1.0)``
    takes one strength (a float) or one per photo (a tensor) for the edit.
    """
    if isinstance(session, WholePhotoSession):
        return _whole_photo_runner(session, band_pixels or session.info['band_pixels'])
    min_side = onnx_min_side(session)
    input_name = session.get_inputs()[0].name

    def run_batch(batch):
        if min(batch.shape[-2:]) < min_side:
            raise OnnxInputTooSmallError(
                f'this ONNX graph (NAFNetLocal/TLC) needs sides >= {min_side} px, got a '
                f'{batch.shape[-1]}x{batch.shape[-2]} input; export without --tlc for small images')
        feed = np.ascontiguousarray(batch.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(session.run(None, {input_name: feed})[0])

    return run_batch


GRAPH_WITHOUT_STRENGTH = ('this whole-photo graph was exported before edit strength: it runs strength 1 only; '
                          're-export it with scripts/export_onnx.py')


def band_layout(photos, height, width, band_pixels):
    """(rows, columns) of a band: whole rows while a row of the ``photos`` fits in ``band_pixels``."""
    if photos * width <= band_pixels:
        return max(1, band_pixels // (photos * width)), width
    return 1, max(1, band_pixels // photos)


def _whole_photo_runner(session, band_pixels):
    thumb_size = session.info['thumb_size']
    edit_names = [f'edit{index}_in' for index in range(session.info['edits'])]
    wanted = {entry.name for entry in session.apply.get_inputs()}

    def run_batch(batch, strength=1.0):
        photos = batch.detach().cpu().float()
        n, _, height, width = photos.shape
        feed = {ONNX_THUMB: np.ascontiguousarray(photo_thumbnail(photos, thumb_size).numpy())}
        strengths = np.broadcast_to(np.asarray(strength, dtype=np.float32).reshape(-1), (n, ))
        if session.takes_strength:
            feed[ONNX_STRENGTH] = np.ascontiguousarray(strengths)
        elif (strengths != 1).any():
            raise StrengthError(GRAPH_WITHOUT_STRENGTH)
        edit = dict(zip(edit_names, session.encode.run(None, feed)))
        out = torch.empty(n, 3, height, width, dtype=torch.float32)
        rows, columns = band_layout(n, height, width, band_pixels)
        for top in range(0, height, rows):
            count = min(rows, height - top)
            for left in range(0, width, columns):
                span = min(columns, width - left)
                box = crop_box(top, left, count, span, height, width).expand(n, 4).contiguous()
                band = np.ascontiguousarray(photos[:, :, top:top + count, left:left + span].numpy())
                feed = {ONNX_INPUT: band, ONNX_BOX: box.numpy(), **edit}
                result = session.apply.run(None, {name: value for name, value in feed.items() if name in wanted})[0]
                out[:, :, top:top + count, left:left + span] = torch.from_numpy(result)
        return out

    return run_batch


def max_onnx_difference(net, session, sizes=((1, 3, 64, 64), (2, 3, 72, 120)), seed=0, band_pixels=None,
                        strength=1.0):
    """Largest |PyTorch - ONNX Runtime| over random inputs of ``sizes`` (N,C,H,W); ``band_pixels`` as in
    ``make_onnx_runner`` (whole-photo graphs), which also take an edit ``strength`` (others: 1 only)."""
    generator = torch.Generator().manual_seed(seed)
    run_onnx = make_onnx_runner(session, band_pixels)
    extra = {} if strength == 1.0 else {'strength': strength}
    worst = 0.0
    for size in sizes:
        sample = torch.rand(*size, generator=generator)
        with torch.no_grad():
            expected = net(sample, **extra).float()
        worst = max(worst, float((run_onnx(sample, **extra) - expected).abs().max()))
    return worst
