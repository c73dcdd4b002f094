"""Checks that find bad before/after pairs before they reach training.

Real sets carry pairs that teach the wrong edit: unreadable files, mismatched sizes, EXIF rotations that disagree,
edits cropped or straightened after the fact (misaligned), the same photo in two splits (leakage), and tone edits
unlike the rest (no consistent tone curve, brightness outliers, edits that darken, shadows pushed down, blur).
Each check has its threshold in :class:`CheckThresholds`; all image measures run on both photos shrunk to
``work_size`` on the long side, in luminance Y (Rec. 601 weights on sRGB values in [0, 1]). The photos are decoded
as training reads them (``to_srgb=True``: a profiled file converted to sRGB), so the measures see the pixels the
network learns from. Different embedded profiles are therefore no defect; they are recorded as a note (:data:`NOTES`),
not a flag, and ``--exclude`` keeps such pairs.

``measure_pair`` works on one pair (run it in worker processes); ``run_checks`` adds the set-level checks
(brightness outliers, duplicates across splits) and returns a :class:`CheckReport`.
"""
import json
import math
from dataclasses import asdict, dataclass, field, fields
from multiprocessing import get_context

import cv2
import numpy as np

from realestate_sr.data.image_io import ImageReadError, decode_bgr, exif_orientation, read_bytes
from realestate_sr.utils.photo_decode import colour_space_name, embedded_profile

CHECKS = {
    'unreadable': 'file missing or not a decodable image',
    'size_mismatch': 'src and tar differ in size (after EXIF orientation)',
    'exif_orientation': 'EXIF orientation tags differ and the displayed images do not line up',
    'misaligned': 'global shift / scale / rotation between src and tar above threshold',
    'duplicate_across_splits': 'near-duplicate of a photo in another split (leakage)',
    'tone_curve': 'tar is not a consistent tone curve of src (R^2 of a gamma fit below threshold)',
    'brightness_outlier': 'tar mean brightness outside mean +- k sigma of the other pairs',
    'darkening_edit': 'the edit darkened the image',
    'darker_shadows': 'the shadows got darker instead of lifted',
    'blurry': 'tar much less sharp than src',
}
# informational: reported, never flagged nor excluded
NOTES = {
    'profile_mismatch': 'src and tar embed different ICC colour profiles (none counts as sRGB); both are converted '
                        'to sRGB for training and for these checks',
}
SPLIT_ORDER = ('train', 'val', 'test')  # on leakage the pair in the earlier split is flagged (test stays intact)


@dataclass(frozen=True)
class CheckThresholds:
    work_size: int = 512               # long side, in pixels, the measures run at
    max_shift: float = 0.003           # centre displacement, as a fraction of the long side
    max_scale_change: float = 0.003    # |scale - 1|
    max_rotation_deg: float = 0.2
    min_gamma_r2: float = 0.5          # R^2 of tar_Y ~ a * src_Y ** gamma
    brightness_sigma: float = 2.0      # k of the brightness-outlier test
    min_pairs_for_stats: int = 5       # fewer pairs: no brightness-outlier test
    max_darkening: float = 0.01        # allowed drop of mean Y from src to tar
    shadow_percentile: float = 25.0    # shadows = src pixels at or below this percentile of src Y
    max_shadow_darkening: float = 0.005
    min_sharpness_ratio: float = 0.35  # variance of Laplacian, tar / src
    dup_max_hamming: int = 6           # 64-bit difference hashes this close are the same photo


@dataclass
class PairResult:
    name: str
    src: str
    tar: str
    split: str = ''
    flags: dict = field(default_factory=dict)     # check -> human-readable detail
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

    def summary(self, max_listed=50):
        n, bad = len(self.results), len(self.flagged)
        lines = [f'pair checks: {n} pairs, {bad} flagged ({100 * bad / max(n, 1):.1f}%)',
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
                lines.append(f'  ... and {bad - max_listed} more pairs in the JSON report')
        noted = [r for r in self.results if r.notes]
        if noted:
            lines.append('notes (pairs kept):')
            for result in noted[:max_listed]:
                lines += [f'  {result.name}  [{note}] {detail}' for note, detail in result.notes.items()]
            if len(noted) > max_listed:
                lines.append(f'  ... and {len(noted) - max_listed} more pairs in the JSON report')
        return '\n'.join(lines)


def luminance(img_bgr):
    img = img_bgr.astype(np.float32) / 255.0
    return img[..., 0] * 0.114 + img[..., 1] * 0.587 + img[..., 2] * 0.299


def shrink(img, work_size):
    height, width = img.shape[:2]
    factor = work_size / max(height, width)
    if factor >= 1:
        return img
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def difference_hash(gray):
    """64-bit dHash: signs of horizontal gradients on a 9x8 thumbnail; survives tone edits and re-encoding."""
    thumb = cv2.resize(gray, (9, 8), interpolation=cv2.INTER_AREA)
    bits = (thumb[:, 1:] > thumb[:, :-1]).reshape(-1)
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def estimate_alignment(src_y, tar_y):
    """Affine warp taking tar coordinates to src coordinates, by ECC coarse to fine; None if it fails.

    ECC maximises a zero-mean normalised correlation, so the tone edit between src and tar does not bias it.
    """
    levels = []
    src, tar = src_y, tar_y
    while True:
        levels.append((src, tar))
        if min(src.shape) < 64:
            break
        src, tar = cv2.pyrDown(src), cv2.pyrDown(tar)
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 200, 1e-6)
    for level, (src, tar) in enumerate(reversed(levels)):
        if level:
            warp[:, 2] *= 2.0
        try:
            _, warp = cv2.findTransformECC(tar, src, warp, cv2.MOTION_AFFINE, criteria, None, 5)
        except cv2.error:
            return None
    return warp


def describe_alignment(warp, height, width, full_long_side):
    """Centre shift (full-resolution px and fraction of the long side), scale and rotation of a warp."""
    linear, translation = warp[:, :2].astype(np.float64), warp[:, 2].astype(np.float64)
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    shift_px = float(np.linalg.norm(linear @ centre + translation - centre)) * full_long_side / max(height, width)
    scale = math.sqrt(abs(np.linalg.det(linear)))
    rotation = math.degrees(math.atan2(linear[1, 0] - linear[0, 1], linear[0, 0] + linear[1, 1]))
    return {'shift_px': shift_px, 'shift_fraction': shift_px / full_long_side, 'scale': scale, 'rotation_deg': rotation}


def relative_sharpness(gray):
    """Variance of the Laplacian over the variance of the image: detail per unit of contrast, so that a tone edit
    that lowers or raises global contrast does not read as blur or sharpening."""
    return float(cv2.Laplacian(gray, cv2.CV_32F).var()) / max(float(gray.var()), 1e-12)


def gamma_fit_r2(src_y, tar_y):
    """R^2 (on tar_Y itself) of the least-squares fit log tar = log a + gamma log src, mid-tones only."""
    mask = (src_y > 0.01) & (src_y < 0.99) & (tar_y > 0.01) & (tar_y < 0.99)
    if mask.sum() < 16:
        return float('nan'), float('nan')
    log_src, log_tar = np.log(src_y[mask]), np.log(tar_y[mask])
    gamma, log_a = np.polyfit(log_src, log_tar, 1)
    predicted = np.exp(log_a + gamma * log_src)
    target = tar_y[mask]
    total = float(((target - target.mean())**2).sum())
    residual = float(((target - predicted)**2).sum())
    return (1.0 - residual / total if total > 0 else float('nan')), float(gamma)


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
        except ImageReadError as err:
            result.flags['unreadable'] = f'{role}: {err}'
            return result
        profiles.append(colour_space_name(embedded_profile(buf)))
    src, tar = images
    result.measures['colour_profile'] = profiles
    if profiles[0] != profiles[1]:
        result.notes['profile_mismatch'] = f'src {profiles[0]} vs tar {profiles[1]}'
    result.measures['exif_orientation'] = tags
    result.measures['size'] = [src.shape[1], src.shape[0], tar.shape[1], tar.shape[0]]
    tag_note = f'EXIF orientation src {tags[0]} vs tar {tags[1]}'
    if src.shape != tar.shape:
        result.flags['size_mismatch'] = (f'src {src.shape[1]}x{src.shape[0]} vs tar {tar.shape[1]}x{tar.shape[0]} '
                                         '(width x height, EXIF orientation applied)')
        if tags[0] != tags[1]:
            result.flags['exif_orientation'] = tag_note + ': the rotated images differ in size'
        return result

    long_side = max(src.shape[:2])
    src_y, tar_y = shrink(luminance(src), th.work_size), shrink(luminance(tar), th.work_size)
    result.measures['src_hash'] = difference_hash(src_y)

    warp = estimate_alignment(src_y, tar_y)
    if warp is None:
        result.flags['misaligned'] = 'no alignment found between src and tar (ECC did not converge)'
    else:
        align = describe_alignment(warp, *src_y.shape, long_side)
        result.measures.update({k: round(v, 5) for k, v in align.items()})
        reasons = []
        if align['shift_fraction'] > th.max_shift:
            reasons.append(f'shift {align["shift_px"]:.1f} px ({100 * align["shift_fraction"]:.2f}% > '
                           f'{100 * th.max_shift:.2f}%)')
        if abs(align['scale'] - 1) > th.max_scale_change:
            reasons.append(f'scale {align["scale"]:.4f}')
        if abs(align['rotation_deg']) > th.max_rotation_deg:
            reasons.append(f'rotation {align["rotation_deg"]:.2f} deg')
        if reasons:
            result.flags['misaligned'] = ', '.join(reasons)
    if 'misaligned' in result.flags and tags[0] != tags[1]:
        result.flags['exif_orientation'] = tag_note + ': the displayed images do not line up'

    mean_src, mean_tar = float(src_y.mean()), float(tar_y.mean())
    r2, gamma = gamma_fit_r2(src_y, tar_y)
    shadows = src_y <= np.percentile(src_y, th.shadow_percentile)
    shadow_change = float(tar_y[shadows].mean() - src_y[shadows].mean())
    sharpness_ratio = relative_sharpness(tar_y) / max(relative_sharpness(src_y), 1e-12)
    result.measures.update({'mean_y_src': round(mean_src, 5), 'mean_y_tar': round(mean_tar, 5),
                            'gamma': round(gamma, 4), 'gamma_r2': round(r2, 4),
                            'shadow_change': round(shadow_change, 5), 'sharpness_ratio': round(sharpness_ratio, 4)})
    if not r2 >= th.min_gamma_r2:  # NaN (too few mid-tone pixels) is flagged too
        result.flags['tone_curve'] = f'gamma-fit R^2 {r2:.3f} < {th.min_gamma_r2}'
    if mean_tar < mean_src - th.max_darkening:
        result.flags['darkening_edit'] = f'mean Y {mean_src:.3f} -> {mean_tar:.3f}'
    if shadow_change < -th.max_shadow_darkening:
        result.flags['darker_shadows'] = (f'shadows (src Y <= p{th.shadow_percentile:g}) changed by '
                                          f'{shadow_change:+.3f}')
    if sharpness_ratio < th.min_sharpness_ratio:
        result.flags['blurry'] = f'tar/src sharpness {sharpness_ratio:.2f} < {th.min_sharpness_ratio}'
    return result


def flag_brightness_outliers(results, th):
    """Leave-one-out z-score of each tar's mean brightness against the other pairs (one outlier can't hide itself)."""
    measured = [r for r in results if 'mean_y_tar' in r.measures]
    if len(measured) < max(th.min_pairs_for_stats, 3):
        return
    values = np.array([r.measures['mean_y_tar'] for r in measured])
    for i, result in enumerate(measured):
        others = np.delete(values, i)
        sigma = others.std()
        z = (values[i] - others.mean()) / sigma if sigma > 0 else 0.0
        result.measures['brightness_z'] = round(float(z), 3)
        if abs(z) > th.brightness_sigma:
            result.flags['brightness_outlier'] = (f'tar mean Y {values[i]:.3f} is {z:+.1f} sigma from the others '
                                                  f'({others.mean():.3f} +- {sigma:.3f})')


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


def add_threshold_arguments(parser):
    """One ``--option`` per :class:`CheckThresholds` field (``max_shift`` -> ``--max-shift``), defaults shown."""
    group = parser.add_argument_group('check thresholds')
    for item in fields(CheckThresholds):
        group.add_argument('--' + item.name.replace('_', '-'), type=type(item.default), default=item.default,
                           help=f'(default {item.default})')


def thresholds_from_args(args):
    return CheckThresholds(**{item.name: getattr(args, item.name) for item in fields(CheckThresholds)})


def _progress(iterator, total, enabled):
    if not enabled:
        return iterator
    from tqdm import tqdm
    return tqdm(iterator, total=total, desc='checking pairs', unit='pair')
