"""The delivery (realestate_sr/inference/delivery.py) through scripts/tiled_infer.py on a folder of mixed real-world
files, made by the test."""
import logging
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from realestate_sr.inference import photo_files
from realestate_sr.utils import output_safety
from tests.test_inference.conftest import FAST_FLAGS, REPO, TINY_FLAGS
from tests.test_inference.icc_profiles import display_p3_profile
from tests.test_inference.photo_makers import (
    LAYOUT_TAGS,
    MAKE,
    ORIENTATION_TAG,
    encode_pil,
    exif_with,
    smooth_rgb,
    tree_digest,
)


def make_delivery(root):
    """A photographer's delivery: valid photos of every kind and the junk that comes with them.

    Returns {relative input: (relative output, displayed width x height)} for the valid ones.
    """
    root.mkdir(parents=True)
    (root / 'Küche').mkdir()
    (root / '.thumbnails').mkdir()
    files = {
        'IMG_0001.JPG': encode_pil(smooth_rgb(90, 130, 1), 'JPEG', exif=exif_with(6), quality=92),
        'p3_phone.jpeg': encode_pil(smooth_rgb(70, 70, 2), 'JPEG', icc_profile=display_p3_profile(), quality=92),
        'gray.jpg': encode_pil(smooth_rgb(50, 61, 3)[:, :, 0], 'JPEG', mode='L'),
        'logo.PNG': encode_pil(np.dstack([smooth_rgb(33, 47, 4), np.full((33, 47), 128, np.uint8)]), 'PNG'),
        'cmyk.jpg': encode_pil(np.full((40, 40, 4), 60, np.uint8), 'JPEG', mode='CMYK'),
        'Küche/wohnzimmer groß.png': encode_pil(smooth_rgb(37, 53, 5), 'PNG'),
        'panorama.jpg': encode_pil(smooth_rgb(40, 700, 6), 'JPEG', quality=92),
        'raw16.tif': cv2.imencode('.tif', smooth_rgb(36, 44, 7, dtype=np.uint16))[1].tobytes(),
        'tiny.png': encode_pil(smooth_rgb(9, 5, 8), 'PNG'),
        # junk: every one must be reported and none may stop the batch
        'empty.jpg': b'',
        'notes.jpg': b'these are the access codes for the house',
        'truncated.jpg': encode_pil(smooth_rgb(64, 64, 9), 'JPEG')[:700],
        '.DS_Store': b'\0\0\0\1Bud1',
        'contract.pdf': b'%PDF-1.4',
        '.thumbnails/IMG_0001.jpg': encode_pil(smooth_rgb(8, 8), 'JPEG'),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    return {
        'IMG_0001.JPG': ('IMG_0001.jpg', (90, 130)),  # rotated by its EXIF orientation 6
        'p3_phone.jpeg': ('p3_phone.jpg', (70, 70)),
        'gray.jpg': ('gray.jpg', (61, 50)),
        'logo.PNG': ('logo.png', (47, 33)),  # alpha: PNG although JPEG was asked for
        'cmyk.jpg': ('cmyk.jpg', (40, 40)),
        'Küche/wohnzimmer groß.png': ('Küche/wohnzimmer groß.jpg', (53, 37)),
        'panorama.jpg': ('panorama.jpg', (700, 40)),
        'raw16.tif': ('raw16.jpg', (44, 36)),
        'tiny.png': ('tiny.jpg', (5, 9)),
    }


def output_names(folder):
    """The names in an output folder but the marker of a folder tiled_infer created."""
    return sorted(p.name for p in Path(folder).iterdir() if p.name != photo_files.OUTPUT_MARKER)


@pytest.fixture
def delivery(tmp_path):
    return tmp_path / 'delivery', make_delivery(tmp_path / 'delivery')


def test_mixed_folder_enhances_every_valid_photo_upright_and_reports_the_rest(delivery, run_infer, tmp_path, caplog):
    source, expected = delivery
    before = tree_digest(source)
    output = tmp_path / 'enhanced'
    code, summary = run_infer(source, output)

    assert code == 1  # three unreadable .jpg files failed
    assert 'enhanced 9, skipped 2 (1 hidden file, 1 not an image extension), failed 3' in summary
    for name in ('empty.jpg', 'notes.jpg', 'truncated.jpg'):
        assert f'failed: {name}: ' in summary and f'{source / name}' not in summary  # named inside the input
    assert 'empty file' in summary and 'not an image' in summary and 'truncated' in summary
    written = {p.relative_to(output).as_posix() for p in output.rglob('*') if p.is_file()} - {photo_files.OUTPUT_MARKER}
    assert written == {out for out, _ in expected.values()}
    for out, size in expected.values():
        with Image.open(output / out) as im:
            assert im.size == size, out
            assert im.mode in ('RGB', 'RGBA')
            assert 'Orientation' not in im.getexif() or im.getexif()[0x0112] == 1
    assert Image.open(output / 'logo.png').mode == 'RGBA'
    assert 'icc_profile' in Image.open(output / 'p3_phone.jpg').info  # tagged sRGB
    assert tree_digest(source) == before  # inputs byte-identical, nothing written into the input tree


def test_same_format_keeps_png_tiff_and_sixteen_bits(delivery, run_infer, tmp_path):
    source, _ = delivery
    code, _ = run_infer(source, tmp_path / 'same', '--format', 'same', '--suffix', '_edit')
    assert code == 1
    raw16 = cv2.imread(str(tmp_path / 'same' / 'raw16_edit.tif'), cv2.IMREAD_UNCHANGED)
    assert raw16.dtype == np.uint16 and raw16.shape == (36, 44, 3)
    assert (tmp_path / 'same' / 'IMG_0001_edit.JPG').is_file()
    assert (tmp_path / 'same' / 'Küche' / 'wohnzimmer groß_edit.png').is_file()


def test_output_inside_the_input_tree_is_refused(delivery, run_infer):
    source, _ = delivery
    before = tree_digest(source)
    code, _ = run_infer(source, source / 'out')
    assert code == 2
    assert tree_digest(source) == before


def test_dry_run_writes_nothing(delivery, run_infer, tmp_path):
    source, _ = delivery
    code, out = run_infer(source, tmp_path / 'dry', '--dry-run')
    assert code == 0 and 'dry run: 12 to enhance, 2 skipped' in out
    assert not (tmp_path / 'dry').exists()


def test_name_collisions_get_the_source_extension(tmp_path, run_infer):
    source = tmp_path / 'in'
    source.mkdir()
    (source / 'room.png').write_bytes(encode_pil(smooth_rgb(20, 20, 1), 'PNG'))
    (source / 'room.jpg').write_bytes(encode_pil(smooth_rgb(20, 20, 2), 'JPEG'))
    code, _ = run_infer(source, tmp_path / 'out')
    assert code == 0
    assert output_names(tmp_path / 'out') == ['room_jpg.jpg', 'room_png.jpg']


def test_interrupted_write_leaves_no_partial_file_and_skip_existing_finishes(tmp_path, run_infer, monkeypatch):
    source = tmp_path / 'in'
    source.mkdir()
    for index in range(4):
        (source / f'photo_{index}.jpg').write_bytes(encode_pil(smooth_rgb(60, 80, index), 'JPEG'))
    output = tmp_path / 'out'
    calls = []

    def write_half_then_die(handle, data):
        if photo_files.OUTPUT_MARKER not in handle.name:  # the folder's marker goes through the same writer
            calls.append(handle.name)
        if len(calls) == 2:  # the second photo: half its bytes on disk, then Ctrl-C
            handle.write(data[:len(data) // 2])
            handle.flush()
            raise KeyboardInterrupt
        handle.write(data)

    monkeypatch.setattr(output_safety, '_write_all', write_half_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_infer(source, output, '--workers', '1', '--prefetch', '1')
    finished = output_names(output)
    # no partial file under any name, hidden or not; the next photo's encode, already handed to the worker when
    # the interrupt came, may have finished whole: the pool waits for running work
    assert finished in (['photo_0.jpg'], ['photo_0.jpg', 'photo_2.jpg'])
    first_bytes = (output / 'photo_0.jpg').read_bytes()

    monkeypatch.undo()
    code, summary = run_infer(source, output, '--skip-existing')
    assert code == 0
    done = len(finished)
    assert f'enhanced {4 - done}, skipped {done} ({done} output exists), failed 0' in summary
    assert output_names(output) == [f'photo_{i}.jpg' for i in range(4)]
    assert (output / 'photo_0.jpg').read_bytes() == first_bytes
    for index in range(4):
        Image.open(output / f'photo_{index}.jpg').load()  # every output decodes completely


def test_stale_temporary_file_is_replaced_on_rerun(tmp_path, run_infer):
    source = tmp_path / 'in'
    source.mkdir()
    (source / 'a.jpg').write_bytes(encode_pil(smooth_rgb(20, 20), 'JPEG'))
    stale = output_safety.temp_path_for(tmp_path / 'out' / 'a.jpg')
    stale.parent.mkdir()
    stale.write_bytes(b'half a jpeg from a killed run')
    assert run_infer(source, tmp_path / 'out', '--skip-existing')[0] == 0
    assert output_names(tmp_path / 'out') == ['a.jpg']


def test_tiled_output_matches_whole_image_tlc(tmp_path, run_infer):
    """TLC makes tiles see training-sized statistics, so tiling changes the result only slightly."""
    source = tmp_path / 'in'
    source.mkdir()
    (source / 'room.png').write_bytes(encode_pil(smooth_rgb(300, 420), 'PNG'))
    assert run_infer(source, tmp_path / 'whole', '--format', 'png', '--tile-size', '1024')[0] == 0
    assert run_infer(source, tmp_path / 'tiled', '--format', 'png', '--tile-size', '128', '--overlap', '32')[0] == 0
    whole = np.asarray(Image.open(tmp_path / 'whole' / 'room.png'), np.float64)
    tiled = np.asarray(Image.open(tmp_path / 'tiled' / 'room.png'), np.float64)
    mse = ((whole - tiled)**2).mean()
    psnr = 10 * np.log10(255**2 / max(mse, 1e-12))
    assert psnr > 35, f'tiled vs whole PSNR {psnr:.1f} dB'


@pytest.mark.slow
def test_full_size_listing_photo(tmp_path, run_infer):
    source = tmp_path / 'in'
    source.mkdir()
    (source / 'listing.jpg').write_bytes(encode_pil(smooth_rgb(2200, 3300), 'JPEG', quality=92))
    code, summary = run_infer(source, tmp_path / 'out', '--tile-size', '512', '--overlap', '64')
    assert code == 0 and 'enhanced 1' in summary
    assert Image.open(tmp_path / 'out' / 'listing.jpg').size == (3300, 2200)


def test_cli_exit_code_and_summary_in_a_fresh_process(tmp_path, tiny_checkpoint):
    source = tmp_path / 'in'
    source.mkdir()
    (source / 'ok.jpg').write_bytes(encode_pil(smooth_rgb(30, 30), 'JPEG'))
    (source / 'bad.jpg').write_bytes(b'nope')
    result = subprocess.run([sys.executable, str(REPO / 'scripts' / 'tiled_infer.py'), '-i', str(source), '-o',
                             str(tmp_path / 'out'), '--model', str(tiny_checkpoint), *TINY_FLAGS, *FAST_FLAGS],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert 'enhanced 1, skipped 0, failed 1' in result.stdout
    assert 'FAILED' in result.stderr and 'bad.jpg' in result.stderr


def test_clashing_names_differing_only_in_case_get_distinct_outputs(tmp_path, run_infer):
    source = tmp_path / 'in'
    source.mkdir()
    inputs = {'dup.png': ('PNG', 1), 'dup.PNG': ('PNG', 2), 'dup.jpg': ('JPEG', 3)}
    for name, (fmt, seed) in inputs.items():
        (source / name).write_bytes(encode_pil(smooth_rgb(24, 24, seed), fmt))
    if len(list(source.iterdir())) < 3:
        pytest.skip('case-insensitive file system: dup.png and dup.PNG are one file')
    code, summary = run_infer(source, tmp_path / 'out', '--dry-run')
    planned = dict(line.split(' -> ') for line in summary.splitlines() if ' -> ' in line)
    assert {Path(src).name: Path(out).name for src, out in planned.items()} == {
        'dup.PNG': 'dup_PNG.jpg', 'dup.jpg': 'dup_jpg.jpg', 'dup.png': 'dup_png_2.jpg'}  # unique case-insensitively
    code, summary = run_infer(source, tmp_path / 'out')
    assert code == 0 and 'enhanced 3, skipped 0, failed 0' in summary
    assert output_names(tmp_path / 'out') == ['dup_PNG.jpg', 'dup_jpg.jpg', 'dup_png_2.jpg']


def test_planned_names_are_unique_with_suffixes_and_alpha_fallbacks(tmp_path):
    names = ['a.png', 'a.PNG', 'a.jpg', 'a_png.jpg', 'a_png.png', 'b.bmp', 'b.png', 'c.tif', 'c.TIF', 'notes.txt']
    for fmt in ('jpeg', 'png', 'same'):
        jobs = [photo_files._candidate(tmp_path / name, Path(name)) for name in names]
        photo_files.plan_outputs(jobs, tmp_path / 'out', fmt, suffix='_edit')
        paths = [path for job in jobs for path in (job.output, job.alpha_output) if path is not None]
        assert len({photo_files.output_key(path) for path in paths}) == len(paths), (fmt, paths)
        assert jobs[-1].output is None
        again = [photo_files._candidate(tmp_path / name, Path(name)) for name in names]
        photo_files.plan_outputs(again, tmp_path / 'out', fmt, suffix='_edit')
        assert [job.output for job in again] == [job.output for job in jobs]  # deterministic


@pytest.mark.parametrize('output_format, suffix', [('same', '.tif'), ('jpeg', '.jpg')])
def test_rotated_tiff_comes_out_upright_with_its_metadata(tmp_path, run_infer, output_format, suffix):
    source = tmp_path / 'in'
    source.mkdir()
    (source / 'scan.tif').write_bytes(encode_pil(smooth_rgb(30, 50), 'TIFF', exif=exif_with(6)))
    code, summary = run_infer(source, tmp_path / 'out', '--format', output_format)
    assert code == 0 and 'enhanced 1' in summary, summary
    with Image.open(tmp_path / 'out' / f'scan{suffix}') as written:
        assert written.size == (30, 50)  # width x height as displayed
        exif = written.getexif()
        assert exif[MAKE] == 'TestCam' and exif.get(ORIENTATION_TAG, 1) == 1
        if output_format == 'jpeg':  # the input's TIFF layout must not describe the JPEG
            assert not set(exif) & set(LAYOUT_TAGS), [LAYOUT_TAGS[tag] for tag in set(exif) & set(LAYOUT_TAGS)]


def test_names_that_are_not_utf8_are_printed_escaped(tmp_path, tiny_checkpoint):
    source = tmp_path / 'in'
    source.mkdir()
    (source / os.fsdecode(b'caf\xe9.jpg')).write_bytes(encode_pil(smooth_rgb(30, 30), 'JPEG'))
    (source / os.fsdecode(b'd\xe9fekt.jpg')).write_bytes(b'not a jpeg')
    command = [sys.executable, str(REPO / 'scripts' / 'tiled_infer.py'), '-i', str(source), '-o',
               str(tmp_path / 'out'), '--model', str(tiny_checkpoint), *TINY_FLAGS, *FAST_FLAGS]
    environment = dict(os.environ, PYTHONIOENCODING='utf-8')  # strict UTF-8 stdout, whatever the locale
    dry = subprocess.run(command + ['--dry-run'], capture_output=True, text=True, timeout=120, env=environment)
    assert dry.returncode == 0, dry.stderr
    assert 'caf\\xe9.jpg -> ' in dry.stdout and 'dry run: 2 to enhance' in dry.stdout
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment)
    assert result.returncode == 1 and 'Traceback' not in result.stderr, result.stderr
    assert 'enhanced 1, skipped 0, failed 1' in result.stdout
    assert 'failed: ' in result.stdout and 'd\\xe9fekt.jpg' in result.stdout
    assert 'd\\xe9fekt.jpg' in result.stderr  # the FAILED log line
    assert (tmp_path / 'out' / os.fsdecode(b'caf\xe9.jpg')).is_file()


@pytest.mark.parametrize('output_format', ['jpeg', 'same'])
def test_misnamed_files_get_names_that_match_their_bytes(tmp_path, run_infer, output_format):
    """A PNG with alpha named .jpg goes to a .png (not PNG bytes under .jpg), without taking another photo's name."""
    source = tmp_path / 'in'
    source.mkdir()
    rgba = np.dstack([smooth_rgb(20, 24, 1), np.full((20, 24), 128, np.uint8)])
    (source / 'logo.jpg').write_bytes(encode_pil(rgba, 'PNG', mode='RGBA'))
    (source / 'plan.jpg').write_bytes(encode_pil(smooth_rgb(20, 24, 2), 'PNG'))  # PNG bytes, no alpha
    (source / 'plan.png').write_bytes(encode_pil(smooth_rgb(20, 24, 3), 'PNG'))
    code, _ = run_infer(source, tmp_path / 'out', '--format', output_format)
    assert code == 0
    written = {name: Image.open(tmp_path / 'out' / name).format for name in output_names(tmp_path / 'out')}
    expected = {'logo.png': 'PNG', 'plan.jpg': 'JPEG', 'plan.png': 'PNG'}
    if output_format == 'jpeg':  # both plan files want plan.jpg
        expected = {'logo.png': 'PNG', 'plan_jpg.jpg': 'JPEG', 'plan_png.jpg': 'JPEG'}
    assert written == expected
    assert Image.open(tmp_path / 'out' / 'logo.png').mode == 'RGBA'


def test_tlc_on_tiles_inside_its_window_is_warned_about(tmp_path, run_infer, caplog, monkeypatch):
    # --train-size 64: the TLC window is 96x96, so 64 px tiles are pooled globally and TLC changes nothing
    source = tmp_path / 'in'
    source.mkdir()
    (source / 'room.png').write_bytes(encode_pil(smooth_rgb(100, 140), 'PNG'))
    # the script's logging.basicConfig(force=True) replaces root handlers: listen on its own logger
    monkeypatch.setattr(logging.getLogger('tiled_infer'), 'handlers', [caplog.handler])
    assert run_infer(source, tmp_path / 'small', '--tile-size', '64', '--overlap', '16')[0] == 0
    assert 'TLC has no effect' in caplog.text and '96x96' in caplog.text
    caplog.clear()
    assert run_infer(source, tmp_path / 'large', '--tile-size', '128')[0] == 0
    assert 'TLC has no effect' not in caplog.text


def test_outputs_never_go_into_the_input_tree(tmp_path, run_infer):
    source = tmp_path / 'in'
    (source / 'kitchen').mkdir(parents=True)
    photo = source / 'kitchen' / 'IMG_0042.JPG'
    photo.write_bytes(encode_pil(smooth_rgb(40, 56), 'JPEG'))
    before = tree_digest(source)
    assert run_infer(source, source / 'enhanced')[0] == 2  # a folder: nothing below it
    assert run_infer(source, source)[0] == 2
    assert run_infer(photo, photo.parent)[0] == 2  # one photo: not its own folder, where the name could clash
    assert tree_digest(source) == before
    # one photo with an output folder beside it (docs/inference.md's single-file example)
    assert run_infer(photo, photo.parent / 'out')[0] == 0
    assert (photo.parent / 'out' / 'IMG_0042.jpg').is_file()


def test_an_output_folder_holding_the_input_is_refused(tmp_path, run_infer, caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger('tiled_infer'), 'handlers', [caplog.handler])
    data = tmp_path / 'DATA'
    (data / 'images').mkdir(parents=True)
    (data / 'images' / '0_src.jpg').write_bytes(encode_pil(smooth_rgb(30, 40, 1), 'JPEG'))
    (data / '0_src.jpg').write_bytes(b'a file of the name an output would take')
    before = tree_digest(data)
    assert run_infer(data / 'images', data)[0] == 2
    assert run_infer(data / 'images' / '0_src.jpg', data)[0] == 2  # a single photo: its folder's parent too
    assert tree_digest(data) == before
    assert 'holds the input' in caplog.text


def test_files_it_did_not_write_are_replaced_only_when_asked(tmp_path, run_infer, caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger('tiled_infer'), 'handlers', [caplog.handler])
    source = tmp_path / 'in'
    source.mkdir()
    for name in ('a.jpg', 'b.jpg'):
        (source / name).write_bytes(encode_pil(smooth_rgb(30, 40, len(name)), 'JPEG'))
    users = tmp_path / 'pictures'
    users.mkdir()
    (users / 'a.jpg').write_bytes(b'the user\'s own photo of that name')
    assert run_infer(source, users)[0] == 2
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and 'a.jpg' in errors[0] and '--overwrite' in errors[0]
    assert output_names(users) == ['a.jpg']  # nothing written, not even b.jpg
    assert run_infer(source, users, '--skip-existing')[0] == 0
    assert (users / 'a.jpg').read_bytes() == b'the user\'s own photo of that name'
    assert output_names(users) == ['a.jpg', 'b.jpg']
    assert not photo_files.is_output_folder(users)  # it held a file it did not write: never marked as its own
    assert run_infer(source, users, '--overwrite')[0] == 0
    Image.open(users / 'a.jpg').load()


def test_a_folder_it_created_takes_a_rerun_without_flags(tmp_path, run_infer):
    source = tmp_path / 'in'
    source.mkdir()
    (source / 'a.jpg').write_bytes(encode_pil(smooth_rgb(30, 40), 'JPEG'))
    output = tmp_path / 'enhanced'
    assert run_infer(source, output)[0] == 0
    assert photo_files.is_output_folder(output)
    (output / 'a.jpg').write_bytes(b'an output of an earlier run')
    assert run_infer(source, output)[0] == 0
    Image.open(output / 'a.jpg').load()


def test_an_output_that_is_a_file_is_refused(tmp_path, run_infer, caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger('tiled_infer'), 'handlers', [caplog.handler])
    source = tmp_path / 'in'
    source.mkdir()
    (source / 'a.jpg').write_bytes(encode_pil(smooth_rgb(30, 40), 'JPEG'))
    (tmp_path / 'notes.txt').write_text('keep me')
    assert run_infer(source, tmp_path / 'notes.txt')[0] == 2
    assert 'is a file' in caplog.text and (tmp_path / 'notes.txt').read_text() == 'keep me'
