"""photo_statistics: the editor's facts about a photo, against numpy references on small known photos."""
import numpy as np
import pytest
import torch

from realestate_sr.archs.photo_statistics import (
    CHROMA_FLOOR,
    HISTOGRAM_BINS,
    LUMA_FLOOR,
    LUMA_STOPS,
    PERCENTILES,
    STATISTICS_SIZE,
    StatisticsFiLM,
    photo_statistics,
)
from realestate_sr.utils.colour import LUMA_709, linear_to_srgb, srgb_to_linear

P = len(PERCENTILES)
GREY_WORLD, GREY_EDGE, HIGH, LOW, HISTOGRAM = (slice(P, P + 2), slice(P + 2, P + 4), slice(P + 4, P + 7),
                                               slice(P + 7, P + 10), slice(P + 10, STATISTICS_SIZE))


def numpy_statistics(photo):
    """Reference for one H,W,3 sRGB photo, float64, written from the definitions."""
    linear = srgb_to_linear(photo.astype(np.float64))
    log_luma = np.log2(linear @ np.array(LUMA_709) + LUMA_FLOOR).ravel()
    percentiles = np.percentile(log_luma, [100 * p for p in PERCENTILES], method='linear')

    def ratios(values):
        values = values + CHROMA_FLOOR
        return np.log([values[0] / values[1], values[2] / values[1]])

    edges = (np.abs(np.diff(linear, axis=1)).mean(axis=(0, 1)) + np.abs(np.diff(linear, axis=0)).mean(axis=(0, 1)))
    centres = np.linspace(-LUMA_STOPS, 0, HISTOGRAM_BINS)
    histogram = [np.interp(log_luma, centres, np.eye(HISTOGRAM_BINS)[k]).mean() for k in range(HISTOGRAM_BINS)]
    pixels = photo.reshape(-1, 3)
    return np.concatenate([percentiles, ratios(linear.reshape(-1, 3).mean(axis=0)), ratios(edges),
                           (pixels > 0.98).mean(axis=0), (pixels < 0.02).mean(axis=0), histogram])


def statistics_of(*photos):
    """photo_statistics of H,W,3 numpy photos, as one batch: N,STATISTICS_SIZE numpy."""
    batch = torch.from_numpy(np.stack(photos)).permute(0, 3, 1, 2).float()
    return photo_statistics(batch).numpy()


def test_random_photos_match_the_numpy_reference_and_photos_of_a_batch_do_not_mix():
    rng = np.random.default_rng(0)
    photos = [rng.random((12, 17, 3)).astype(np.float32) ** (k + 1) for k in range(3)]
    batch = statistics_of(*photos)
    assert batch.shape == (3, STATISTICS_SIZE) and batch.dtype == np.float32
    for photo, row in zip(photos, batch):
        np.testing.assert_allclose(row, numpy_statistics(photo), atol=2e-5, rtol=0)
        np.testing.assert_array_equal(statistics_of(photo)[0], row)


def test_a_constant_grey_photo_has_equal_percentiles_neutral_white_and_one_histogram_bin_pair():
    stats = statistics_of(np.full((9, 11, 3), 0.5, dtype=np.float32))[0]
    stops = np.log2(srgb_to_linear(0.5) + LUMA_FLOOR)
    np.testing.assert_allclose(stats[:P], np.full(P, stops), atol=1e-6)
    np.testing.assert_array_equal(stats[GREY_WORLD], 0)
    np.testing.assert_array_equal(stats[GREY_EDGE], 0)
    np.testing.assert_array_equal(stats[HIGH], 0)
    np.testing.assert_array_equal(stats[LOW], 0)
    histogram = stats[HISTOGRAM]
    assert np.count_nonzero(histogram) == 2 and histogram.sum() == pytest.approx(1, abs=1e-6)
    position = (stops + LUMA_STOPS) / LUMA_STOPS * (HISTOGRAM_BINS - 1)  # between two bin centres
    assert histogram[int(position) + 1] == pytest.approx(position - int(position), abs=1e-5)


def test_half_blown_and_half_crushed_photos_count_their_clipped_fractions_per_channel():
    photo = np.full((8, 10, 3), 0.5, dtype=np.float32)
    photo[:, :5] = 1.0
    photo[:4, 5:, 2] = 0.0  # a quarter of the blue channel crushed
    stats = statistics_of(photo)[0]
    np.testing.assert_array_equal(stats[HIGH], [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(stats[LOW], [0, 0, 0.25])
    assert stats[P - 1] == pytest.approx(0, abs=1e-3)  # the 99th percentile is white: 0 stops


def test_grey_world_sees_a_red_wall_and_grey_edge_sees_the_grey_light_on_it():
    """A red wall lit by neutral light with grey shading: the average is red, the edges are neutral."""
    shading = np.tile(np.linspace(0.0, 0.4, 16, dtype=np.float32), (10, 1))[..., None]
    linear = np.array([0.5, 0.2, 0.2], dtype=np.float32) + shading
    stats = statistics_of(linear_to_srgb(linear))[0]
    np.testing.assert_allclose(stats[GREY_WORLD], np.log((linear.mean(axis=(0, 1)) + CHROMA_FLOOR)[[0, 2]]
                                                          / (linear[..., 1].mean() + CHROMA_FLOOR)), atol=1e-5)
    assert stats[GREY_WORLD][0] > 0.3
    np.testing.assert_allclose(stats[GREY_EDGE], 0, atol=1e-4)


def test_a_black_photo_sits_at_the_floor_without_nan():
    stats = statistics_of(np.zeros((6, 6, 3), dtype=np.float32))[0]
    assert np.isfinite(stats).all()
    np.testing.assert_allclose(stats[:P], -LUMA_STOPS, atol=1e-6)
    assert stats[HISTOGRAM][0] == 1


def test_percentiles_equal_torch_quantile_and_the_statistics_run_on_the_meta_device():
    thumb = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    log_luma = torch.log2((srgb_to_linear(thumb) * torch.tensor(LUMA_709).view(1, 3, 1, 1)).sum(1) + LUMA_FLOOR)
    expected = torch.quantile(log_luma.flatten(1), torch.tensor(PERCENTILES), dim=1).T
    torch.testing.assert_close(photo_statistics(thumb)[:, :P], expected, atol=1e-5, rtol=0)
    assert photo_statistics(torch.empty(2, 3, 16, 16, device='meta')).shape == (2, STATISTICS_SIZE)


def test_the_film_starts_as_the_identity_and_then_scales_and_shifts_per_channel():
    torch.manual_seed(0)
    film = StatisticsFiLM(channels=4)
    thumb = torch.rand(2, 3, 16, 16)
    features, pooled = torch.randn(2, 4, 5, 5), torch.randn(2, 4)
    same = film(thumb, features, pooled)
    assert torch.equal(same[0], features) and torch.equal(same[1], pooled)
    with torch.no_grad():
        film.mlp[2].bias.copy_(torch.tensor([1.0, 0, 0, 0, 0, 0, 0, 0.5]))  # scale channel 0 by 2, shift 3 by 0.5
    modulated, modulated_pooled = film(thumb, features, pooled)
    torch.testing.assert_close(modulated[:, 0], 2 * features[:, 0])
    torch.testing.assert_close(modulated[:, 3], features[:, 3] + 0.5)
    torch.testing.assert_close(modulated_pooled, pooled * torch.tensor([2.0, 1, 1, 1]) + torch.tensor([0, 0, 0, 0.5]))
