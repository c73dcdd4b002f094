"""Each pair check flags a planted bad pair of its kind and passes the good pairs."""
import io
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from realestate_sr.data.image_io import decode_bgr, write_jpeg
from realestate_sr.data.pair_lists import PairPaths, load_manifest
from realestate_sr.prep.pair_alignment import estimate_alignment, gray_float
from realestate_sr.prep.pair_checks import CHECKS, NOTES, CheckThresholds, run_checks
from realestate_sr.prep.planted_pairs import (
    EXIF_DEFECTS,
    FILE_DEFECTS,
    GEOMETRIC_DEFECTS,
    PHOTOMETRIC_CHANGES,
    PLANTED_DEFECTS,
    load_package_photos,
    make_low_texture_photo,
    write_photo_test_set,
    write_planted_set,
)
from realestate_sr.prep.tone_edits import (
    BRIGHTENING_EDITS,
    DARKENING_EDITS,
    DARKER_TAR_CHANGES,
    write_tone_test_set,
)
from realestate_sr.utils.colour import to_uint8
from tests.test_data.synthetic_pairs import good_photo_pairs, write_pair_set
from tests.test_inference.icc_profiles import adobe_rgb_profile, display_p3_profile, renamed_profile
from tests.test_inference.photo_makers import encode_pil

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'scripts'))
import check_pairs  # noqa: E402


@pytest.fixture(scope='module')
def planted_report(tmp_path_factory):
    root = tmp_path_factory.mktemp('planted')
    manifest = write_planted_set(root, good=6, size=(192, 256), foreign_icc=display_p3_profile())
    train, test = load_manifest(manifest), load_manifest(root / 'test.jsonl')
    defects = [json.loads(line)['defect'] for name in ('train.jsonl', 'test.jsonl')
               for line in (root / name).read_text().splitlines()]
    report = run_checks(train + test, ['train'] * len(train) + ['test'] * len(test), workers=2)
    return report, defects


def test_every_check_has_a_planted_case():
    assert set(PLANTED_DEFECTS) | set(FILE_DEFECTS) == set(CHECKS) | set(NOTES)


def test_low_texture_pair_is_a_note_not_misaligned(planted_report):
    """A smooth, vignetted wall with nothing sharp in it: alignment unmeasurable is noted, the pair is kept."""
    report, defects = planted_report
    bare = [r for r, d in zip(report.results, defects) if d == 'alignment_unmeasurable'][0]
    assert not bare.flags and 'alignment_unmeasurable' in bare.notes


def test_profile_mismatch_is_a_note_not_a_flag(planted_report):
    """A Display P3 src with an untagged (sRGB) tar is a valid pair once both are converted, as training does."""
    report, defects = planted_report
    noted = [r for r, d in zip(report.results, defects) if d == 'profile_mismatch'][0]
    assert noted.notes == {'profile_mismatch': 'src Display P3 (test) vs tar sRGB'} and not noted.flags
    assert 'profile_mismatch' not in report.counts() and report.note_counts()['profile_mismatch'] == 1
    assert json.loads(report.to_json())['note_counts']['profile_mismatch'] == 1
    assert '[profile_mismatch] src Display P3 (test) vs tar sRGB' in report.summary()


@pytest.mark.parametrize('check', sorted(CHECKS))
def test_check_flags_its_planted_pair(planted_report, check):
    report, defects = planted_report
    planted = [r for r, d in zip(report.results, defects) if d == check]
    assert check in planted[0].flags, planted[0].flags


def test_good_pairs_pass_every_check(planted_report):
    report, defects = planted_report
    good = [r for r, d in zip(report.results, defects) if d == 'none']
    assert len(good) == 6
    assert all(not r.flags for r in good), [(r.name, r.flags) for r in good if r.flags]


def test_leakage_flags_the_training_copy_and_keeps_the_test_one(planted_report):
    report, defects = planted_report
    copies = [r for r, d in zip(report.results, defects) if d == 'duplicate_across_splits']
    assert [r.split for r in copies] == ['train', 'test']
    assert 'duplicate_across_splits' in copies[0].flags and not copies[1].flags


def test_thresholds_are_options(planted_report):
    """A looser threshold lets the planted pair through: the numbers, not hard-coded rules, decide."""
    report, defects = planted_report
    blurry = [r for r, d in zip(report.results, defects) if d == 'blurry'][0]
    pair = PairPaths(src=blurry.src, tar=blurry.tar, name=blurry.name)
    loose = run_checks([pair], thresholds=CheckThresholds(min_sharpness_ratio=0.0))
    assert 'blurry' not in loose.results[0].flags


def test_report_json_and_summary(planted_report):
    report, _ = planted_report
    data = json.loads(report.to_json())
    assert data['pairs'] == len(report.results) and data['counts']['unreadable'] == 1
    assert data['thresholds']['min_tone_r2'] == CheckThresholds().min_tone_r2
    summary = report.summary()
    assert 'flagged' in summary and '[size_mismatch]' in summary


def test_check_pairs_cli_writes_json_and_a_clean_manifest(tmp_path, capsys):
    root = tmp_path / 'set'
    write_planted_set(root, good=3, size=(160, 192))
    out = tmp_path / 'checks.json'
    code = check_pairs.main(['--pairs', str(root / 'train.jsonl'), str(root / 'test.jsonl'), '-o', str(out),
                             '--exclude', str(tmp_path / 'clean.jsonl'), '--workers', '1'])
    assert code == 1  # flagged pairs -> non-zero
    report = json.loads(out.read_text())
    flagged = {r['src'] for r in report['results'] if r['flags']}
    clean = load_manifest(tmp_path / 'clean.jsonl')  # paths relative to where it was written
    assert len(clean) == report['pairs'] - report['flagged'] and not flagged & {p.src for p in clean}
    noted = {r['src'] for r in report['results'] if r['notes'] and not r['flags']}
    assert len(noted) >= 2 and noted <= {p.src for p in clean}  # notes keep a pair (profile, unmeasurable)
    assert not list(tmp_path.glob('.*'))  # no temporary file left beside the outputs
    assert 'pair checks:' in capsys.readouterr().out


def test_check_pairs_cli_exclude_works_with_folders(tmp_path):
    """The docstring example: --src-dir/--tar-dir with --exclude writes a manifest relative to its own folder."""
    photos = good_photo_pairs(3)
    _, src_dir, tar_dir = write_pair_set(tmp_path / 'raw', photos + [(photos[0][0], photos[0][0] // 2)], ext='.jpg')
    clean_file = tmp_path / 'lists' / 'clean.jsonl'
    clean_file.parent.mkdir()
    code = check_pairs.main(['--src-dir', str(src_dir), '--tar-dir', str(tar_dir), '-o', str(tmp_path / 'c.json'),
                             '--exclude', str(clean_file), '--workers', '1'])
    assert code == 1  # the darkened pair 3 is flagged
    clean = load_manifest(clean_file)  # no dataroot needed
    assert [Path(p.src).resolve() for p in clean] == [(src_dir / f'{i}.jpg').resolve() for i in range(3)]
    assert all(Path(p.tar).is_file() for p in clean)


@pytest.mark.parametrize('root_option', [False, True])
def test_check_pairs_clean_manifest_written_elsewhere_reads_back(tmp_path, root_option):
    """--exclude into another folder: the clean manifest's paths resolve from there, whatever --root said."""
    manifest, _, _ = write_pair_set(tmp_path / 'data', good_photo_pairs(3, size=(64, 80)), ext='.jpg')
    clean_file = tmp_path / 'elsewhere' / 'lists' / 'clean.jsonl'
    root = ['--root', str(manifest.parent)] if root_option else []
    code = check_pairs.main(['--pairs', str(manifest), *root, '-o', str(tmp_path / 'c.json'),
                             '--exclude', str(clean_file), '--workers', '1'])
    assert code == 0
    clean = load_manifest(clean_file)
    assert len(clean) == 3 and all(Path(path).is_file() for pair in clean for path in (pair.src, pair.tar))
    assert {Path(p.src).resolve() for p in clean} == {Path(p.src).resolve() for p in load_manifest(manifest)}


def test_write_manifest_falls_back_to_absolute_paths_without_a_relative_one(tmp_path, monkeypatch):
    """A photo on another drive (Windows) has no path relative to the manifest's folder: written absolute."""
    from realestate_sr.data import pair_lists
    photo = tmp_path / 'photo.jpg'
    photo.write_bytes(b'x')

    def no_relative_path(path, start):
        raise ValueError('path is on mount D:, start on mount C:')
    monkeypatch.setattr(pair_lists.os.path, 'relpath', no_relative_path)
    pair_lists.write_manifest([PairPaths(src=str(photo), tar=str(photo), name='p')], tmp_path / 'm.jsonl',
                              tmp_path / 'lists')
    assert json.loads((tmp_path / 'm.jsonl').read_text()) == {'src': photo.resolve().as_posix(),
                                                              'tar': photo.resolve().as_posix()}


SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile('sRGB'))
SRGB_ICC = SRGB.tobytes()


@pytest.mark.parametrize('fmt', ['JPEG', 'PNG'])
@pytest.mark.parametrize('src_icc, tar_icc, mismatch', [
    (display_p3_profile, None, 'src Display P3 (test) vs tar sRGB'),  # phone photo, untagged export
    (display_p3_profile, SRGB_ICC, 'src Display P3 (test) vs tar sRGB'),  # phone photo, sRGB export
    (None, adobe_rgb_profile, 'src sRGB vs tar Adobe RGB (1998) (test)'),
    (SRGB_ICC, None, None),  # an sRGB profile and none are the same colour space
    (lambda: renamed_profile(SRGB_ICC, 'c2'), None, None),  # so is an sRGB profile under another name
    (None, None, None),
    (display_p3_profile, display_p3_profile, None),
])
def test_profile_mismatch_notes_pairs_in_different_colour_spaces(tmp_path, fmt, src_icc, tar_icc, mismatch):
    src, tar = good_photo_pairs(1, size=(96, 128))[0]
    paths = []
    for role, img, icc in (('src', src, src_icc), ('tar', tar, tar_icc)):
        icc = icc() if callable(icc) else icc
        rgb = Image.fromarray(img[..., ::-1].copy())
        if icc:  # the file stores the photo's colours in its own space, as a camera or an editor writes them
            rgb = ImageCms.profileToProfile(rgb, SRGB, ImageCms.ImageCmsProfile(io.BytesIO(icc)), outputMode='RGB')
        options = {'icc_profile': icc} if icc else {}
        paths.append(tmp_path / f'{role}.{fmt.lower()}')
        paths[-1].write_bytes(encode_pil(np.asarray(rgb), fmt, **options))
    result = run_checks([PairPaths(src=str(paths[0]), tar=str(paths[1]), name='p')]).results[0]
    assert result.notes.get('profile_mismatch') == mismatch
    assert not result.flags  # both converted to sRGB, the pixels are a good pair: nothing fires


def test_tone_checks_measure_the_srgb_pixels_training_sees(tmp_path):
    """A P3-tagged src and a tar holding exactly its sRGB conversion are the same picture: equal brightness.

    Measured on the stored numbers, P3 reds read brighter than their sRGB values and the pair looks darkened."""
    src, _ = good_photo_pairs(1, size=(96, 128))[0]
    reddish = src.astype(np.float32) * np.array([0.35, 0.35, 1.0])  # BGR: mostly saturated red
    rgb = np.clip(reddish[..., ::-1], 0, 255).astype(np.uint8)
    src_path, tar_path = tmp_path / 'src.png', tmp_path / 'tar.png'
    src_path.write_bytes(encode_pil(rgb, 'PNG', icc_profile=display_p3_profile()))
    converted_bgr = decode_bgr(src_path.read_bytes(), to_srgb=True)
    tar_path.write_bytes(encode_pil(converted_bgr[..., ::-1].copy(), 'PNG'))
    result = run_checks([PairPaths(src=str(src_path), tar=str(tar_path), name='p')]).results[0]
    assert abs(result.measures['mean_y_src'] - result.measures['mean_y_tar']) < 1e-4
    assert not result.flags


def _warp(img, dx=0.0, dy=0.0, degrees=0.0, scale=1.0):
    height, width = img.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, scale)
    matrix[:, 2] += (dx, dy)
    return cv2.warpAffine(img, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize('dx, dy, degrees, scale', [(0, 0, 0, 1), (2.0, 0, 0, 1), (-1.3, 3.6, 0, 1),
                                                    (0, 0, 0.5, 1), (0, 0, -2.0, 1), (0, 0, 0, 1.02)])
def test_alignment_recovers_a_known_warp_under_a_tone_edit(dx, dy, degrees, scale):
    """Shift in px, rotation and scale of tar against a src that is 1.5 stops darker, warmer and noisy."""
    photo = load_package_photos(['coffee.png'])['coffee']
    tar = _warp(photo, dx, dy, degrees, scale)
    rng = np.random.default_rng(0)
    src = PHOTOMETRIC_CHANGES['under_2ev_noisy'](photo.astype(np.float32) / 255, rng)
    align = estimate_alignment(gray_float((src * 255).astype(np.uint8)), gray_float(tar))
    assert align.status == 'measured' and align.regions_used >= 7
    height, width = photo.shape[:2]
    # getRotationMatrix2D turns counter-clockwise on screen, which is clockwise in (x right, y down) coordinates
    assert abs(align.rotation_deg + degrees) < 0.02 and abs(align.scale - scale) < 5e-4
    assert abs(align.shift_px - np.hypot(dx, dy)) < 0.15
    assert align.shift_sigma_px < 0.1


@pytest.fixture(scope='module')
def photo_report(tmp_path_factory):
    """Two package photographs: a good pair per photometric change and a pair per planted geometric defect."""
    root = tmp_path_factory.mktemp('photos')
    photos = load_package_photos(['camera.png', 'chelsea.png'])
    assert len(photos) == 2  # scikit-image ships them in its wheel
    manifest = write_photo_test_set(root, photos)
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    return run_checks(load_manifest(manifest), workers=2), rows


def test_photometric_changes_of_real_photos_are_clean(photo_report):
    """Exposure -2 and -1 EV, casts, noise, JPEG, vignetting in src, its edit brighter: no flag."""
    report, rows = photo_report
    good = [(r, row) for r, row in zip(report.results, rows)
            if row['defect'] == 'none' and row['change'] not in DARKER_TAR_CHANGES]
    assert len(good) == 2 * (len(PHOTOMETRIC_CHANGES) - len(DARKER_TAR_CHANGES))
    assert all(not r.flags for r, _ in good), [(row['change'], r.flags) for r, row in good if r.flags]
    assert all(r.measures['alignment_status'] == 'measured' and r.measures['shift_px'] < 0.3 for r, _ in good)


@pytest.fixture(scope='module')
def tone_report(tmp_path_factory):
    """Two photographs, each src of its brightening (good) and darkening (bad) edits."""
    root = tmp_path_factory.mktemp('tone')
    manifest = write_tone_test_set(root, load_package_photos(['coffee.png', 'brick.png']))
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    return run_checks(load_manifest(manifest), workers=2), rows


@pytest.mark.parametrize('edit', sorted(BRIGHTENING_EDITS))
def test_listing_edits_of_real_photos_are_not_flagged_as_darkening(tone_report, edit):
    report, rows = tone_report
    results = [r for r, row in zip(report.results, rows) if row['edit'] == edit]
    assert len(results) == 2
    for result in results:
        assert not {'darkening_edit', 'darker_shadows'} & set(result.flags), (edit, result.flags, result.measures)


@pytest.mark.parametrize('edit', sorted(DARKENING_EDITS))
def test_a_tar_darker_than_its_src_is_flagged_on_real_photos(tone_report, edit):
    """-0.5 and -1 EV in linear light, an inverse gamma, shadows pulled down or crushed: the edit darkened."""
    report, rows = tone_report
    results = [r for r, row in zip(report.results, rows) if row['edit'] == edit]
    for result in results:
        assert {'darkening_edit', 'darker_shadows'} & set(result.flags), (edit, result.measures)


def test_darkening_flags_state_value_and_threshold(tone_report):
    report, rows = tone_report
    darker = [r for r, row in zip(report.results, rows) if row['edit'] == 'exposure_-1ev'][0]
    assert -1.05 < darker.measures['brightness_change_stops'] < -0.95
    th = CheckThresholds()
    assert 'stops against src' in darker.flags['darkening_edit']
    assert f'limit -{th.max_darkening_stops:g}' in darker.flags['darkening_edit']
    assert f'limit -{th.max_shadow_darkening_stops:g}' in darker.flags['darker_shadows']
    loose = run_checks([PairPaths(src=darker.src, tar=darker.tar, name='p')],
                       thresholds=CheckThresholds(max_darkening_stops=1.5, max_shadow_darkening_stops=1.5)).results[0]
    assert not loose.flags  # the thresholds decide


def _tagged_pair(tmp_path, photo_bgr, src_tag, stored_src=None):
    """src: ``stored_src`` (default the photo's pixels) with the EXIF orientation ``src_tag``; tar: a listing edit
    of the photo, untagged."""
    src_path, tar_path = tmp_path / 'src.jpg', tmp_path / 'tar.jpg'
    write_jpeg(src_path, photo_bgr if stored_src is None else stored_src, exif_orientation=src_tag)
    write_jpeg(tar_path, to_uint8(BRIGHTENING_EDITS['typical'](photo_bgr.astype(np.float32) / 255)))
    return run_checks([PairPaths(src=str(src_path), tar=str(tar_path), name='p')]).results[0]


@pytest.mark.parametrize('photo', ['real', 'low_texture'])
def test_a_rewritten_exif_orientation_is_named_ahead_of_the_flags_it_causes(tmp_path, photo):
    """src's tag set to 3 (180 degrees) with its pixels unchanged: the orientation, with both values, comes first,
    also where the turned photo is too smooth to measure the alignment."""
    if photo == 'real':
        img = load_package_photos(['coffee.png'])['coffee']
    else:
        img = to_uint8(make_low_texture_photo(300, 400, seed=0))
    result = _tagged_pair(tmp_path, img, 3)
    assert list(result.flags)[0] == 'exif_orientation', result.flags
    assert result.flags['exif_orientation'].startswith('EXIF orientation src 3 vs tar 1')


def test_a_photo_stored_sideways_with_its_tag_is_a_good_pair(tmp_path):
    """Tag 6 on pixels stored turned the other way: displayed upright, it lines up with its upright edit."""
    img = load_package_photos(['coffee.png'])['coffee']
    result = _tagged_pair(tmp_path, img, 6, stored_src=np.ascontiguousarray(np.rot90(img, k=1)))
    assert result.measures['exif_orientation'] == [6, 1] and not result.flags, result.flags


@pytest.mark.parametrize('defect', sorted(GEOMETRIC_DEFECTS) + sorted(EXIF_DEFECTS))
def test_planted_geometric_defects_of_real_photos_are_flagged(photo_report, defect):
    report, rows = photo_report
    planted = [r for r, row in zip(report.results, rows) if row['defect'] == defect]
    assert len(planted) == 2
    for result in planted:
        expected = 'exif_orientation' if defect in EXIF_DEFECTS else 'misaligned'
        assert expected in result.flags, (result.name, result.flags, result.notes)


def test_misaligned_flag_states_value_uncertainty_and_threshold(photo_report):
    report, rows = photo_report
    shifted = [r for r, row in zip(report.results, rows) if row['defect'] == 'shift_2px'][0]
    assert 1.8 < shifted.measures['shift_px'] < 2.2
    assert 'shift 2.0' in shifted.flags['misaligned'] and '> 1 px' in shifted.flags['misaligned']
    strict = run_checks([PairPaths(src=shifted.src, tar=shifted.tar, name='p')],
                        thresholds=CheckThresholds(max_shift_px=3.0)).results[0]
    assert 'misaligned' not in strict.flags  # the threshold decides


def test_check_pairs_explain_and_contact_sheet(tmp_path, capsys):
    root = tmp_path / 'set'
    write_planted_set(root, good=2, size=(300, 420))  # larger than the sheet's 360 px thumbnails
    manifest = str(root / 'train.jsonl')
    code = check_pairs.main(['--pairs', manifest, '--explain', '003_src.jpg'])
    out = capsys.readouterr().out
    assert code == 1 and 'FLAG [misaligned]' in out and 'shift_px' in out and 'alignment regions' in out
    assert check_pairs.main(['--pairs', manifest, '--explain', 'no_such_pair']) == 2
    sheet = tmp_path / 'flagged.png'
    check_pairs.main(['--pairs', manifest, '-o', str(tmp_path / 'c.json'), '--contact-sheet', str(sheet),
                      '--workers', '1'])
    report = json.loads((tmp_path / 'c.json').read_text())
    img = cv2.imread(str(sheet))
    assert img is not None and img.shape[1] == 2 * 360 + 30
    assert img.shape[0] > 257 * report['flagged']  # one row per flagged pair (420x300 photos, 360x257 thumbnails)
    assert check_pairs.main(['--pairs', manifest, '-o', str(tmp_path / 'd.json'),
                             '--contact-sheet', manifest]) == 2  # an input is never overwritten


@pytest.mark.parametrize('shape', [(8, 8, 3), (2, 300, 3), (40, 200, 3)])
def test_photo_too_small_for_regions_is_unmeasurable(shape):
    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    align = estimate_alignment(img, img)
    assert align.status == 'unmeasurable' and 'too small' in align.reason


def test_smooth_noisy_photo_is_measured_at_the_coarse_level_and_kept():
    """A soft, vignetted, dark and noisy pair: the fine level finds no structure under the noise, the coarse level
    does; its fit (with its larger uncertainty) keeps the good pair and catches a 12 px shift."""
    photo = cv2.GaussianBlur(load_package_photos(['coffee.png'], size=(1650, 1100))['coffee'], (0, 0), 6)
    tar = photo.astype(np.float32) / 255
    src = PHOTOMETRIC_CHANGES['vignette_under_1ev'](tar, None)
    src = np.clip(src + np.random.default_rng(0).normal(0, 0.02, src.shape).astype(np.float32), 0, 1)
    src = (src * 255 + 0.5).astype(np.uint8)
    good = estimate_alignment(src, photo)
    assert good.status == 'measured' and good.shift_px - 3 * good.shift_sigma_px < 1.0
    shifted = estimate_alignment(src, _warp(photo, dx=12.0))
    assert shifted.status == 'measured' and shifted.shift_px - 3 * shifted.shift_sigma_px > 1.0
    assert abs(shifted.shift_px - 12.0) < 3 * shifted.shift_sigma_px + 0.2


def test_check_pairs_summary_names_photos_without_dot_dot_and_counts_in_the_singular(tmp_path, capsys):
    src, tar = good_photo_pairs(1, size=(96, 128))[0]
    write_pair_set(tmp_path / 'data', [(src, tar // 2)], ext='.jpg')  # a darkened tar: flagged, so listed
    manifest = tmp_path / 'lists' / 'deep' / 'set' / 'pairs.jsonl'
    manifest.parent.mkdir(parents=True)
    manifest.write_text('{"src": "../../../data/images/0_src.jpg", "tar": "../../../data/images/0_tar.jpg"}\n')
    code = check_pairs.main(['--pairs', str(manifest), '-o', str(tmp_path / 'c.json'), '--workers', '1',
                             '--exclude', str(tmp_path / 'clean.jsonl')])
    out = capsys.readouterr().out
    assert code == 1 and 'pair checks: 1 pair, 1 flagged' in out and '(0 of 1 pair kept)' in out, out
    assert '../' not in out and '  0_src.jpg  [darkening_edit]' in out, out
