"""The edit statistics on edits whose answer is known: a gain, a power curve, a clip, a desaturation."""
import math

import numpy as np
import pytest
import skimage.data

from realestate_sr.benchmark.edit_statistics import edit_statistics, mean_statistics
from realestate_sr.utils.colour import linear_to_srgb, srgb_to_linear


@pytest.fixture(scope='module')
def photo():
    return skimage.data.coffee()[::2, ::2].astype(np.float64) / 255.0


def test_the_identity_changes_nothing(photo):
    stats = edit_statistics(photo, photo)
    assert stats['midtone_gamma'] == pytest.approx(1.0)
    for key in ('exposure_ev', 'contrast', 'shadows', 'highlights', 'clipped_fraction', 'saturation'):
        assert stats[key] == pytest.approx(0.0, abs=1e-9)


def test_a_linear_gain_of_two_is_one_stop():
    rng = np.random.default_rng(0)
    dark = rng.uniform(0.0, 0.4, (64, 64, 3))
    brighter = linear_to_srgb(srgb_to_linear(dark) * 2.0)
    stats = edit_statistics(dark, brighter)
    assert stats['exposure_ev'] == pytest.approx(1.0, abs=1e-6)
    assert stats['clipped_fraction'] == 0.0


def test_a_power_curve_on_grey_is_found_as_the_midtone_gamma_and_lifts_shadows_more_than_highlights():
    grey = np.linspace(0.02, 0.98, 200)[None, :, None].repeat(8, axis=0).repeat(3, axis=2)
    stats = edit_statistics(grey, grey ** 0.66)
    assert stats['midtone_gamma'] == pytest.approx(0.66, abs=1e-3)
    assert stats['shadows'] > stats['highlights'] > 0
    assert stats['contrast'] < 0  # a power below 1 compresses the spread of a uniform ramp


def test_clipping_and_desaturation_are_counted(photo):
    clipped = np.clip(photo * 1.5, 0.0, 1.0)
    assert edit_statistics(photo, clipped)['clipped_fraction'] > 0.05
    grey = photo.mean(axis=2, keepdims=True)
    halfway = grey + 0.5 * (photo - grey)
    assert -0.5 < edit_statistics(photo, halfway)['saturation'] < -0.25  # max falls too: less than half
    assert edit_statistics(photo, grey.repeat(3, axis=2))['saturation'] == pytest.approx(-1.0)


def test_a_band_without_pixels_is_nan_and_the_mean_leaves_it_out():
    bright = np.full((32, 32, 3), 0.8)
    first = edit_statistics(bright, bright * 0.9)
    assert math.isnan(first['shadows']) and math.isnan(first['midtone_gamma'])
    second = dict(first, shadows=0.2)
    assert mean_statistics([first, second])['shadows'] == pytest.approx(0.2)


def test_images_of_different_shapes_are_refused():
    with pytest.raises(ValueError, match='one shape'):
        edit_statistics(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)))
