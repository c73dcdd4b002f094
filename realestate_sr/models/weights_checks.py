"""Start-up check of the pretrained files a training option file needs, before any data set is built.

The losses, metrics and models load their pretrained files when they are built, and BasicSR builds them after
the data sets (minutes with ``cache: memory`` on hundreds of photos). :func:`missing_weights_problems` looks
for every file the options name, without loading anything, at the same places the loaders will look:

- ``train.*_opt`` of type ``VGGPerceptualLoss``: VGG19 (``vgg_weights``, else the torch hub cache), unless
  ``perceptual_weight: 0`` or random weights for testing; BasicSR's own ``PerceptualLoss``: its VGG file
  under ``experiments/pretrained_models/`` or torchvision's copy in the hub cache (else it downloads);
- ``val.metrics.*`` of type ``calculate_lpips``: the AlexNet or VGG16 backbone (``weights``, else the hub
  cache), whatever its ``device``, unless ``random_backbone_for_testing``;
- ``path.pretrain_network_g`` / ``pretrain_network_d``, unless the run resumes (BasicSR then loads the
  resumed checkpoints instead). Relative paths are relative to the current directory, as for the loaders.

Each missing file is one line: the option key, the file, where it was looked for and where to get it.
"""
import inspect
from pathlib import Path

from torchvision.models import get_model_weights

from realestate_sr.archs.checkpoint import CheckpointMismatchError
from realestate_sr.losses.vgg_features import VGG19_FILE, VGG19_URL
from realestate_sr.losses.vgg_perceptual_loss import VGGPerceptualLoss
from realestate_sr.metrics.lpips_metric import LPIPS_BACKBONES, backbone_url
from realestate_sr.models.enhance_model import require_pretrained_file
from realestate_sr.utils.weights import MissingWeightsError, hub_checkpoint_path, missing_weights_message

from basicsr.archs import vgg_arch as basicsr_vgg


def _default(target, key):
    return inspect.signature(target).parameters[key].default


def _vgg_loss_problem(where, block):
    if block.get('use_random_vgg_weights_for_testing') or not block.get(
            'perceptual_weight', _default(VGGPerceptualLoss, 'perceptual_weight')):
        return None
    message = missing_weights_message(VGG19_FILE, VGG19_URL, block.get('vgg_weights'), f'{where}.vgg_weights')
    return message and f'{where} (VGGPerceptualLoss): {message}'


def _basicsr_perceptual_problem(where, block):
    """BasicSR's PerceptualLoss loads ``experiments/pretrained_models/vgg19-dcbb9e9d.pth`` when it exists, else
    asks torchvision for the ImageNet weights of ``vgg_type``, which come from the hub cache or a download."""
    if Path(basicsr_vgg.VGG_PRETRAIN_PATH).is_file():
        return None
    vgg_type = block.get('vgg_type', 'vgg19')
    try:
        url = get_model_weights(vgg_type).IMAGENET1K_V1.url
    except (ValueError, KeyError, AttributeError):
        return None  # not a torchvision VGG: BasicSR's own error will say so
    cached = hub_checkpoint_path(url.rsplit('/', 1)[1])
    if cached.is_file():
        return None
    return (f"{where} (PerceptualLoss, BasicSR's): pretrained weights {cached.name} not found (looked in: "
            f'{Path(basicsr_vgg.VGG_PRETRAIN_PATH).resolve()}, {cached}), and BasicSR would download them. '
            f'Download {url} and put it in the hub cache, or write type: VGGPerceptualLoss (weights from a local file)')


def _lpips_problem(where, metric):
    if metric.get('random_backbone_for_testing'):
        return None
    net = metric.get('net', 'alex')
    if net not in LPIPS_BACKBONES:
        return f'{where}.net: {net!r} is not an LPIPS backbone; write net: alex or net: vgg'
    message = missing_weights_message(LPIPS_BACKBONES[net], backbone_url(net), metric.get('weights'),
                                      f'{where}.weights')
    return message and f'{where} (calculate_lpips, net: {net}): {message}'


def resumes(opt):
    """Whether BasicSR will load resumed checkpoints instead of ``path.pretrain_network_*``: a ``resume_state``,
    or ``--auto_resume`` with training states already in the experiment folder."""
    path = opt.get('path') if isinstance(opt.get('path'), dict) else {}
    if path.get('resume_state'):
        return True
    states = path.get('training_states')
    return bool(opt.get('auto_resume') and states and any(Path(states).glob('*.state')))


def _pretrained_network_problems(opt):
    path = opt.get('path') if isinstance(opt.get('path'), dict) else {}
    if resumes(opt):
        return
    try:
        require_pretrained_file(path.get('pretrain_network_g'))
    except (MissingWeightsError, CheckpointMismatchError) as error:
        yield str(error)
    discriminator = path.get('pretrain_network_d')
    if discriminator is not None and not Path(discriminator).is_file():
        yield (f'path.pretrain_network_d: {discriminator} not found (relative paths are relative to the repository '
               'root); give a net_d_*.pth from experiments/<name>/models/ or write pretrain_network_d: ~')


LOSS_CHECKS = {'VGGPerceptualLoss': _vgg_loss_problem, 'PerceptualLoss': _basicsr_perceptual_problem}
METRIC_CHECKS = {'calculate_lpips': _lpips_problem}


def missing_weights_problems(opt):
    """One line per pretrained file ``opt`` needs that is not on this machine; empty when all are."""
    train = opt.get('train') if isinstance(opt.get('train'), dict) else {}
    val = opt.get('val') if isinstance(opt.get('val'), dict) else {}
    problems = []
    for name, block in train.items():
        if isinstance(block, dict) and block.get('type') in LOSS_CHECKS:
            problems.append(LOSS_CHECKS[block['type']](f'train.{name}', block))
    for name, metric in (val.get('metrics') or {}).items():
        if isinstance(metric, dict) and metric.get('type') in METRIC_CHECKS:
            problems.append(METRIC_CHECKS[metric['type']](f'val.metrics.{name}', metric))
    problems.extend(_pretrained_network_problems(opt))
    return [problem for problem in problems if problem]
