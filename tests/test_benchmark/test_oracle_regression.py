"""The oracle rows' numbers, pinned: a known 3D LUT is recovered, and both oracles score what they scored on a
tiny synthetic photo when these numbers were recorded (so a faster fit cannot quietly move the ceilings)."""
import numpy as np
from scipy.ndimage import map_coordinates

from realestate_sr.benchmark.local_oracle import oracle_local
from realestate_sr.benchmark.oracle import LUT_SIZE, oracle_lut

# recorded with the fits of main 73bd5f5 (lstsq by SVD, einsum lookup) on synthetic_photo / edited_target
PINNED_PSNR = {'oracle_lut': 43.2863, 'oracle_local': 45.8253}
PINNED_TOLERANCE_DB = 0.005


def synthetic_photo(height=48, width=64, seed=0):
    """Smooth colour gradients, a bright window and some grain: float32 RGB in [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / np.array([height - 1, width - 1])[:, None, None]
    rgb = np.stack([0.2 + 0.6 * x, 0.3 + 0.5 * y * (1 - x), 0.5 - 0.4 * x * y], axis=-1)
    rgb[8:20, 40:56] = [0.95, 0.93, 0.9]
    return np.clip(rgb + rng.normal(0, 0.04, rgb.shape), 0, 1).astype(np.float32)


def edited_target(photo):
    """A colour curve no LUT of 17 nodes holds exactly, plus a light fall-off across the frame (local)."""
    curve = np.sqrt(photo) * np.array([1.0, 0.95, 0.85]) + 0.05 * np.sin(9 * photo[..., [1, 2, 0]])
    fall_off = np.linspace(1.0, 0.8, photo.shape[1])[None, :, None]
    return np.clip(curve * fall_off, 0, 1).astype(np.float32)


def psnr(output, target):
    return float(10 * np.log10(1.0 / np.mean((output.astype(np.float64) - target) ** 2)))


def lookup_by_map_coordinates(lut, photo):
    """A size^3 x 3 LUT (r slowest) applied by SciPy's trilinear interpolation: a lookup written apart from
    the oracle's own."""
    size = round(lut.shape[0] ** (1 / 3))
    nodes = lut.reshape(size, size, size, 3)
    coords = (photo.reshape(-1, 3).T * (size - 1)).astype(np.float64)
    return np.stack([map_coordinates(nodes[..., c], coords, order=1, mode='nearest') for c in range(3)],
                    axis=1).reshape(photo.shape)


def test_a_known_lut_applied_to_a_photo_is_recovered():
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, LUT_SIZE)] * 3, indexing='ij'), axis=-1).reshape(-1, 3)
    lut = np.stack([grid[:, 0] ** 0.6, 0.5 * grid[:, 1] + 0.3 * grid[:, 0] * grid[:, 2],
                    1 - np.cos(grid[:, 2] * 1.5)], axis=1)  # a map a second-order polynomial cannot hold
    photo = synthetic_photo()
    target = lookup_by_map_coordinates(lut, photo)
    assert psnr(oracle_lut(photo, target.astype(np.float32)), target) > 45.0


def test_both_oracles_score_the_recorded_numbers_on_a_synthetic_photo():
    photo = synthetic_photo()
    target = edited_target(photo)
    scores = {'oracle_lut': psnr(oracle_lut(photo, target), target),
              'oracle_local': psnr(oracle_local(photo, target), target)}
    for name, value in scores.items():
        assert abs(value - PINNED_PSNR[name]) < PINNED_TOLERANCE_DB, (name, value)
    assert scores['oracle_local'] > scores['oracle_lut'] > psnr(photo, target)  # the fall-off is local
