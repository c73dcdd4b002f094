"""How far tar is displaced from src: shift, rotation and scale, measured on image structure, region by region.

A before/after pair differs in brightness, colour, contrast, noise and local tone (shadow recovery, window pulls), so
raw intensities do not correlate reliably. What the edit keeps is where the edges are and which way they run. Each
image becomes a *structure field*: the doubled-angle gradient orientation ``(gx + i gy)^2 / (|g|^2 + floor^2)``.
It is unchanged by any monotone tone curve and by a contrast inversion (a window pulled from white to blue), and
near zero in flat, noisy areas (skies, walls), whose noise then cannot produce a match.

The fields are matched by phase correlation (whitened cross-power spectrum, gently low-passed) on a 3 x 3 grid of
windows; the height of the correlation peak (1 for identical structure, about 0.01 for unrelated windows) is the
window's confidence. Coarse to fine: a whole-image match at 256 px, the grid at ``coarse_size`` with tar warped by
that shift, then the grid again at ``fine_size`` with tar warped by the coarse fit, so the last measurement is a
small residual. A similarity (shift, rotation, scale) is fitted by weighted least squares to the confident windows,
dropping windows that disagree with the others (a local retouch, a moved object); the spread of the windows around
the fit gives the uncertainty of each parameter. All positions are in full-resolution pixels.
"""
import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import scipy.fft

GRID = 3
MIN_WINDOW = 16  # px; smaller regions hold too few pixels for a peak to mean anything
PEAK_SIGMA = 1.0  # px, width of the low-pass on the cross-power spectrum: a smooth peak for sub-pixel fitting


@dataclass(frozen=True)
class AlignmentSettings:
    coarse_size: int = 768
    fine_size: int = 1600
    window: int = 512              # largest window side at the fine level
    min_confidence: float = 0.06   # correlation peak height of a usable window
    min_regions: int = 3           # usable windows needed for a fit
    min_texture: float = 0.02      # fraction of a window's pixels on visible edges to count as textured
    measurement_floor_px: float = 0.05  # smallest per-window uncertainty assumed (full-resolution px)


@dataclass
class Alignment:
    """``status``: ``measured`` (fit found), ``no_match`` (textured photos whose structure matches at no shift:
    different pictures or orientations) or ``unmeasurable`` (too little structure to tell)."""
    status: str
    reason: str = ''
    shift_px: float = float('nan')
    shift_sigma_px: float = float('nan')
    rotation_deg: float = float('nan')
    rotation_sigma_deg: float = float('nan')
    scale: float = float('nan')
    scale_sigma: float = float('nan')
    turn_px: float = float('nan')     # displacement rotation and scale alone cause at the image corners
    turn_sigma_px: float = float('nan')
    corner_px: float = float('nan')   # largest displacement the whole fit predicts at the image corners
    residual_px: float = float('nan')  # RMS distance of the used windows from the fit
    regions_used: int = 0
    regions_textured: int = 0
    regions: list = field(default_factory=list)  # per window: centre, displacement, confidence, texture, used

    def measures(self):
        keys = ('shift_px', 'shift_sigma_px', 'rotation_deg', 'rotation_sigma_deg', 'scale', 'scale_sigma',
                'turn_px', 'turn_sigma_px', 'corner_px', 'residual_px')
        out = {'alignment_status': self.status, 'regions_used': self.regions_used,
               'regions_textured': self.regions_textured}
        for key in keys:
            value = getattr(self, key)
            out[key] = None if not math.isfinite(value) else round(value, 6 if key.startswith('scale') else 4)
        out['regions'] = self.regions
        return out


def gray_float(img_bgr):
    """Rec. 601 luminance in [0, 1], float32 (OpenCV's grey conversion, done on uint8 for speed)."""
    gray = cv2.cvtColor(img_bgr, cv2.COLOR_BGR2GRAY) if img_bgr.ndim == 3 else img_bgr
    return gray.astype(np.float32) / (255.0 if gray.dtype == np.uint8 else 1.0)


def pyramid(img, sizes):
    """Grey float32 images in [0, 1] at each long side of ``sizes`` (see :func:`resize_long`), the colour to grey
    conversion done once at full size."""
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    return {size: gray_float(resize_long(gray, size)) for size in set(sizes)}


def resize_long(img, long_side):
    """``img`` shrunk by the largest integer factor that keeps its long side at least ``long_side`` (area average;
    integer factors take OpenCV's fast path, 3300 px photos shrink in milliseconds instead of 0.1 s)."""
    factor = int(max(img.shape[:2]) // long_side)
    if factor <= 1:
        return img
    return cv2.resize(img, None, fx=1.0 / factor, fy=1.0 / factor, interpolation=cv2.INTER_AREA)


def gradient_floor(gray):
    """Edge strength below which a gradient counts as noise: a multiple of the flat areas' gradient (20th
    percentile of |g| over the image), never under a quarter of an 8-bit level per pixel."""
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.sqrt(gx[::3, ::3] ** 2 + gy[::3, ::3] ** 2)  # a subsample is plenty for a percentile
    return max(3.0 * float(np.percentile(magnitude, 20)), 1.0 / 255.0)


def structure_field(gray, floor):
    """Doubled-angle orientation weighted by edge strength (see the module docstring); complex64."""
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    square = (gx * gx - gy * gy) + 1j * (2 * gx * gy)
    weight = 1.0 / (gx * gx + gy * gy + floor * floor)
    return (square * weight).astype(np.complex64)


EDGE_STRENGTH = 0.15  # Sobel magnitude of a visible edge (a step of ~0.05 in Y); noise of sigma 0.01 gives ~0.035


def texture_fraction(gray_window, floor):
    """Fraction of pixels on visible edges: Sobel magnitude above EDGE_STRENGTH and twice the noise floor. A smooth
    gradient or grain alone has none, so such a window cannot make a pair count as two different pictures."""
    gx = cv2.Sobel(gray_window, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray_window, cv2.CV_32F, 0, 1, ksize=3)
    return float((np.sqrt(gx * gx + gy * gy) > max(EDGE_STRENGTH, 2 * floor)).mean())


_WINDOW_CACHE = {}


def _taper(height, width):
    key = (height, width)
    if key not in _WINDOW_CACHE:
        _WINDOW_CACHE[key] = cv2.createHanningWindow((width, height), cv2.CV_32F)
        fy = np.fft.fftfreq(height)[:, None]
        fx = np.fft.fftfreq(width)[None, :]
        lowpass = np.exp(-2.0 * (math.pi * PEAK_SIGMA) ** 2 * (fx * fx + fy * fy)).astype(np.float32)
        _WINDOW_CACHE[key] = (_WINDOW_CACHE[key], lowpass, float(lowpass.mean()))
        if len(_WINDOW_CACHE) > 64:
            _WINDOW_CACHE.pop(next(iter(_WINDOW_CACHE)))
    return _WINDOW_CACHE[key]


def phase_correlate(a, b):
    """(dy, dx, confidence) with a(u) ~ b(u + d), sub-pixel; confidence = peak height in [0, 1]."""
    height, width = a.shape
    taper, lowpass, lowpass_mean = _taper(height, width)
    cross = scipy.fft.fft2(a * taper) * np.conj(scipy.fft.fft2(b * taper))
    cross /= np.abs(cross) + 1e-12
    surface = scipy.fft.ifft2(cross * lowpass).real / lowpass_mean
    iy, ix = np.unravel_index(int(np.argmax(surface)), surface.shape)
    peak = float(surface[iy, ix])

    def subpixel(minus, centre, plus):
        minus, centre, plus = (math.log(max(v, 1e-6 * max(centre, 1e-9))) for v in (minus, centre, plus))
        denominator = minus - 2 * centre + plus
        return 0.0 if denominator >= 0 else max(-0.5, min(0.5, 0.5 * (minus - plus) / denominator))

    if peak <= 0:
        return 0.0, 0.0, 0.0
    dy = iy + subpixel(surface[iy - 1, ix], peak, surface[(iy + 1) % height, ix])
    dx = ix + subpixel(surface[iy, ix - 1], peak, surface[iy, (ix + 1) % width])
    dy = dy - height if dy > height / 2 else dy
    dx = dx - width if dx > width / 2 else dx
    return -dy, -dx, peak


class Level:
    """One resolution of the pair: grey images, structure floor and the map to full-resolution coordinates."""

    def __init__(self, src_gray, tar_gray, full_shape):
        self.src, self.tar = src_gray, tar_gray
        self.fy = src_gray.shape[0] / full_shape[0]
        self.fx = src_gray.shape[1] / full_shape[1]
        self.src_floor, self.tar_floor = gradient_floor(src_gray), gradient_floor(tar_gray)

    def to_full(self, x, y):
        return (x + 0.5) / self.fx - 0.5, (y + 0.5) / self.fy - 0.5

    def to_level(self, x, y):
        return (x + 0.5) * self.fx - 0.5, (y + 0.5) * self.fy - 0.5

    def match(self, x0, y0, width, height, model):
        """Match the window at (x0, y0) of src with tar resampled through ``model`` (full-res 2x3 src -> tar).

        Returns (src centre, tar centre) in full-resolution px, confidence and the src window's texture."""
        # window pixel (u, v) -> level coords -> full -> model -> full tar -> tar level coords, as one affine map
        to_level = np.array([[self.fx, 0, 0.5 * self.fx - 0.5], [0, self.fy, 0.5 * self.fy - 0.5], [0, 0, 1]])
        to_full = np.linalg.inv(to_level)
        window_to_level = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], dtype=np.float64)
        model3 = np.vstack([model, [0, 0, 1]])
        tar_map = (to_level @ model3 @ to_full @ window_to_level)[:2]
        margin = 1
        src_window = self.src[y0 - margin:y0 + height + margin, x0 - margin:x0 + width + margin] \
            if x0 >= margin and y0 >= margin else None
        if src_window is None or src_window.shape != (height + 2 * margin, width + 2 * margin):
            src_window = cv2.copyMakeBorder(self.src, margin, margin, margin, margin, cv2.BORDER_REFLECT)[
                y0:y0 + height + 2 * margin, x0:x0 + width + 2 * margin]
        shifted = tar_map @ np.array([[1, 0, -margin], [0, 1, -margin], [0, 0, 1]], dtype=np.float64)
        tar_window = cv2.warpAffine(self.tar, shifted.astype(np.float32), (width + 2 * margin, height + 2 * margin),
                                    flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
        src_field = structure_field(src_window, self.src_floor)[margin:-margin, margin:-margin]
        tar_field = structure_field(tar_window, self.tar_floor)[margin:-margin, margin:-margin]
        dy, dx, confidence = phase_correlate(src_field, tar_field)
        cu, cv = (width - 1) / 2, (height - 1) / 2
        tar_level = tar_map @ np.array([cu + dx, cv + dy, 1.0])
        src_full = self.to_full(x0 + cu, y0 + cv)
        tar_full = self.to_full(*tar_level)
        texture = min(texture_fraction(src_window, self.src_floor), texture_fraction(tar_window, self.tar_floor))
        return src_full, tar_full, confidence, texture


def grid_windows(shape, window):
    """GRID x GRID windows, each centred in its cell, at most ``window`` px a side."""
    height, width = shape
    cell_h, cell_w = height // GRID, width // GRID
    win_h, win_w = min(window, cell_h), min(window, cell_w)
    out = []
    for row in range(GRID):
        for col in range(GRID):
            y0 = row * cell_h + (cell_h - win_h) // 2
            x0 = col * cell_w + (cell_w - win_w) // 2
            out.append((x0, y0, win_w, win_h))
    return out


def fit_similarity(src_pts, tar_pts, weights, centre):
    """Weighted least squares tar = [[a, -b], [b, a]] (src - c) + c + t.

    Returns the parameters (a, b, tx, ty), the covariance factor (to multiply by the residual variance) and the
    residuals."""
    p = src_pts - centre
    q = tar_pts - centre
    n = len(p)
    design = np.zeros((2 * n, 4))
    design[0::2] = np.stack([p[:, 0], -p[:, 1], np.ones(n), np.zeros(n)], axis=1)
    design[1::2] = np.stack([p[:, 1], p[:, 0], np.zeros(n), np.ones(n)], axis=1)
    target = q.reshape(-1)
    w = np.repeat(weights / weights.mean(), 2)
    normal = design.T @ (design * w[:, None])
    params = np.linalg.solve(normal, design.T @ (w * target))
    residuals = (target - design @ params).reshape(n, 2)
    return params, np.linalg.inv(normal), residuals


def similarity_matrix(params, centre):
    a, b, tx, ty = params
    linear = np.array([[a, -b], [b, a]])
    return np.hstack([linear, (centre + np.array([tx, ty]) - linear @ centre)[:, None]])


def robust_fit(matches, centre, settings, floor):
    """Fit to the confident windows, dropping the worst while it disagrees clearly with the rest; ``floor`` is the
    smallest per-window uncertainty at this level, in full-resolution px."""
    used = [i for i, m in enumerate(matches) if m[2] >= settings.min_confidence]
    if len(used) < settings.min_regions:
        return None, used
    while True:
        src_pts = np.array([matches[i][0] for i in used])
        tar_pts = np.array([matches[i][1] for i in used])
        weights = np.array([matches[i][2] for i in used])
        params, cov_factor, residuals = fit_similarity(src_pts, tar_pts, weights, centre)
        distance = np.linalg.norm(residuals, axis=1)
        if len(used) <= settings.min_regions:
            break
        robust = max(1.4826 * float(np.median(distance)), floor)
        worst = int(np.argmax(distance))
        if distance[worst] <= max(4.0 * robust, 10 * floor):
            break
        used.pop(worst)
    return (params, cov_factor, residuals, weights), used


def estimate_alignment(src, tar, settings=AlignmentSettings()):
    """Alignment of tar relative to src, two same-size images (uint8 BGR or grey, or float grey in [0, 1]), in
    full-resolution px."""
    full_shape = src.shape[:2]
    height, width = full_shape
    if min(full_shape) < GRID * MIN_WINDOW:
        return Alignment('unmeasurable', f'photo too small to measure its alignment ({width}x{height}; regions '
                         f'need {GRID * MIN_WINDOW} px a side)')
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    model = np.eye(2, 3)
    levels = [settings.coarse_size, settings.fine_size]
    if max(full_shape) <= settings.coarse_size:
        levels = [max(full_shape), max(full_shape)]  # small photos: two passes at full size, the second a residual
    src_levels, tar_levels = pyramid(src, levels + [256]), pyramid(tar, levels + [256])

    # a whole-image match at 256 px first, so the grid windows start within a few pixels
    glob = Level(src_levels[256], tar_levels[256], full_shape)
    g_src, g_tar, g_conf, _ = glob.match(0, 0, glob.src.shape[1], glob.src.shape[0], model)
    if g_conf >= settings.min_confidence:
        model[:, 2] = np.array(g_tar) - np.array(g_src)

    # each level starts from the last fit found; the finest level that fits gives the result (on a smooth or
    # very noisy photo the coarse level may be the only one that matches)
    fit = used = floor = None
    tried = []
    for long_side in levels:
        level = Level(src_levels[long_side], tar_levels[long_side], full_shape)
        level_matches = [level.match(*win, model) for win in grid_windows(level.src.shape, settings.window)]
        level_floor = settings.measurement_floor_px / min(level.fx, level.fy, 1.0)
        level_fit, level_used = robust_fit(level_matches, centre, settings, level_floor)
        tried.append(level_matches)
        if level_fit is not None:
            fit, used, matches, floor = level_fit, level_used, level_matches, level_floor
            model = similarity_matrix(fit[0], centre)
    if fit is None:  # judge by the level that saw the most structure
        matches = max(tried, key=lambda ms: sum(m[3] >= settings.min_texture for m in ms))

    regions = [{'centre': [round(m[0][0], 1), round(m[0][1], 1)],
                'displacement': [round(m[1][0] - m[0][0], 3), round(m[1][1] - m[0][1], 3)],
                'confidence': round(m[2], 3), 'texture': round(m[3], 3), 'used': i in (used or [])}
               for i, m in enumerate(matches)]
    textured = sum(m[3] >= settings.min_texture for m in matches)
    if fit is None:
        confident = sum(m[2] >= settings.min_confidence for m in matches)
        # regions with visible edges in both photos that match at no shift: two different pictures (a texture
        # such as grass can fool the whole-image match, so no region matching at all is enough)
        if textured >= settings.min_regions and (confident == 0 or g_conf < settings.min_confidence):
            return Alignment('no_match', f'{textured} of {GRID * GRID} regions have structure but src and tar match '
                             f'at no shift (best whole-image peak {g_conf:.3f}, {confident} regions match)',
                             regions_textured=textured, regions=regions)
        return Alignment('unmeasurable', f'too little matching structure: {confident} of {GRID * GRID} regions '
                         f'match (need {settings.min_regions}), {textured} textured', regions_textured=textured,
                         regions=regions)

    params, cov_factor, residuals, weights = fit
    n = len(used)
    dof = max(2 * n - 4, 1)
    w = weights / weights.mean()
    sigma2 = float((w * (residuals ** 2).sum(axis=1)).sum()) / dof
    sigma2 = max(sigma2, floor ** 2)
    if n <= 3:  # two degrees of freedom or fewer: their spread is no estimate, assume a pixel per window
        sigma2 = max(sigma2, 1.0)
    cov = sigma2 * cov_factor
    a, b, tx, ty = params
    scale = math.hypot(a, b)
    rotation = math.degrees(math.atan2(b, a))
    shift = math.hypot(tx, ty)
    shift_sigma = math.sqrt(max(cov[2, 2], cov[3, 3]))
    rotation_sigma = math.degrees(math.sqrt(cov[1, 1]))
    scale_sigma = math.sqrt(cov[0, 0])
    matrix = similarity_matrix(params, centre)
    corners = np.array([[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]], dtype=np.float64)
    corner_px = float(np.linalg.norm(corners @ matrix[:, :2].T + matrix[:, 2] - corners, axis=1).max())
    residual = float(np.sqrt((residuals ** 2).sum(axis=1).mean()))
    half_diagonal = math.hypot(width - 1, height - 1) / 2
    turn = half_diagonal * math.hypot(a - 1, b)
    turn_sigma = half_diagonal * math.sqrt(max(cov[0, 0], cov[1, 1]))
    return Alignment('measured', shift_px=shift, shift_sigma_px=shift_sigma, rotation_deg=rotation,
                     rotation_sigma_deg=rotation_sigma, scale=scale, scale_sigma=scale_sigma, turn_px=turn,
                     turn_sigma_px=turn_sigma, corner_px=corner_px,
                     residual_px=residual, regions_used=n, regions_textured=textured, regions=regions)
