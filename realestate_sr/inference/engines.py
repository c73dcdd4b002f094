"""The networks behind production inference: PyTorch modules and ONNX Runtime sessions.

Both become a ``run_batch`` callable that ``realestate_sr.inference.enhancer.Enhancer`` tiles;
this module never tiles itself.

ONNX export uses the TorchScript-based exporter (``dynamo=False``): it exports
NAFNet at opset 17 with dynamic batch/height/width using only the installed
``onnx`` package, whereas torch 2.14's dynamo exporter needs ``onnxscript``.
NAFNetLocal (TLC) exports too, but tracing freezes its Python branch "window
smaller than the feature map": the graph is valid only for inputs whose sides
are at least the TLC window (1.5 x the training patch, rounded up to a multiple
of 16), which the ONNX runner enforces with a clear error.

Whole-photo networks (``whole_photo = True``) export as one graph of two unconnected parts: the encoder
(``thumb``, ``strength`` -> ``edit0``, ``edit1``...: what the thumbnail decides, ``photo_edit``, moved toward the
identity by one strength per photo, ``edit_at_strength``) and the full-resolution
stage (``src``, ``box``, ``edit0_in``... -> ``out``: ``apply_edit``). ``load_onnx_session`` opens each part
as its own session (``WholePhotoSession``) and the runner makes the thumbnail of each photo
(``photo_thumbnail``), encodes it once and feeds the photo in bands of at most ``band_pixels`` pixels with
their boxes: the traced full-resolution stage is the per-pixel gather path in one piece (hundreds of bytes
per pixel), so a band, not the photo, bounds its memory. Whole-photo networks are exact under such tiling.
"""
import json
import math

import numpy as np
import torch

from realestate_sr.archs.nafnet_arch import TLC_BASE_SCALE
from realestate_sr.archs.network_loading import DEFAULT_TRAIN_SIZE
from realestate_sr.archs.whole_photo_ops import StrengthError, crop_box, photo_thumbnail
from realestate_sr.utils.cli_flags import PRECISIONS

AMP_DTYPES = dict(zip(PRECISIONS, (None, torch.bfloat16, torch.float16)))  # fp32, bf16, fp16
ONNX_INPUT, ONNX_OUTPUT = 'src', 'out'
ONNX_MIN_SIDE_KEY = 'realestate_sr.min_side'
ONNX_NETWORK_KEY = 'realestate_sr.network_opt'
# whole-photo graphs: {"thumb_size": S, "edits": number of edit tensors, "band_pixels": default band size}
ONNX_WHOLE_PHOTO_KEY = 'realestate_sr.whole_photo'
ONNX_THUMB, ONNX_BOX, ONNX_STRENGTH = 'thumb', 'box', 'strength'
# pixels per band of the full-resolution stage: ~1 KB per pixel in the gather graph (grid + LUT), ~0.5 GB a band
DEFAULT_BAND_PIXELS = 1 << 19


class OnnxInputTooSmallError(ValueError):
    """An input is smaller than an exported TLC graph supports."""


def network_opt_from_flags(arch='NAFNet', width=32, middle_blk_num=12, enc_blk_nums=(2, 2, 4, 8),
                           dec_blk_nums=(2, 2, 2, 2), img_channel=3):
    """A ``network_g`` dict from command-line architecture flags (defaults: NAFNet width 32, SIDD layout)."""
    return dict(type=arch, img_channel=img_channel, width=width, middle_blk_num=middle_blk_num,
                enc_blk_nums=list(enc_blk_nums), dec_blk_nums=list(dec_blk_nums))


def resolve_device(name='auto'):
    """'auto' -> CUDA when available, else CPU; anything else as torch names it."""
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    device = torch.device(name)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda asked for, but torch sees no CUDA device')
    return device


def amp_dtype_for(precision, device):
    """The autocast dtype for 'fp32' | 'bf16' | 'fp16' on ``device``; fp16 needs CUDA."""
    if precision not in AMP_DTYPES:
        raise ValueError(f'precision must be one of {sorted(AMP_DTYPES)}, got {precision!r}')
    if precision == 'fp16' and torch.device(device).type != 'cuda':
        raise ValueError('fp16 runs on CUDA only; use fp32 (or bf16) on CPU')
    return AMP_DTYPES[precision]


def tlc_min_side(train_size=None, multiple=16):
    """Smallest input side an exported NAFNetLocal graph supports: the TLC window rounded up to ``multiple``."""
    train_hw = (train_size or DEFAULT_TRAIN_SIZE)[-2:]
    window = max(int(side * TLC_BASE_SCALE) for side in train_hw)
    return int(math.ceil(window / multiple) * multiple)


# ---------------------------------------------------------------- ONNX

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
    if getattr(net, 'whole_photo', False):
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
