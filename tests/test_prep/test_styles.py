"""The house styles: each a fixed, deterministic edit that keeps the photo's shape and range, the styles visibly
different from each other, and listing_hdr's pairs unchanged by the refactor that made it a style."""
import hashlib
import json

import numpy as np
import pytest
import skimage.data

from realestate_sr.prep import style_listing_hdr
from realestate_sr.prep.styles import STYLES, style, style_names

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
    assert {'none', 'listing_hdr'} <= set(STYLES) and style_names() == list(STYLES)
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
