"""Our METRIC_REGISTRY entries against values known by construction or from published tables."""
import math

import numpy as np
import pytest
import torch
from skimage.color import lab2rgb
from torchvision.models import alexnet

import realestate_sr  # noqa: F401  (registers the metrics)
from realestate_sr.metrics.ciede2000_metric import lab_of_8bit, mean_ciede2000_rgb
from realestate_sr.metrics.lpips_metric import LPIPS_BACKBONES, lpips_model, preload_lpips
from realestate_sr.utils.weights import MissingWeightsError

from basicsr.metrics import calculate_metric

RANDOM_LPIPS = {'type': 'calculate_lpips', 'net': 'alex', 'random_backbone_for_testing': True}
# Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes, supplementary
# test data and mathematical observations", Table 1: a pair whose colours lie inside the sRGB gamut.
SHARMA_LAB_1 = (60.2574, -34.0099, 36.2677)
SHARMA_LAB_2 = (60.4626, -34.1751, 39.4387)
SHARMA_DE00 = 1.2644


@pytest.fixture
def photo():
    """A 48x40 uint8 BGR image with texture and room below 255 for a +10 shift."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 240, size=(48, 40, 3), dtype=np.uint8)


def metric(name, img, img2, **opt):
    return calculate_metric({'img': img, 'img2': img2}, {'type': name, **opt})


def uniform_rgb(lab, shape=(8, 8)):
    return np.broadcast_to(lab2rgb(np.array(lab, dtype=np.float64)[None, None]), (*shape, 3)).copy()


@pytest.mark.parametrize('name, opt', [('calculate_l1', {}), ('calculate_ciede2000', {}),
                                       ('calculate_lpips', RANDOM_LPIPS)])
def test_identical_images_score_zero(photo, name, opt):
    opt = {k: v for k, v in opt.items() if k != 'type'}
    assert metric(name, photo, photo.copy(), **opt) == pytest.approx(0.0, abs=1e-7)


def test_l1_and_psnr_of_a_constant_shift(photo):
    shifted = photo + np.uint8(10)
    assert metric('calculate_l1', photo, shifted) == pytest.approx(10 / 255, rel=1e-12)
    # BasicSR's PSNR on the same pair: MSE = 100 grey levels squared.
    psnr = metric('calculate_psnr', photo, shifted, crop_border=0)
    assert psnr == pytest.approx(10 * math.log10(255 ** 2 / 100), rel=1e-9)


def test_l1_crop_border_and_chw(photo):
    other = photo.copy()
    other[:2] = 0  # only the cropped rows differ
    assert metric('calculate_l1', photo, other, crop_border=2) == 0
    assert metric('calculate_l1', photo, other) > 0
    chw = metric('calculate_l1', photo.transpose(2, 0, 1), other.transpose(2, 0, 1), input_order='CHW')
    assert chw == pytest.approx(metric('calculate_l1', photo, other))


def test_shape_mismatch_is_an_error(photo):
    with pytest.raises(ValueError, match='shapes are different'):
        metric('calculate_l1', photo, photo[:-1])


def test_ciede2000_matches_the_sharma_table():
    rgb1, rgb2 = uniform_rgb(SHARMA_LAB_1), uniform_rgb(SHARMA_LAB_2)
    assert mean_ciede2000_rgb(rgb1, rgb2) == pytest.approx(SHARMA_DE00, abs=5e-4)
    half = rgb1.copy()
    half[:4] = rgb2[:4]  # half the pixels shifted: the mean halves
    assert mean_ciede2000_rgb(rgb1, half) == pytest.approx(SHARMA_DE00 / 2, abs=5e-4)


def test_ciede2000_reads_bgr_uint8():
    rgb1, rgb2 = uniform_rgb(SHARMA_LAB_1), uniform_rgb(SHARMA_LAB_2)
    bgr1 = np.round(rgb1[..., ::-1] * 255).astype(np.uint8)
    bgr2 = np.round(rgb2[..., ::-1] * 255).astype(np.uint8)
    expected = mean_ciede2000_rgb(bgr1[..., ::-1] / 255.0, bgr2[..., ::-1] / 255.0)
    assert metric('calculate_ciede2000', bgr1, bgr2) == pytest.approx(expected, rel=1e-12)
    # 8-bit rounding moves the colours by well under a just-noticeable difference.
    assert expected == pytest.approx(SHARMA_DE00, abs=0.3)
    # Reading the same bytes as RGB would give another value: the channel order matters.
    assert mean_ciede2000_rgb(bgr1 / 255.0, bgr2 / 255.0) != pytest.approx(expected, abs=1e-3)


def test_ciede2000_of_8bit_photos_looks_up_the_same_lab_as_scikit_image():
    from skimage.color import rgb2lab
    rng = np.random.default_rng(3)
    rgb = np.concatenate([np.repeat(np.arange(256, dtype=np.uint8)[:, None, None], 3, axis=2),
                          rng.integers(0, 256, (256, 1, 3), dtype=np.uint8)], axis=1)
    np.testing.assert_array_equal(lab_of_8bit(rgb), rgb2lab(rgb / 255.0))
    other = rng.integers(0, 256, rgb.shape, dtype=np.uint8)
    assert metric('calculate_ciede2000', rgb[..., ::-1], other[..., ::-1]) == mean_ciede2000_rgb(rgb / 255.0,
                                                                                               other / 255.0)


@pytest.mark.parametrize('opt', [{'crop_border': 0}, {'crop_border': 3}, {'crop_border': 0, 'test_y_channel': True}])
def test_separable_ssim_is_basicsrs_ssim(opt):
    import skimage.data
    rgb = skimage.data.astronaut()[::3, ::2]  # a real photo's structure, not only noise
    edited = np.clip(rgb * 0.8 + 20 + np.random.default_rng(4).normal(0, 6, rgb.shape), 0, 255).astype(np.uint8)
    expected = metric('calculate_ssim', rgb, edited, **opt)
    assert 0.3 < expected < 0.99
    assert metric('calculate_ssim_separable', rgb, edited, **opt) == pytest.approx(expected, rel=1e-12, abs=0)
    chw = metric('calculate_ssim_separable', rgb.transpose(2, 0, 1), edited.transpose(2, 0, 1), input_order='CHW',
                 **opt)
    assert chw == pytest.approx(expected, rel=1e-12, abs=0)


def test_lpips_random_backbone_is_positive_and_symmetric(photo):
    opt = {k: v for k, v in RANDOM_LPIPS.items() if k != 'type'}
    blurred = ((photo.astype(np.float32) + np.roll(photo, 1, axis=1)) / 2).astype(np.uint8)
    forward = metric('calculate_lpips', photo, blurred, **opt)
    backward = metric('calculate_lpips', blurred, photo, **opt)
    assert forward > 0
    assert forward == pytest.approx(backward, rel=1e-5)
    # Further from the photo, further in LPIPS (also with random features).
    noise = np.random.default_rng(1).integers(0, 256, size=photo.shape, dtype=np.uint8)
    assert metric('calculate_lpips', photo, noise, **opt) > forward


def test_lpips_model_is_built_once():
    assert lpips_model('alex', None, True, 'cpu') is lpips_model('alex', None, True, 'cpu')
    # preload_lpips reads a val.metrics entry and warms the same cache calculate_lpips uses.
    assert preload_lpips(RANDOM_LPIPS) is lpips_model('alex', None, True, 'cpu')


def test_preload_lpips_fails_at_start_up_without_weights(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    with pytest.raises(MissingWeightsError, match='alexnet-owt-7be5be79.pth'):
        preload_lpips({'type': 'calculate_lpips', 'net': 'alex', 'better': 'lower'})


def test_lpips_missing_weights_error_names_file_place_and_url(photo, tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    with pytest.raises(MissingWeightsError) as err:
        metric('calculate_lpips', photo, photo, net='alex')
    message = str(err.value)
    assert LPIPS_BACKBONES['alex'] in message
    assert str(tmp_path / 'torch_home' / 'hub' / 'checkpoints') in message
    assert 'https://download.pytorch.org/models/alexnet-owt-7be5be79.pth' in message
    with pytest.raises(MissingWeightsError, match='vgg16-397923af.pth'):
        metric('calculate_lpips', photo, photo, net='vgg', weights=str(tmp_path / 'nowhere.pth'))


def test_lpips_loads_a_torchvision_backbone_file_from_the_hub_cache(tmp_path, monkeypatch):
    # A torchvision-format file (random values: the mapping is what is tested, not ImageNet features).
    checkpoints = tmp_path / 'hub' / 'checkpoints'
    checkpoints.mkdir(parents=True)
    state = alexnet(weights=None).state_dict()
    torch.save(state, checkpoints / LPIPS_BACKBONES['alex'])
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    model = lpips_model('alex', None, False, 'cpu')
    trunk = model.net.state_dict()
    assert torch.equal(trunk['slice1.0.weight'], state['features.0.weight'])
    assert torch.equal(trunk['slice5.10.bias'], state['features.10.bias'])


def test_ciede2000_chunks_give_the_whole_image_mean(monkeypatch):
    rng = np.random.default_rng(2)
    rgb1, rgb2 = rng.uniform(size=(11, 7, 3)), rng.uniform(size=(11, 7, 3))
    whole = mean_ciede2000_rgb(rgb1, rgb2)
    monkeypatch.setattr('realestate_sr.metrics.ciede2000_metric.ROWS_PER_CHUNK', 3)  # 3+3+3+2 rows
    assert mean_ciede2000_rgb(rgb1, rgb2) == pytest.approx(whole, rel=1e-12)
