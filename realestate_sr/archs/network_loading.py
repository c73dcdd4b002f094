"""Build an inference network from option files, checkpoints and flags.

Shared by ``scripts/tiled_infer.py``, ``scripts/evaluate.py``, the ONNX export
and the model's validation, so that every caller turns the same YAML into the
same network.
"""
import copy
from pathlib import Path

import torch
import yaml

from realestate_sr.archs.checkpoint import (
    BEST_CHECKPOINT,
    BEST_KEY,
    LATEST_CHECKPOINT,
    PARAM_KEYS_BY_PREFERENCE,
    TRAINED_WITH_KEY,
    CheckpointMismatchError,
    load_checkpoint,
    read_state_dict,
)
from realestate_sr.archs.nafnet_arch import DEFAULT_TRAIN_SIZE, TLC_BASE_SCALE, tlc_geometry, tlc_pools_globally
from realestate_sr.archs.whole_photo_ops import is_whole_photo
from realestate_sr.options import RemovedOptionError, removed_key_message

from basicsr.archs import build_network
from basicsr.utils.registry import ARCH_REGISTRY

NAFNET_TYPES = ('NAFNet', 'NAFNetLocal')
BARE_STATE_DICT = 'state_dict'  # what ``checkpoint_param_key`` calls a file without params/params_ema
_TORCH_MAGICS = (b'PK\x03\x04', b'\x80')  # torch.save's zip container; the legacy pickle protocol


def is_nafnet(network_opt):
    """Whether TLC (NAFNetLocal) applies to ``network_opt``: the one test of "is this a NAFNet"."""
    return network_opt.get('type') in NAFNET_TYPES


def refuse_foreign_checkpoint(path):
    """Raise CheckpointMismatchError when ``path`` is an ONNX graph or anything else torch.load cannot read as a
    checkpoint, instead of torch's unpickling advice ("re-run with weights_only=False")."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'Checkpoint not found: {path}')
    with path.open('rb') as handle:
        head = handle.read(4)
    if head.startswith(_TORCH_MAGICS):
        return
    if path.suffix.lower() == '.onnx' or head[:1] == b'\x08':  # an ONNX ModelProto opens with field 1, ir_version
        raise CheckpointMismatchError(f'{path} is an ONNX graph, not a PyTorch checkpoint; run it with '
                                      'scripts/tiled_infer.py --backend onnxruntime')
    raise CheckpointMismatchError(f'{path} is not a PyTorch checkpoint (neither a torch.save zip nor a pickle)')


def checkpoint_param_key(path, param_key=None):
    """The entry of ``path`` that ``load_checkpoint`` loads: ``param_key`` when given, else 'params_ema' or
    'params' (preferred in that order), else BARE_STATE_DICT. Reads the file's keys only (memory-mapped)."""
    if param_key is not None:
        return param_key
    loaded = _load_mapped(path)
    keys = set(loaded) if isinstance(loaded, dict) else set()
    return next((key for key in PARAM_KEYS_BY_PREFERENCE if key in keys), BARE_STATE_DICT)


def read_trained_with(path):
    """The ``trained_with`` record saved in checkpoint ``path`` (network_g and inference settings as plain
    values), or None for a checkpoint without one (older, official or bare files). Memory-mapped."""
    loaded = _load_mapped(path)
    record = loaded.get(TRAINED_WITH_KEY) if isinstance(loaded, dict) else None
    return record if isinstance(record, dict) and isinstance(record.get('network_g'), dict) else None


def read_best_record(path):
    """The ``best`` record of checkpoint ``path`` (iter, metric, value, dataset of the validation that chose a
    net_g_best.pth), or None for a checkpoint without one. Memory-mapped."""
    loaded = _load_mapped(path)
    record = loaded.get(BEST_KEY) if isinstance(loaded, dict) else None
    return record if isinstance(record, dict) else None


def describe_best_record(record):
    """``psnr 24.3100 on val_set at iter 400``, as the training log's line says it."""
    value = record.get('value')
    shown = f'{value:.4f}' if isinstance(value, float) else value
    return f"{record.get('metric')} {shown} on {record.get('dataset')} at iter {record.get('iter')}"


def resolve_checkpoint(path):
    """(checkpoint file, note): the file ``path`` itself (note None), or for an experiment folder (or its models/
    folder) its ``models/net_g_best.pth`` when present, else ``models/net_g_latest.pth``, with one line saying
    which. FileNotFoundError, naming the newest ``net_g_<iter>.pth`` there, when the folder has neither."""
    path = Path(path)
    if not path.is_dir():
        return path, None
    models = path / 'models' if (path / 'models').is_dir() else path
    best, latest = models / BEST_CHECKPOINT, models / LATEST_CHECKPOINT
    if best.is_file():
        record = read_best_record(best)
        chosen = f'best validation, {describe_best_record(record)}' if record else 'best validation'
        return best, f'{path}: using {best} ({chosen})'
    if latest.is_file():
        return latest, f'{path}: using {latest} (no {BEST_CHECKPOINT}: the run did not set val.best)'
    numbered = sorted((file for file in models.glob('net_g_*.pth') if file.stem[len('net_g_'):].isdigit()),
                      key=lambda file: int(file.stem[len('net_g_'):]))
    newest = f'; its newest checkpoint is {numbered[-1]}: give that file' if numbered else ''
    raise FileNotFoundError(f'{path} holds neither {models / BEST_CHECKPOINT} nor {models / LATEST_CHECKPOINT} '
                            f'(a training still running, or not an experiment folder){newest}')


def _load_mapped(path):
    refuse_foreign_checkpoint(path)
    try:
        return torch.load(path, map_location='cpu', weights_only=True, mmap=True)
    except RuntimeError:  # legacy (pickle) files cannot be memory-mapped
        return torch.load(path, map_location='cpu', weights_only=True)


def experiment_option_file(checkpoint):
    """The option file BasicSR copied into the experiment folder of ``checkpoint`` (``<experiment>/models/x.pth``:
    the newest ``<experiment>/*.yml``), or None when the checkpoint does not sit in such a folder."""
    models = Path(checkpoint).parent
    if models.name != 'models':
        return None
    files = sorted(models.parent.glob('*.yml'), key=lambda path: path.stat().st_mtime)
    return files[-1] if files else None


def compact_network_opt(network_opt):
    """``network_opt`` on one line, as YAML flow style: {type: BilateralGridNet, thumb_size: 128, ...}."""
    return yaml.safe_dump(dict(network_opt), default_flow_style=True, sort_keys=False, width=10 ** 6).strip()


def trained_with_hint(checkpoint):
    """What ``checkpoint`` was trained with, for a message about keys that do not fit: the network_g it
    records, else the option file of its experiment folder; None when neither is known."""
    try:
        record = read_trained_with(checkpoint)
    except (OSError, RuntimeError, ValueError):
        record = None
    if record is not None:
        return f'it was trained with network_g {compact_network_opt(record["network_g"])} (saved in the checkpoint)'
    option_file = experiment_option_file(checkpoint)
    if option_file is not None:
        return f'its experiment folder has the option file it was trained with: {option_file}'
    return None


def with_tlc(network_opt, train_size=None):
    """``network_opt`` switched to NAFNetLocal (TLC) for full-resolution inference.

    ``train_size`` (N,C,H,W of the training patches) sets the TLC window; an
    explicit ``train_size`` in ``network_opt`` wins, else DEFAULT_TRAIN_SIZE.
    """
    if not is_nafnet(network_opt):
        raise ValueError(f'TLC applies to NAFNet only, not {network_opt["type"]}')
    local_opt = copy.deepcopy(network_opt)
    local_opt['type'] = 'NAFNetLocal'
    local_opt.setdefault('train_size', list(train_size or DEFAULT_TRAIN_SIZE))
    return local_opt


def tlc_without_effect(tile_size, network_opt, train_size=None):
    """Why TLC on tiles of ``tile_size`` computes exactly what plain NAFNet does, or None when it does not.

    NAFNetLocal falls back to global pooling wherever its window (1.5 x the training patch) covers the
    feature map; on tiles no larger than the window that is every block, so TLC changes nothing.
    ``train_size`` (N,C,H,W) as for ``with_tlc``: ``network_opt['train_size']`` wins, default 256x256.
    """
    train_size = with_tlc(network_opt, train_size)['train_size']
    levels = len(network_opt.get('enc_blk_nums') or ())
    if tile_size is None or not tlc_pools_globally((tile_size, tile_size), train_size, levels):
        return None
    _, window, _ = tlc_geometry(train_size, 1)
    return (f'the NAFNetLocal window ({window[0]}x{window[1]}, {TLC_BASE_SCALE} x the '
            f'{train_size[-2]}x{train_size[-1]} training patch) covers every {tile_size}x{tile_size} tile, so it '
            'pools over the whole tile and the output equals plain NAFNet')


def without_tlc(network_opt):
    """``network_opt`` as plain NAFNet (global channel attention)."""
    plain = {k: v for k, v in network_opt.items() if k not in ('train_size', 'fast_imp')}
    if plain['type'] == 'NAFNetLocal':
        plain['type'] = 'NAFNet'
    return plain


def build_inference_network(network_opt, checkpoint=None, tlc=None, train_size=None, param_key=None,
                            device='cpu'):
    """Build ``network_opt`` through BasicSR's registry, load ``checkpoint``, return it in eval mode on ``device``.

    Args:
        network_opt (dict): A ``network_g`` block (``type`` plus constructor arguments).
        checkpoint (str | Path | None): BasicSR checkpoint, official release file or bare state_dict.
        tlc (bool | None): True: NAFNetLocal; False: NAFNet; None: as ``network_opt`` says.
        train_size (tuple | None): Training patch N,C,H,W for the TLC window.
        param_key (str | None): See ``read_state_dict``; None prefers params_ema.
        device (str | torch.device): Where the network goes.

    A ``network_opt`` naming a removed option (``options.REMOVED_KEYS``) raises RemovedOptionError, one line.
    """
    removed = [removed_key_message('network_g', key) for key in network_opt]
    if any(removed):
        raise RemovedOptionError('; '.join(filter(None, removed)))
    if tlc is True:
        network_opt = with_tlc(network_opt, train_size)
    elif tlc is False:
        network_opt = without_tlc(network_opt)
    net = build_network(copy.deepcopy(network_opt))
    if checkpoint is not None:
        refuse_foreign_checkpoint(checkpoint)
        try:
            load_checkpoint(net, checkpoint, param_key=param_key)
        except CheckpointMismatchError as err:
            problem = _width_hint(net, checkpoint, param_key) or str(err)
            trained_with = trained_with_hint(checkpoint)
            if trained_with:
                raise CheckpointMismatchError(f'{problem}; {trained_with}') from err
            if problem != str(err):
                raise CheckpointMismatchError(problem) from err
            raise
    return net.eval().to(device)


def _width_hint(net, checkpoint, param_key):
    """One line when ``checkpoint`` holds a network of another width than ``net`` (the first conv's outputs)."""
    expected = net.state_dict().get('intro.weight')
    found = read_state_dict(checkpoint, param_key).get('intro.weight')
    if expected is None or found is None or expected.shape[0] == found.shape[0]:
        return None
    return (f'{checkpoint} holds a width-{found.shape[0]} network, but the option file or flags describe width '
            f'{expected.shape[0]}: pass the option file it was trained with (--opt) or --width {found.shape[0]}')


def arch_runs_whole_photos(network_opt):
    """Whether the registered architecture of ``network_opt`` declares ``whole_photo = True``: it needs the whole
    photo in one pass (a global colour model), so tiling settings do not apply to it."""
    return network_opt.get('type') in ARCH_REGISTRY and is_whole_photo(ARCH_REGISTRY.get(network_opt['type']))
