"""The one sRGB curve, luma and float -> uint8 conversion every layer uses."""
import numpy as np
import pytest

from realestate_sr.utils.colour import LUMA_601, LUMA_709, linear_to_srgb, luma, srgb_to_linear, to_bgr_uint8, to_uint8


def test_srgb_curve_matches_the_standard_and_round_trips():
    # IEC 61966-2-1: mid-grey 0.5 encodes 0.21404 linear; the toe is linear below 0.04045
    assert float(srgb_to_linear(np.float64(0.5))) == pytest.approx(0.214041, abs=1e-6)
    assert float(srgb_to_linear(np.float64(0.04))) == pytest.approx(0.04 / 12.92)
    levels = np.linspace(0.0, 1.0, 257)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(levels)), levels, atol=1e-12)
    assert srgb_to_linear(np.float32([0.2, 0.7])).dtype == np.float32
    np.testing.assert_array_equal(srgb_to_linear(np.array([-0.5, 1.5])), [0.0, 1.0])


def test_luma_weights_sum_to_one_and_pick_the_standard():
    rgb = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0]], np.float32)
    np.testing.assert_allclose(luma(rgb), [0.2126, 0.7152, 1.0], rtol=1e-6)
    np.testing.assert_allclose(luma(rgb, LUMA_601), [0.299, 0.587, 1.0], rtol=1e-6)
    assert luma(rgb).dtype == np.float32 and sum(LUMA_709) == pytest.approx(1.0)


def test_to_uint8_rounds_to_nearest_and_clips():
    values = np.array([-0.1, 0.0, 0.2 / 255, 0.7 / 255, 0.5, 1.0, 1.2])
    np.testing.assert_array_equal(to_uint8(values), [0, 0, 0, 1, 128, 255, 255])
    rgb = np.zeros((1, 1, 3)) + [1.0, 0.5, 0.0]
    assert to_bgr_uint8(rgb).tolist() == [[[0, 128, 255]]] and to_bgr_uint8(rgb).flags.c_contiguous
