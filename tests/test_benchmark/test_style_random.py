"""Procedural house styles: seeded, deterministic, in range, each control doing what it says, and wide enough that
the benchmark's own styles fall inside the spread of 200 random houses."""
import dataclasses

import numpy as np
import pytest
import skimage.data

from realestate_sr.benchmark.edit_statistics import edit_statistics
from realestate_sr.benchmark.style_random import RANGES, HouseParams, apply_house, random_house, random_houses
from realestate_sr.benchmark.styles import style, style_names
from realestate_sr.utils.colour import luma, srgb_to_linear

COVERED = ('exposure_ev', 'saturation', 'contrast', 'midtone_gamma', 'shadows', 'highlights')


def small_photo(name):
    return (getattr(skimage.data, name)()[::4, ::4].astype(np.float32) / 255.0).copy()


def neutral_house(**changes):
    """The house that changes nothing but ``changes`` (the identity of every control)."""
    identity = dict(temperature=0.0, tint=0.0, exposure_ev=0.0, window_pull_ev=0.0, shadow_lift_ev=0.0,
                    local_contrast=0.0, midtone_gamma=1.0, contrast=0.0, black_lift=0.0, saturation=1.0, vibrance=0.0,
                    sharpen=0.0, shoulder_start=1.0)
    return HouseParams(**{**identity, **changes})


def test_houses_are_seeded_draws_inside_their_ranges():
    first, again = random_houses(50, seed=3), random_houses(50, seed=3)
    assert first == again and random_houses(10, seed=3) == first[:10]
    assert random_houses(5, seed=4) != first[:5]
    for house in first:
        for name, value in house.as_dict().items():
            low, high = RANGES[name]
            assert low <= value <= high
    assert set(RANGES) == {field.name for field in dataclasses.fields(HouseParams)}
    assert isinstance(random_house(np.random.default_rng(0)), HouseParams)


def test_an_edit_is_deterministic_float32_in_range_and_keeps_the_photo():
    photo = small_photo('coffee')
    before = photo.copy()
    for house in random_houses(5):
        out = apply_house(photo, house)
        np.testing.assert_array_equal(out, apply_house(photo, house))
        assert out.dtype == np.float32 and out.shape == photo.shape and 0.0 <= out.min() and out.max() <= 1.0
    np.testing.assert_array_equal(photo, before)
    with pytest.raises(ValueError, match='H,W,3'):
        apply_house(photo[..., 0], random_houses(1)[0])


def test_the_neutral_house_is_the_identity_and_each_control_moves_the_photo_its_way():
    photo = small_photo('astronaut')
    np.testing.assert_allclose(apply_house(photo, neutral_house()), photo, atol=2e-4)
    mean_luma = lambda img: luma(srgb_to_linear(img)).mean()  # noqa: E731
    assert mean_luma(apply_house(photo, neutral_house(exposure_ev=1.0))) > 1.5 * mean_luma(photo)
    warm = apply_house(photo, neutral_house(temperature=0.2))
    assert warm[..., 0].mean() > photo[..., 0].mean() and warm[..., 2].mean() < photo[..., 2].mean()
    grey = lambda img: np.abs(img - img.mean(axis=2, keepdims=True)).mean()  # noqa: E731
    assert grey(apply_house(photo, neutral_house(saturation=0.6))) < 0.8 * grey(photo)
    dark = photo.mean(axis=2) < np.percentile(photo.mean(axis=2), 20)
    lifted = apply_house(photo, neutral_house(shadow_lift_ev=1.0))
    assert lifted.mean(axis=2)[dark].mean() > 1.25 * photo.mean(axis=2)[dark].mean()
    assert apply_house(photo, neutral_house(black_lift=0.08)).min() > 0.05


def test_the_benchmark_styles_fall_inside_the_spread_of_200_random_houses():
    houses = random_houses(200)
    for name in ('astronaut', 'coffee'):
        photo = small_photo(name)
        spread = [edit_statistics(photo, apply_house(photo, house)) for house in houses]
        for statistic in COVERED:
            values = np.array([entry[statistic] for entry in spread])
            low, high = np.nanmin(values), np.nanmax(values)
            for style_name in style_names():
                found = edit_statistics(photo, style(style_name).apply_style(photo))[statistic]
                assert low <= found <= high, (f'{style_name} {statistic} on {name}: {found:.3f} '
                                              f'not in {low:.3f}..{high:.3f}')
