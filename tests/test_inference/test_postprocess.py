"""Colour post-processing: Lab conversion, histogram matching, chroma gains, references on disk, defaults off."""
import json

import numpy as np
import pytest
from skimage.color import rgb2lab

from realestate_sr.inference.postprocess import (
    LabReference,
    PostProcessError,
    PostProcessSettings,
    adjust_chroma,
    channel_quantiles,
    lab_to_rgb,
    match_lab_histogram,
    rgb_to_lab,
)


def photo(seed=0, size=(32, 32)):
    """A smooth, photo-like RGB float32 image with a flat (wall-like) patch."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size[0], 0:size[1]] / max(size)
    base = np.stack([0.3 + 0.4 * x, 0.25 + 0.5 * y * x, 0.2 + 0.3 * (1 - y)], axis=-1)
    rgb = base + rng.normal(0, 0.02, base.shape)
    rgb[:8, :8] = (0.5, 0.45, 0.4)
    return np.clip(rgb, 0, 1).astype(np.float32)


def test_lab_conversion_agrees_with_an_independent_one_and_round_trips():
    rgb = photo()
    lab = rgb_to_lab(rgb)
    assert np.abs(lab - rgb2lab(rgb.astype(np.float64))).max() < 0.5  # scikit-image's sRGB D65 CIELAB
    assert np.abs(lab_to_rgb(lab) - rgb).max() < 2e-3


def test_defaults_do_nothing():
    settings = PostProcessSettings()
    rgb = photo()
    assert not settings.enabled and settings.apply(rgb) is rgb
    assert not PostProcessSettings(reference=LabReference.from_photo(rgb), strength=0).enabled


def test_matching_gives_the_reference_histograms_and_strength_blends():
    rgb = photo(0)
    styled = np.clip(photo(1) * np.array([1.15, 1.05, 0.85], np.float32) + 0.05, 0, 1)  # warmer, brighter
    reference = LabReference.from_photo(styled)
    matched = match_lab_histogram(rgb, reference)
    got = channel_quantiles(rgb_to_lab(matched))[:, 8:-8]  # away from the extreme quantiles
    assert np.abs(got - reference.quantiles[:, 8:-8]).max() < 1.5  # Lab units, after the round trip to sRGB
    before = channel_quantiles(rgb_to_lab(rgb))[:, 8:-8]
    assert np.abs(before - reference.quantiles[:, 8:-8]).max() > 5  # it had something to move
    half = rgb_to_lab(match_lab_histogram(rgb, reference, strength=0.5))[..., 0].mean()
    ends = rgb_to_lab(rgb)[..., 0].mean(), rgb_to_lab(matched)[..., 0].mean()
    assert half == pytest.approx(sum(ends) / 2, abs=0.3)


def test_matching_a_photo_to_itself_changes_little():
    rgb = photo(2)
    assert np.abs(match_lab_histogram(rgb, LabReference.from_photo(rgb)) - rgb).max() < 0.02


def test_a_set_reference_is_the_mean_quantile_function_and_survives_a_save(tmp_path):
    photos = [photo(3), photo(4, size=(20, 40))]
    reference = LabReference.from_photos(iter(photos))
    expected = (LabReference.from_photo(photos[0]).quantiles + LabReference.from_photo(photos[1]).quantiles) / 2
    np.testing.assert_allclose(reference.quantiles, expected)
    assert reference.photos == 2
    path = reference.save(tmp_path / 'style.json')
    assert [p.name for p in tmp_path.iterdir()] == ['style.json']  # no temporary file left
    loaded = LabReference.load(path)
    np.testing.assert_allclose(loaded.quantiles, reference.quantiles, atol=1e-4)
    (tmp_path / 'other.json').write_text(json.dumps({'kind': 'something else'}))
    with pytest.raises(PostProcessError, match='is not a Lab reference'):
        LabReference.load(tmp_path / 'other.json')
    with pytest.raises(PostProcessError, match='cannot read the Lab reference'):
        LabReference.load(tmp_path / 'missing.json')


def chroma(rgb):
    lab = rgb_to_lab(rgb)
    return np.hypot(lab[..., 1], lab[..., 2]), lab[..., 0]


def test_saturation_scales_chroma_and_keeps_lightness_and_grey():
    rgb = np.full((4, 4, 3), 0.5, np.float32)
    rgb[:2] = (0.55, 0.45, 0.40)  # a muted, in-gamut colour
    out = adjust_chroma(rgb, saturation=0.2)
    (c_in, l_in), (c_out, l_out) = chroma(rgb), chroma(out)
    np.testing.assert_allclose(c_out[:2], 1.2 * c_in[:2], rtol=0.02)
    assert np.abs(l_out - l_in).max() < 0.3 and c_out[2:].max() < 0.5


def test_vibrance_lifts_muted_colours_more_than_vivid_ones():
    rgb = np.zeros((1, 2, 3), np.float32)
    rgb[0, 0] = (0.55, 0.45, 0.40)   # muted
    rgb[0, 1] = (0.60, 0.25, 0.20)   # vivid
    c_in, _ = chroma(rgb)
    c_out, _ = chroma(adjust_chroma(rgb, vibrance=0.3))
    gain = c_out / c_in
    assert gain[0, 0] > gain[0, 1] > 1.0
    assert gain[0, 0] == pytest.approx(1 + 0.3 * (1 - c_in[0, 0] / 100), rel=0.02)


@pytest.mark.parametrize('call, message', [
    (lambda rgb, ref: match_lab_histogram(rgb, ref, strength=1.5), 'strength must be in'),
    (lambda rgb, ref: adjust_chroma(rgb, saturation=-1), 'saturation must be above -1'),
    (lambda rgb, ref: match_lab_histogram(rgb[..., :2], ref), 'expected an RGB photo'),
    (lambda rgb, ref: LabReference(np.zeros((2, 5))), 'needs 3 rows'),
    (lambda rgb, ref: LabReference.from_photos([]), 'at least one photo'),
])
def test_bad_settings_are_one_clear_error(call, message):
    rgb = photo()
    with pytest.raises(PostProcessError, match=message):
        call(rgb, LabReference.from_photo(rgb))


def test_apply_runs_matching_then_chroma_and_clips():
    rgb = photo(5)
    reference = LabReference.from_photo(np.clip(photo(6) * 1.3, 0, 1))
    settings = PostProcessSettings(reference=reference, strength=0.8, saturation=0.1, vibrance=0.2)
    expected = adjust_chroma(match_lab_histogram(rgb, reference, 0.8), 0.1, 0.2)
    out = settings.apply(rgb)
    assert settings.enabled and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    np.testing.assert_allclose(out, expected)
    assert np.array_equal(rgb, photo(5))  # the input is not modified


def test_a_reference_save_that_fails_leaves_no_temporary_file(tmp_path):
    # the renaming fails (a folder holds the name): the half-done save must not leave its temporary beside it
    target = tmp_path / 'style.json'
    target.mkdir()
    with pytest.raises(OSError):
        LabReference(np.tile(np.linspace(0.0, 1.0, 5), (3, 1))).save(target)
    assert [path.name for path in tmp_path.iterdir()] == ['style.json'] and target.is_dir()
