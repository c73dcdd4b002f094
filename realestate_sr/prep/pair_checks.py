"""Checks that find bad before/after pairs before they reach training.

Real sets carry pairs that teach the wrong edit: unreadable files, mismatched sizes, EXIF rotations that disagree,
edits cropped, straightened or shifted after the fact (misaligned), the same photo in two splits (leakage), and tone
edits that cannot be a listing edit (no monotone tone curve, brightness far from the other edits, a tar darker than
its src, globally or in the shadows, shadows crushed to black, blur): a listing edit brightens. Each check has its
threshold in :class:`CheckThresholds`; every flag says the measured value and the threshold it crossed.

The photos are decoded as training reads them (``to_srgb=True``: a profiled file converted to sRGB), so the measures
see the pixels the network learns from. Alignment is measured on image structure at up to ``align_size`` px
(``realestate_sr.prep.pair_alignment``), in full-resolution pixels, with an uncertainty; a pair is flagged only when
its misalignment is above the threshold by more than ``confidence_sigmas`` of that uncertainty. Tone measures run on
luminance Y (Rec. 601 weights on sRGB values in [0, 1]) of both photos shrunk to ``work_size``. How the tone
thresholds were chosen is in docs/data.md (pair checks, calibration).

Notes (:data:`NOTES`) are reported but are no defect: different embedded profiles (both are converted to sRGB) and
alignment that could not be measured (too little structure, e.g. a sky or a bare wall); ``--exclude`` keeps such
pairs.

``measure_pair`` works on one pair (run it in worker processes); ``run_checks`` adds the set-level checks
(brightness outliers, duplicates across splits) and returns a :class:`CheckReport`.
"""
import json
import math
import textwrap
from dataclasses import asdict, dataclass, field, fields
from multiprocessing import get_context

import cv2
import numpy as np

from realestate_sr.data.image_io import decode_bgr, exif_orientation, read_bytes
from realestate_sr.prep.pair_alignment import AlignmentSettings, estimate_alignment, resize_long
from realestate_sr.utils.cli_flags import PAIR_CHECK_THRESHOLDS
from realestate_sr.utils.colour import LUMA_601, luma, srgb_to_linear
from realestate_sr.utils.photo_decode import PhotoReadError, colour_space_name, embedded_profile
from realestate_sr.utils.wording import counted

CHECKS = {
    'unreadable': 'file missing or not a decodable image',
    'size_mismatch': 'src and tar differ in size (after EXIF orientation)',
    'exif_orientation': 'EXIF orientation tags differ (both named) and the displayed images are not confirmed to '
                        'line up; listed first, since the tone and blur flags of such a pair follow from it',
    'misaligned': 'shift / rotation / scale between src and tar confidently above threshold, or the same structure '
                  'found at no shift (different photos)',
    'duplicate_across_splits': 'near-duplicate of a photo in another split (leakage)',
    'tone_curve': 'tar is not a monotone tone curve of src (R^2 of the best monotone curve below threshold)',
    'brightness_outlier': 'tar mean brightness far from the other pairs\' (robust z and absolute difference)',
    'darkening_edit': 'tar is darker than src (mean brightness, in linear-light stops): a listing edit brightens',
    'darker_shadows': 'tar darkened the shadows of src (in linear-light stops) or crushed their detail to black',
    'blurry': 'tar much less sharp than src',
}
# informational: reported, never flagged nor excluded
NOTES = {
    'profile_mismatch': 'src and tar embed different ICC colour profiles (none counts as sRGB); both are converted '
                        'to sRGB for training and for these checks',
    'alignment_unmeasurable': 'too little structure to measure the alignment (sky, bare wall, fog) or a measurement '
                              'too uncertain to decide; the pair is kept',
}
SPLIT_ORDER = ('train', 'val', 'test')  # on leakage the pair in the earlier split is flagged (test stays intact)


@dataclass(frozen=True)
class CheckThresholds:
    """What the checks flag; the defaults (and what each means) are ``cli_flags.PAIR_CHECK_THRESHOLDS``."""
    work_size: int = PAIR_CHECK_THRESHOLDS['work_size']
    align_size: int = PAIR_CHECK_THRESHOLDS['align_size']
    max_shift_px: float = PAIR_CHECK_THRESHOLDS['max_shift_px']
    max_turn_px: float = PAIR_CHECK_THRESHOLDS['max_turn_px']
    confidence_sigmas: float = PAIR_CHECK_THRESHOLDS['confidence_sigmas']
    min_region_confidence: float = PAIR_CHECK_THRESHOLDS['min_region_confidence']
    min_tone_r2: float = PAIR_CHECK_THRESHOLDS['min_tone_r2']
    brightness_z: float = PAIR_CHECK_THRESHOLDS['brightness_z']
    min_brightness_difference: float = PAIR_CHECK_THRESHOLDS['min_brightness_difference']
    min_pairs_for_stats: int = PAIR_CHECK_THRESHOLDS['min_pairs_for_stats']
    max_darkening_stops: float = PAIR_CHECK_THRESHOLDS['max_darkening_stops']
    shadow_percentile: float = PAIR_CHECK_THRESHOLDS['shadow_percentile']
    max_shadow_darkening_stops: float = PAIR_CHECK_THRESHOLDS['max_shadow_darkening_stops']
    max_crushed_shadows: float = PAIR_CHECK_THRESHOLDS['max_crushed_shadows']
    min_sharpness_ratio: float = PAIR_CHECK_THRESHOLDS['min_sharpness_ratio']
    dup_max_hamming: int = PAIR_CHECK_THRESHOLDS['dup_max_hamming']

    def alignment_settings(self):
        return AlignmentSettings(fine_size=self.align_size, min_confidence=self.min_region_confidence)


@dataclass
class PairResult:
    name: str
    src: str
    tar: str
    split: str = ''
    flags: dict = field(default_factory=dict)     # check -> human-readable detail with value and threshold
    measures: dict = field(default_factory=dict)  # numbers behind the flags
    notes: dict = field(default_factory=dict)     # NOTES key -> detail; not defects


@dataclass
class CheckReport:
    thresholds: CheckThresholds
    results: list

    @property
    def flagged(self):
        return [r for r in self.results if r.flags]

    def counts(self):
        return {check: sum(check in r.flags for r in self.results) for check in CHECKS}

    def note_counts(self):
        return {note: sum(note in r.notes for r in self.results) for note in NOTES}

    def to_json(self):
        return json.dumps({'thresholds': asdict(self.thresholds), 'checks': CHECKS, 'counts': self.counts(),
                           'notes': NOTES, 'note_counts': self.note_counts(),
                           'pairs': len(self.results), 'flagged': len(self.flagged),
                           'results': [asdict(r) for r in self.results]}, indent=1)

    def find(self, key):
        """The result whose name, src or tar path is ``key`` (or ends with it); KeyError if none or several."""
        exact = [r for r in self.results if key in (r.name, r.src, r.tar)]
        found = exact or [r for r in self.results if any(str(v).endswith(key) for v in (r.name, r.src, r.tar))]
        if len(found) != 1:
            raise KeyError(f'{len(found)} pairs match {key!r}' + (': give the full name' if found else ''))
        return found[0]

    def summary(self, max_listed=50):
        n, bad = len(self.results), len(self.flagged)
        lines = [f'pair checks: {counted(n, "pair")}, {bad} flagged ({100 * bad / max(n, 1):.1f}%)',
                 f'  {"check":<24} {"flagged":>7}  meaning']
        for check, count in self.counts().items():
            lines.append(f'  {check:<24} {count:>7}  {CHECKS[check]}')
        for note, count in self.note_counts().items():
            lines.append(f'  {note:<24} {count:>7}  note only (not flagged, kept by --exclude): {NOTES[note]}')
        if bad:
            lines.append('flagged pairs:')
            for result in self.flagged[:max_listed]:
                split = f' ({result.split})' if result.split else ''
                for check, detail in result.flags.items():
                    lines.append(f'  {result.name}{split}  [{check}] {detail}')
            if bad > max_listed:
                lines.append(f'  ... and {counted(bad - max_listed, "more pair")} in the JSON report')
        noted = [r for r in self.results if r.notes]
        if noted:
            lines.append('notes (pairs kept):')
            for result in noted[:max_listed]:
                lines += [f'  {result.name}  [{note}] {detail}' for note, detail in result.notes.items()]
            if len(noted) > max_listed:
                lines.append(f'  ... and {counted(len(noted) - max_listed, "more pair")} in the JSON report')
        return '\n'.join(lines)


def luminance(img_bgr):
    # BT.601, not the project's BT.709: the thresholds were calibrated on it (docs/data.md)
    return luma(img_bgr[..., ::-1].astype(np.float32) / 255.0, LUMA_601)


def shrink(img, work_size):
    return resize_long(img, work_size)


def difference_hash(gray):
    """64-bit dHash: signs of horizontal gradients on a 9x8 thumbnail; survives tone edits and re-encoding."""
    thumb = cv2.resize(gray, (9, 8), interpolation=cv2.INTER_AREA)
    bits = (thumb[:, 1:] > thumb[:, :-1]).reshape(-1)
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def relative_sharpness(gray, edges):
    """Variance of the Laplacian of Gaussian (sigma 1.5 px) on ``edges`` over the variance of the image: detail per
    unit of contrast where src has edges, so a tone edit that changes global contrast is not read as blur, and
    neither is noise in src (removed by the Gaussian, and flat areas are not counted) that the edit denoised."""
    smooth = cv2.GaussianBlur(gray, (0, 0), 1.5)
    return float(cv2.Laplacian(smooth, cv2.CV_32F)[edges].var()) / max(float(gray.var()), 1e-12)


def edge_mask(gray):
    """Pixels on visible edges of a work-size image (Sobel magnitude of the lightly smoothed image above 0.1)."""
    smooth = cv2.GaussianBlur(gray, (0, 0), 1.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    return np.sqrt(gx * gx + gy * gy) > 0.1


def _increasing_fit(values, weights):
    """Weighted least-squares non-decreasing sequence closest to ``values`` (pool adjacent violators)."""
    blocks = []  # [mean, weight, count]
    for value, weight in zip(values, weights):
        blocks.append([value, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    return np.concatenate([np.full(count, mean) for mean, _, count in blocks])


def monotone_curve_r2(src_y, tar_y, bins=64):
    """R^2 of tar_Y against the best non-decreasing curve of src_Y (binned): 1 for any global tone edit
    (exposure, contrast, black point, gamma), lower for local edits, vignetting and colour-dependent changes."""
    index = np.clip((src_y * bins).astype(np.int64), 0, bins - 1).ravel()
    target = tar_y.ravel().astype(np.float64)
    counts = np.bincount(index, minlength=bins)
    sums = np.bincount(index, target, minlength=bins)
    filled = counts > 0
    curve = np.zeros(bins)
    curve[filled] = _increasing_fit(sums[filled] / counts[filled], counts[filled])
    total = float(((target - target.mean()) ** 2).sum())
    residual = float(((target - curve[index]) ** 2).sum())
    return 1.0 - residual / total if total > 0 else float('nan')


def smooth_luminance(y):
    """Y blurred by 1.5 px: the tone measures compare areas, so that src noise an edit removed is not read as a
    change of brightness, and noise around src's black level is not read as shadow detail."""
    return cv2.GaussianBlur(y, (0, 0), 1.5)


def brightness_change_stops(src_y, tar_y, where=None):
    """log2 of tar's mean brightness over src's in linear light (on the pixels ``where``, default all), the means
    taken on display Y so that noise does not shift them: -1 is one stop darker, +0.9 a typical listing edit."""
    src_mean = float(src_y.mean() if where is None else src_y[where].mean())
    tar_mean = float(tar_y.mean() if where is None else tar_y[where].mean())
    ratio = max(float(srgb_to_linear(np.float32(tar_mean))), 1e-6) / max(float(srgb_to_linear(np.float32(src_mean))),
                                                                          1e-6)
    return math.log2(ratio)


def crushed_shadow_fraction(src_s, tar_s, shadows):
    """Of the src ``shadows`` pixels that hold detail (above src's own black level), the fraction tar makes black.

    ``src_s``, ``tar_s``: :func:`smooth_luminance` of both. Pixels at src's black level are not counted: they had no
    detail to lose."""
    black = float(np.percentile(src_s, 0.5))
    detail = shadows & (src_s > black + 0.03)
    if detail.mean() < 0.01:
        return 0.0
    return float((tar_s[detail] <= 0.02).mean())


def _number(value, digits):
    """Rounded, or None when not measured (NaN is not JSON)."""
    return round(value, digits) if math.isfinite(value) else None


def _describe(value, sigma, unit, digits):
    return f'{value:.{digits}f} +- {sigma:.{digits}f}{unit}'


def check_alignment(result, src, tar, th):
    """Measure the alignment; flag ``misaligned`` only when confidently above a threshold, note when unmeasurable."""
    align = estimate_alignment(src, tar, th.alignment_settings())
    result.measures.update(align.measures())
    if align.status == 'no_match':
        result.flags['misaligned'] = align.reason
        return
    if align.status == 'unmeasurable':
        result.notes['alignment_unmeasurable'] = align.reason
        return
    k = th.confidence_sigmas
    turn = (f' (rotation {_describe(align.rotation_deg, align.rotation_sigma_deg, " deg", 3)}, '
            f'scale {_describe(align.scale, align.scale_sigma, "", 4)})')
    quantities = [('shift', align.shift_px, align.shift_sigma_px, th.max_shift_px, ''),
                  ('corner displacement from rotation/scale', align.turn_px, align.turn_sigma_px, th.max_turn_px,
                   turn)]
    above = [f'{name} {_describe(value, sigma, " px", 2)} > {limit:g} px{extra}'
             for name, value, sigma, limit, extra in quantities if value - k * sigma > limit]
    unsure = [f'{name} {_describe(value, sigma, " px", 2)} vs limit {limit:g} px{extra}'
              for name, value, sigma, limit, extra in quantities if value - k * sigma <= limit < value + k * sigma]
    if above:
        result.flags['misaligned'] = '; '.join(above) + f' [{align.regions_used} regions, {k:g} sigma]'
    elif unsure:
        result.notes['alignment_unmeasurable'] = 'too uncertain to decide: ' + '; '.join(unsure)


def check_tone(result, src, tar, th):
    """Tone and blur measures on luminance at ``work_size``; flags a tar that no listing edit gives: no monotone
    curve of src, darker than src (globally or in the shadows), shadow detail crushed to black, or blurred."""
    src_y, tar_y = luminance(shrink(src, th.work_size)), luminance(shrink(tar, th.work_size))
    result.measures['src_hash'] = difference_hash(src_y)
    mean_src, mean_tar = float(src_y.mean()), float(tar_y.mean())
    r2 = monotone_curve_r2(src_y, tar_y)
    src_s, tar_s = smooth_luminance(src_y), smooth_luminance(tar_y)
    stops = brightness_change_stops(src_s, tar_s)
    shadows = src_s <= np.percentile(src_s, th.shadow_percentile)
    shadow_stops = brightness_change_stops(src_s, tar_s, shadows)
    crushed = crushed_shadow_fraction(src_s, tar_s, shadows)
    edges = edge_mask(src_y)
    if edges.mean() >= 0.005:
        sharpness_ratio = relative_sharpness(tar_y, edges) / max(relative_sharpness(src_y, edges), 1e-12)
    else:  # no edges to judge sharpness on (a bare wall, a sky)
        sharpness_ratio = float('nan')
    result.measures.update({'mean_y_src': _number(mean_src, 5), 'mean_y_tar': _number(mean_tar, 5),
                            'tone_r2': _number(r2, 4), 'brightness_change_stops': _number(stops, 3),
                            'shadow_change_stops': _number(shadow_stops, 3), 'crushed_shadows': _number(crushed, 4),
                            'sharpness_ratio': _number(sharpness_ratio, 4)})
    if not r2 >= th.min_tone_r2:  # NaN (a flat tar) is flagged too
        result.flags['tone_curve'] = f'monotone tone-curve R^2 {r2:.3f} < {th.min_tone_r2:g}'
    if stops < -th.max_darkening_stops:
        result.flags['darkening_edit'] = (f'tar {stops:+.2f} stops against src (limit -{th.max_darkening_stops:g}; '
                                          f'mean Y {mean_src:.3f} -> {mean_tar:.3f})')
    darker = []
    if shadow_stops < -th.max_shadow_darkening_stops:
        darker.append(f'src shadows (Y <= p{th.shadow_percentile:g}) {shadow_stops:+.2f} stops in tar '
                      f'(limit -{th.max_shadow_darkening_stops:g})')
    if crushed > th.max_crushed_shadows:
        darker.append(f'{100 * crushed:.0f}% of the src shadow detail is black in tar '
                      f'(limit {100 * th.max_crushed_shadows:g}%)')
    if darker:
        result.flags['darker_shadows'] = '; '.join(darker)
    if sharpness_ratio < th.min_sharpness_ratio:  # NaN: not measured, not flagged
        result.flags['blurry'] = f'tar/src sharpness {sharpness_ratio:.2f} < {th.min_sharpness_ratio:g}'


def measure_pair(args):
    """Per-pair checks. ``args`` = (name, src_path, tar_path, split, thresholds); returns a PairResult."""
    name, src_path, tar_path, split, th = args
    result = PairResult(name=name, src=src_path, tar=tar_path, split=split)
    images, tags, profiles = [], [], []
    for role, path in (('src', src_path), ('tar', tar_path)):
        try:
            buf = read_bytes(path)
            images.append(decode_bgr(buf, path, to_srgb=True))
            tags.append(exif_orientation(path))
        except PhotoReadError as err:
            result.flags['unreadable'] = f'{role}: {err}'
            return result
        profiles.append(colour_space_name(embedded_profile(buf)))
    src, tar = images
    result.measures['colour_profile'] = profiles
    if profiles[0] != profiles[1]:
        result.notes['profile_mismatch'] = f'src {profiles[0]} vs tar {profiles[1]}'
    result.measures['exif_orientation'] = tags
    result.measures['size'] = [src.shape[1], src.shape[0], tar.shape[1], tar.shape[0]]
    if src.shape != tar.shape:
        result.flags['size_mismatch'] = (f'src {src.shape[1]}x{src.shape[0]} vs tar {tar.shape[1]}x{tar.shape[0]} '
                                         '(width x height, EXIF orientation applied)')
    else:
        check_alignment(result, src, tar, th)
        check_tone(result, src, tar, th)
    if tags[0] != tags[1]:
        check_orientation(result, tags)
    return result


def check_orientation(result, tags):
    """EXIF tags that differ are a defect unless the alignment found the displayed images lined up (a photo stored
    sideways with its tag, its edit stored upright). Flagged first: the size, alignment, tone and blur flags of such a
    pair follow from pixels that do not correspond."""
    if 'size_mismatch' in result.flags:
        why = 'the turned images differ in size'
    elif 'misaligned' in result.flags:
        why = 'the displayed images do not line up'
    elif result.measures.get('alignment_status') != 'measured' or 'alignment_unmeasurable' in result.notes:
        why = 'the displayed images could not be matched (a tag rewritten without turning the pixels?)'
    else:
        return
    flag = f'EXIF orientation src {tags[0]} vs tar {tags[1]}: {why}'
    result.flags = {'exif_orientation': flag, **result.flags}


def flag_brightness_outliers(results, th):
    """Robust leave-one-out test of each tar's mean brightness: its distance to the median of the other pairs in
    units of their spread (1.4826 MAD) and in Y itself; flagged when both are large, so that neither a set of
    near-identical edits (tiny spread) nor a wide set (a twilight shot among daylight ones) cries wolf."""
    measured = [r for r in results if 'mean_y_tar' in r.measures]
    if len(measured) < max(th.min_pairs_for_stats, 3):
        return
    values = np.array([r.measures['mean_y_tar'] for r in measured])
    for i, result in enumerate(measured):
        others = np.delete(values, i)
        median = float(np.median(others))
        spread = max(1.4826 * float(np.median(np.abs(others - median))), 1e-3)
        difference = float(values[i] - median)
        z = difference / spread
        result.measures['brightness_z'] = round(z, 3)
        result.measures['brightness_difference'] = round(difference, 4)
        if abs(z) > th.brightness_z and abs(difference) > th.min_brightness_difference:
            result.flags['brightness_outlier'] = (
                f'tar mean Y {values[i]:.3f} is {difference:+.3f} ({z:+.1f} robust sigma) from the median '
                f'{median:.3f} of the others (limits {th.min_brightness_difference:g} and {th.brightness_z:g} sigma)')


def flag_duplicates_across_splits(results, th):
    hashed = [r for r in results if 'src_hash' in r.measures and r.split]
    rank = {split: i for i, split in enumerate(SPLIT_ORDER)}
    for i, a in enumerate(hashed):
        for b in hashed[i + 1:]:
            if a.split == b.split:
                continue
            distance = bin(a.measures['src_hash'] ^ b.measures['src_hash']).count('1')
            if distance <= th.dup_max_hamming:
                earlier, later = sorted((a, b), key=lambda r: rank.get(r.split, -1))
                earlier.flags['duplicate_across_splits'] = (f'same photo as {later.name} in {later.split} '
                                                            f'(hash distance {distance})')


def run_checks(pairs, splits=None, thresholds=None, workers=1, progress=False):
    """Check ``pairs`` (PairPaths); ``splits`` is a parallel list of split names or None. Returns a CheckReport."""
    th = thresholds or CheckThresholds()
    splits = splits or [''] * len(pairs)
    jobs = [(p.name, p.src, p.tar, s, th) for p, s in zip(pairs, splits)]
    if workers > 1:
        with get_context('fork').Pool(workers) as pool:
            iterator = pool.imap(measure_pair, jobs, chunksize=1)
            results = list(_progress(iterator, len(jobs), progress))
    else:
        results = list(_progress(map(measure_pair, jobs), len(jobs), progress))
    flag_brightness_outliers(results, th)
    flag_duplicates_across_splits(results, th)
    return CheckReport(thresholds=th, results=results)


def thresholds_from_args(args):
    return CheckThresholds(**{item.name: getattr(args, item.name) for item in fields(CheckThresholds)})


def _progress(iterator, total, enabled):
    if not enabled:
        return iterator
    from tqdm import tqdm
    return tqdm(iterator, total=total, desc='checking pairs', unit='pair')


def explain(result):
    """Readable lines: one pair's flags, notes and every measure, the regions of its alignment as a table."""
    lines = [f'pair {result.name}', f'  src {result.src}', f'  tar {result.tar}']
    lines += [f'  FLAG [{check}] {detail}' for check, detail in result.flags.items()] or ['  no flags']
    lines += [f'  note [{note}] {detail}' for note, detail in result.notes.items()]
    lines.append('  measures:')
    for key, value in result.measures.items():
        if key != 'regions':
            lines.append(f'    {key:<24} {value}')
    regions = result.measures.get('regions') or []
    if regions:
        lines.append('  alignment regions (full-resolution px; displacement = tar - src position):')
        lines.append(f'    {"centre x, y":>18} {"dx":>8} {"dy":>8} {"conf":>6} {"texture":>7}  used')
        for region in regions:
            (x, y), (dx, dy) = region['centre'], region['displacement']
            lines.append(f'    {x:>8.1f}, {y:>8.1f} {dx:>8.3f} {dy:>8.3f} {region["confidence"]:>6.3f} '
                         f'{region["texture"]:>7.3f}  {"yes" if region["used"] else "no"}')
    return '\n'.join(lines)


def _thumbnail(path, size):
    try:
        img = decode_bgr(read_bytes(path), path, to_srgb=True)
    except PhotoReadError:
        img = np.full((size * 2 // 3, size, 3), 96, np.uint8)
        cv2.putText(img, 'unreadable', (10, size // 3), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
        return img
    factor = size / max(img.shape[:2])
    if factor < 1:
        img = cv2.resize(img, (max(1, round(img.shape[1] * factor)), max(1, round(img.shape[0] * factor))),
                         interpolation=cv2.INTER_AREA)
    return img


def contact_sheet(results, thumb=360, max_pairs=50):
    """uint8 BGR image: one row per result (src beside tar, fitted into ``thumb`` px squares) with its name and
    flags written below, so a person can review the flagged pairs at a glance."""
    font, scale, line_h = cv2.FONT_HERSHEY_SIMPLEX, 0.45, 18
    width = 2 * thumb + 30
    chars = max(20, int(width / (scale * 19)))
    rows = []
    for result in results[:max_pairs]:
        text = [result.name] + [f'[{check}] {detail}' for check, detail in result.flags.items()]
        wrapped = [part for line in text for part in textwrap.wrap(line, chars) or ['']]
        thumbs = [_thumbnail(path, thumb) for path in (result.src, result.tar)]
        top = max(img.shape[0] for img in thumbs) + 10
        row = np.full((top + line_h * len(wrapped) + 8, width, 3), 255, np.uint8)
        for col, img in enumerate(thumbs):
            x = 10 + col * (thumb + 10)
            row[5:5 + img.shape[0], x:x + img.shape[1]] = img
        for i, line in enumerate(wrapped):
            cv2.putText(row, line, (10, top + line_h * (i + 1) - 4), font, scale,
                        (0, 0, 160) if i else (0, 0, 0), 1, cv2.LINE_AA)
        row[-2:] = 200
        rows.append(row)
    if not rows:
        row = np.full((60, width, 3), 255, np.uint8)
        cv2.putText(row, 'no flagged pairs', (10, 35), font, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(row)
    return np.vstack(rows)
