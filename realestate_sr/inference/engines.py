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
"""
import json
import math

import numpy as np
import torch

from realestate_sr.archs.nafnet_arch import TLC_BASE_SCALE
from realestate_sr.archs.network_loading import DEFAULT_TRAIN_SIZE

AMP_DTYPES = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}
ONNX_INPUT, ONNX_OUTPUT = 'src', 'out'
ONNX_MIN_SIDE_KEY = 'realestate_sr.min_side'
ONNX_NETWORK_KEY = 'realestate_sr.network_opt'


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

def export_onnx(net, path, opset=17, min_side=0, network_opt=None):
    """Export ``net`` (eval mode, CPU) to ``path`` with dynamic N, H, W.

    ``min_side`` > 0 (exported TLC graphs) is stored in the model's metadata
    and traced at a size above it so the local-window branch is the one frozen.
    """
    if opset < 17:
        raise ValueError(f'opset must be >= 17, got {opset}')
    side = max(64, min_side + 32)
    sample = torch.rand(1, 3, side, side)
    dynamic = {0: 'batch', 2: 'height', 3: 'width'}
    torch.onnx.export(net, (sample, ), str(path), opset_version=opset, dynamo=False, input_names=[ONNX_INPUT],
                      output_names=[ONNX_OUTPUT], dynamic_axes={ONNX_INPUT: dynamic, ONNX_OUTPUT: dynamic})
    import onnx  # imported here so that torch-only users do not need it

    model = onnx.load(str(path))
    for key, value in ((ONNX_MIN_SIDE_KEY, str(int(min_side))), (ONNX_NETWORK_KEY, json.dumps(network_opt or {}))):
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


def load_onnx_session(path, device='cpu', threads=0):
    """An ONNX Runtime session for ``path``; ``threads`` 0 lets ONNX Runtime choose."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), sess_options=options, providers=onnx_providers(device))


def onnx_min_side(session):
    return int(session.get_modelmeta().custom_metadata_map.get(ONNX_MIN_SIDE_KEY, '0'))


def onnx_network_opt(session):
    """The ``network_g`` block the graph was exported from (its TLC form included); {} when not recorded."""
    return json.loads(session.get_modelmeta().custom_metadata_map.get(ONNX_NETWORK_KEY, '{}') or '{}')


def make_onnx_runner(session):
    """``run_batch`` for ``tiled_forward``: N,C,h,w float tensor -> ONNX Runtime -> float32 tensor."""
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


def max_onnx_difference(net, session, sizes=((1, 3, 64, 64), (2, 3, 72, 120)), seed=0):
    """Largest |PyTorch - ONNX Runtime| over random inputs of ``sizes`` (N,C,H,W)."""
    generator = torch.Generator().manual_seed(seed)
    run_onnx = make_onnx_runner(session)
    worst = 0.0
    for size in sizes:
        sample = torch.rand(*size, generator=generator)
        with torch.no_grad():
            expected = net(sample).float()
        worst = max(worst, float((run_onnx(sample) - expected).abs().max()))
    return worst
