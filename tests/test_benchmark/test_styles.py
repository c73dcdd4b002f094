"""The house styles: each a fixed, deterministic edit that keeps the photo's shape and range, the styles visibly
different from each other, and listing_hdr's pairs unchanged by the refactor that made it a style."""
import hashlib
import itertools
import json

import numpy as np
import pytest
import skimage.data

from realestate_sr.benchmark import style_listing_hdr
from realestate_sr.benchmark.edit_statistics import PROFESSIONAL_EDITS, edit_statistics, mean_statistics
from realestate_sr.benchmark.styles import STYLES, style, style_names

REAL_PHOTOS = ('astronaut', 'coffee', 'chelsea', 'rocket')
# sha256 of src + tar bytes, and of the sorted JSON params, of listing_hdr.make_pair(astronaut), recorded from
# the code before apply_style existed (commit 909a9ce)
LISTING_HDR_ASTRONAUT_PAIR = 'ffb14f3e64f7728a8fe845c6d954981d87ee3e7e1ac07da7e6d13fcded1a8a29'
LISTING_HDR_ASTRONAUT_PARAMS = 'a0427aa2e888c57a'


def real_photo(name, step=1):
    return (getattr(skimage.data, name)()[::step, ::step].astype(np.float32) / 255.0).copy()


@pytest.fixture(scope='module')
def photos():
    return {name: real_photo(name, step=2) for name in REAL_PHOTOS}


@pytest.mark.parametrize('name', style_names())
def test_a_style_is_deterministic_float32_in_range_and_keeps_the_shape(name, photos):
    module = style(name)
    assert module.NAME == name and module.KIND == 'style' and isinstance(module.RECIPE, dict)
    for photo in photos.values():
        before = photo.copy()
        first, second = module.apply_style(photo), module.apply_style(photo)
        np.testing.assert_array_equal(first, second)
        np.testing.assert_array_equal(photo, before)  # the input is not edited in place
        assert first.dtype == np.float32 and first.shape == photo.shape
        assert 0.0 <= first.min() and first.max() <= 1.0


def test_the_registry_names_the_known_styles_when_asked_for_an_unknown_one():
    assert {'none', 'listing_hdr', 'bright_airy', 'warm_natural'} <= set(STYLES) and style_names() == list(STYLES)
    with pytest.raises(KeyError, match='listing_hdr'):
        style('no_such_style')


def test_none_is_the_identity(photos):
    for photo in photos.values():
        np.testing.assert_array_equal(style('none').apply_style(photo), photo)


def test_listing_hdr_pairs_are_bit_identical_to_the_code_before_the_style_registry():
    photo = real_photo('astronaut')
    src, tar, params = style_listing_hdr.make_pair(photo, np.random.default_rng(0))
    assert hashlib.sha256(src.tobytes() + tar.tobytes()).hexdigest() == LISTING_HDR_ASTRONAUT_PAIR
    params_digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    assert params_digest == LISTING_HDR_ASTRONAUT_PARAMS
    np.testing.assert_array_equal(tar, style_listing_hdr.apply_style(photo))
    np.testing.assert_array_equal(src, photo)


def test_the_house_styles_differ_from_each_other_by_a_clear_margin(photos):
    edits = {name: [style(name).apply_style(photo) for photo in photos.values()] for name in style_names()}
    for first, second in itertools.combinations(style_names(), 2):
        difference = np.mean([np.abs(a - b).mean() for a, b in zip(edits[first], edits[second])])
        assert difference > 0.04, (first, second, difference)  # measured: 0.049 (warm_natural, none) to 0.15


# the calibration: mean over the four photos (half size) of each statistic, within these of the professional edits;
# measured when written: +0.81 EV, +0.33 contrast, gamma 0.654, shadows +0.166, highlights +0.233, clipped 0,
# saturation -0.134
BRIGHT_AIRY_TOLERANCE = {'exposure_ev': 0.15, 'contrast': 0.1, 'midtone_gamma': 0.05, 'shadows': 0.05,
                         'highlights': 0.05, 'clipped_fraction': 0.001, 'saturation': 0.03}


def test_bright_airy_matches_the_statistics_of_professional_edits_on_real_photos(photos):
    measured = mean_statistics([edit_statistics(photo, style('bright_airy').apply_style(photo))
                                for photo in photos.values()])
    assert set(BRIGHT_AIRY_TOLERANCE) == set(PROFESSIONAL_EDITS)
    for key, tolerance in BRIGHT_AIRY_TOLERANCE.items():
        assert abs(measured[key] - PROFESSIONAL_EDITS[key]) <= tolerance, (key, measured[key])


def window_room(window_side):
    """A mid-grey room (textured) with a bright square window of ``window_side`` px in the middle."""
    rng = np.random.default_rng(0)
    room = np.clip(0.4 + rng.normal(0, 0.02, (128, 128, 1)), 0, 1).repeat(3, axis=2).astype(np.float32)
    top = 64 - window_side // 2
    room[top:top + window_side, top:top + window_side] = 0.93
    return room


def test_bright_airy_pulls_back_a_large_window_but_not_a_small_highlight_of_the_same_value():
    edit = style('bright_airy').apply_style
    window, highlight = edit(window_room(48))[64, 64], edit(window_room(2))[64, 64]
    assert window.mean() < highlight.mean() - 0.02  # local: the mask covers a region, not a pixel value
    assert edit(window_room(48))[64, 64, 2] > edit(window_room(48))[64, 64, 0]  # cooler whites


def test_warm_natural_is_warm_and_global_a_colour_comes_out_the_same_wherever_it_is():
    edit = style('warm_natural').apply_style
    grey = np.full((32, 32, 3), 0.5, np.float32)
    out = edit(grey)
    assert out[..., 0].mean() > out[..., 1].mean() > out[..., 2].mean()  # warm: red up, blue down
    dark_room, bright_room = np.full((64, 64, 3), 0.1, np.float32), np.full((64, 64, 3), 0.9, np.float32)
    dark_room[30:34, 30:34] = bright_room[30:34, 30:34] = (0.5, 0.4, 0.3)
    np.testing.assert_allclose(edit(dark_room)[32, 32], edit(bright_room)[32, 32], atol=1e-6)
    bright = style('bright_airy').apply_style
    assert np.abs(bright(dark_room)[32, 32] - bright(bright_room)[32, 32]).max() > 0.01  # the local style is not
