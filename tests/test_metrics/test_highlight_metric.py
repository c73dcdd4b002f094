"""calculate_highlight_l1 / calculate_highlight_shift: error inside the target's highlights only."""
import math

import numpy as np
import pytest

from realestate_sr.metrics.highlight_metric import calculate_highlight_l1, calculate_highlight_shift
from realestate_sr.metrics.l1_metric import calculate_l1

from basicsr.metrics import calculate_metric


def room_with_window():
    """uint8 BGR 20x30: a dim wall with a blown window in the left third."""
    target = np.full((20, 30, 3), 80, np.uint8)
    target[:, :10] = (235, 240, 245)  # BGR of a near-white window
    return target


def test_a_dimmer_window_is_a_negative_shift_and_an_error_in_the_window_only():
    target = room_with_window()
    output = target.copy()
    output[:, :10] -= 10
    assert calculate_highlight_l1(output, target) == pytest.approx(10 / 255)
    assert calculate_highlight_shift(output, target) == pytest.approx(-10 / 255)
    assert calculate_l1(output, target) == pytest.approx(10 / 255 / 3)  # the whole-photo L1 dilutes it


def test_errors_outside_the_highlights_do_not_count():
    target = room_with_window()
    output = target.copy()
    output[:, 10:] += 40
    assert calculate_highlight_l1(output, target) == 0 and calculate_highlight_shift(output, target) == 0
    assert calculate_l1(output, target) > 0.1


def test_channels_are_read_as_bgr():
    target = room_with_window()
    output = target.copy().astype(np.int16)
    output[:, :10, 0] += 10  # blue, in OpenCV's order
    output = output.clip(0, 255).astype(np.uint8)
    shift = calculate_highlight_shift(output, target)
    assert shift == pytest.approx(0.0722 * 10 / 255, rel=1e-6)  # BT.709 weight of blue, not of red (0.2126)


def test_no_highlights_is_nan():
    target = np.full((8, 8, 3), 60, np.uint8)
    assert math.isnan(calculate_highlight_l1(target, target)) and math.isnan(calculate_highlight_shift(target, target))


def test_through_basicsrs_metric_call_with_its_options():
    target = room_with_window()
    output = target.copy()
    output[:, :10] -= 5
    opt = {'type': 'calculate_highlight_l1', 'crop_border': 2, 'better': 'lower', 'luma_low': 0.5, 'luma_high': 0.9}
    assert calculate_metric({'img': output, 'img2': target}, opt) == pytest.approx(5 / 255)
