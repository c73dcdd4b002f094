"""Start-up checks that the blocks of a whole-photo recipe agree with each other.

A whole-photo recipe spreads one design over several blocks: the training set makes thumbnails of
``datasets.train.thumb_size`` that the network encodes at ``network_g.thumb_size``, the network's stride-2
stages (``network_g.levels``) turn that thumbnail into its grid, and the model (``model_type``) hands the
thumbnail and the crop's box to a network that takes them. Each block alone is valid, so the key checks pass,
and a disagreement used to surface at the first iteration, after the data sets were built, as a
``WholePhotoInputError`` or a ``ValueError`` naming neither key. :func:`whole_photo_problems` gives one line
per disagreement: both keys, both values, and what to write.

A crop's size (``gt_size``) may be anything with respect to the thumbnail: ``whole_opt`` resizes the
thumbnails to it either way.
"""
import inspect

from realestate_sr.archs.bilateral_grid_arch import BilateralGridNet
from realestate_sr.archs.whole_photo_ops import is_whole_photo
from realestate_sr.data.whole_photo_dataset import DEFAULT_THUMB_SIZE, WholePhotoDataset
from realestate_sr.models.whole_photo_model import WholePhotoModel
from realestate_sr.utils.registry_import import registered

from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, MODEL_REGISTRY


def _subclass(cls, base):
    return inspect.isclass(cls) and issubclass(cls, base)


def _setting(block, key, target):
    """(value of ``key`` in ``block``, ' (its default)' or ''): the constructor's default when the key is absent."""
    if key in block:
        return block[key], ''
    parameter = inspect.signature(target).parameters.get(key)
    return (None if parameter is None else parameter.default), ' (its default)'


def whole_photo_archs():
    return ', '.join(sorted(name for name, arch in ARCH_REGISTRY if is_whole_photo(arch)))


def _thumbnail_problems(datasets, thumb, thumb_note):
    """The thumbnails each WholePhotoDataset makes against the network's ``thumb``."""
    for phase, dataset in datasets.items():
        if not isinstance(dataset, dict) or not _subclass(registered(DATASET_REGISTRY, dataset.get('type')),
                                                          WholePhotoDataset):
            continue
        training = phase == 'train'
        if not training and 'thumb_size' not in dataset:
            continue  # validation passes whole photos: the network makes its own thumbnail
        size = dataset.get('thumb_size', DEFAULT_THUMB_SIZE)
        if size == thumb:
            continue
        note = '' if 'thumb_size' in dataset else ' (its default)'
        why = ('the network encodes the thumbnails the training set makes, so both must be the same'
               if training else 'validation passes whole photos and the network makes its own thumbnails')
        instead = f'write thumb_size: {thumb} in datasets.{phase}' + (f' (or {size} in network_g)' if training
                                                                       else ' or leave the key out')
        yield (f'datasets.{phase}.thumb_size: {size}{note} but network_g.thumb_size: {thumb}{thumb_note}: '
               f'{why}; {instead}')


def _grid_problems(network, arch):
    """What the thumbnail encoder and the grid need of thumb_size, levels and gain_cells."""
    thumb, thumb_note = _setting(network, 'thumb_size', arch)
    levels, levels_note = _setting(network, 'levels', arch)
    if not (isinstance(thumb, int) and isinstance(levels, int)) or levels < 0:
        return
    stride = 2 ** levels
    if not _subclass(arch, BilateralGridNet):  # an encoder whose features are pooled (ImageAdaptiveLUT)
        if thumb < stride:
            yield (f'network_g.thumb_size: {thumb}{thumb_note} is smaller than 2**network_g.levels = {stride} '
                   f'(levels: {levels}{levels_note}): each level halves the thumbnail; write thumb_size: {stride} '
                   f'or more, or levels: {max(0, thumb.bit_length() - 1)} or less')
        return
    # BilateralGridNet: the grid is thumb_size / 2**levels cells a side, at least 2
    if thumb % stride or thumb // stride < 2:
        fits = max((level for level in range(levels) if thumb % 2 ** level == 0 and thumb // 2 ** level >= 2),
                   default=None)
        sizes = sorted({max(2, thumb // stride) * stride, (thumb // stride + 1) * stride} - {thumb})
        yield (f'network_g.thumb_size: {thumb}{thumb_note} and network_g.levels: {levels}{levels_note}: the grid '
               f'is thumb_size / 2**levels cells a side, a whole number and at least 2; write thumb_size: '
               f'{" or ".join(map(str, sizes))}' + (f', or levels: {fits} or less' if fits is not None else ''))
        return
    cells = thumb // stride
    gain_cells, _ = _setting(network, 'gain_cells', arch)
    if isinstance(gain_cells, int) and gain_cells > cells:
        yield (f'network_g.gain_cells: {gain_cells} is finer than the grid, network_g.thumb_size {thumb} / '
               f'2**network_g.levels {levels} = {cells} cells a side: the light map is spread over the grid\'s '
               f'cells; write gain_cells: {cells} or less')


def _combination_problems(opt, arch, model, train_set, network_type):
    """The model passes thumbnails and boxes to the network; the training set must make them."""
    model_type, train_type = opt.get('model_type'), train_set.get('type')
    whole_model = _subclass(model, WholePhotoModel)
    whole_net = is_whole_photo(arch)
    whole_set = _subclass(registered(DATASET_REGISTRY, train_type), WholePhotoDataset)
    if whole_model and arch is not None and not whole_net:
        plain = 'GANEnhanceModel' if 'GAN' in model_type else 'EnhanceModel'
        yield (f'model_type: {model_type} passes each crop\'s thumbnail and box to network_g, which network_g.type: '
               f'{network_type} does not take: write model_type: {plain}, or a whole-photo network_g.type '
               f'({whole_photo_archs()})')
    if whole_set and model is not None and not whole_model:
        whole_type = 'WholePhotoGANModel' if 'GAN' in model_type else 'WholePhotoModel'
        instead = f'model_type: {whole_type}' if whole_net else 'datasets.train.type: PairedListingDataset'
        yield (f'datasets.train.type: {train_type} makes whole-photo thumbnails that model_type: {model_type} never '
               f'passes to the network: write {instead}')
    if whole_net and train_type is not None and not whole_set and train_type in DATASET_REGISTRY:
        yield (f'network_g.type: {network_type} decides its edit from the whole photo\'s thumbnail, but '
               f'datasets.train.type: {train_type} gives crops only (each would be taken for a whole photo): write '
               'datasets.train.type: WholePhotoDataset')


def whole_photo_problems(opt):
    """One line per disagreement between the blocks of the whole-photo recipe ``opt``; empty when none."""
    network = opt.get('network_g') if isinstance(opt.get('network_g'), dict) else {}
    datasets = opt.get('datasets') if isinstance(opt.get('datasets'), dict) else {}
    train_set = datasets.get('train') if isinstance(datasets.get('train'), dict) else {}
    network_type = network.get('type')
    arch = registered(ARCH_REGISTRY, network_type)
    model = registered(MODEL_REGISTRY, opt.get('model_type'))
    problems = list(_combination_problems(opt, arch, model, train_set, network_type))
    if is_whole_photo(arch) and 'thumb_size' in inspect.signature(arch).parameters:
        problems += _grid_problems(network, arch)
        problems += _thumbnail_problems(datasets, *_setting(network, 'thumb_size', arch))
    return problems
