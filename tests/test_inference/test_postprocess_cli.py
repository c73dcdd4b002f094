"""Post-processing as an option of tiled_infer.py: the library's result, bad flags refused."""
import cv2
import numpy as np
import pytest

from realestate_sr.inference import delivery, network_args, photo_io
from realestate_sr.inference.postprocess import LabReference, PostProcessSettings
from tests.test_inference.conftest import FAST_FLAGS, TINY_FLAGS
from tests.test_inference.photo_makers import encode_pil, smooth_rgb

CHROMA = {'saturation': 0.3, 'vibrance': 0.2}
CHROMA_FLAGS = ['--saturation', '0.3', '--vibrance', '0.2']


@pytest.fixture
def photos(tmp_path):
    """An input folder with one photo, and a warmer reference photo outside it."""
    folder = tmp_path / 'in'
    folder.mkdir()
    (folder / 'room.png').write_bytes(encode_pil(smooth_rgb(48, 72, 1), 'PNG'))
    reference = tmp_path / 'style.png'
    warm = smooth_rgb(40, 40, 2).astype(np.float32) * np.array([1.0, 0.8, 0.5], np.float32)
    reference.write_bytes(encode_pil(warm.astype(np.uint8), 'PNG'))
    return folder, reference


def library_output(tiled_infer, checkpoint, photo_path, settings):
    """The network's output through tiled_infer's own Enhancer, finished by the library, encoded as PNG."""
    args = tiled_infer.build_parser().parse_args(['-i', str(photo_path), '-o', 'unused', '--model', str(checkpoint),
                                                  *TINY_FLAGS, *FAST_FLAGS])
    enhancer = delivery.make_enhancer(args, network_args.settings_from_args(args))
    photo = photo_io.read_photo(photo_path)
    rgb = settings.apply(np.clip(enhancer.run_photo(photo.rgb), 0, 1))
    return cv2.imdecode(np.frombuffer(photo_io.encode_photo(rgb, photo, 'PNG'), np.uint8), cv2.IMREAD_COLOR)


@pytest.mark.parametrize('reference_kind', ['photo', 'json'])
def test_tiled_infer_finishes_outputs_exactly_as_the_library_does(photos, run_infer, tiled_infer, tiny_checkpoint,
                                                                   tmp_path, reference_kind):
    folder, reference_photo = photos
    reference = LabReference.from_photo(photo_io.read_photo(reference_photo).rgb)
    reference_path = reference_photo if reference_kind == 'photo' else reference.save(tmp_path / 'style.json')
    code, _ = run_infer(folder, tmp_path / 'plain', '--format', 'png')
    assert code == 0
    code, summary = run_infer(folder, tmp_path / 'finished', '--format', 'png', '--postprocess', 'match-lab',
                              '--reference', reference_path, *CHROMA_FLAGS)
    assert code == 0 and 'post-processing: CIELAB histogram matching to' in summary
    plain = cv2.imread(str(tmp_path / 'plain' / 'room.png'))
    finished = cv2.imread(str(tmp_path / 'finished' / 'room.png'))
    assert np.abs(plain.astype(int) - finished.astype(int)).mean() > 5
    if reference_kind == 'json':  # the JSON file keeps 4 decimals of the quantiles
        reference = LabReference.load(reference_path)
    settings = PostProcessSettings(reference, **CHROMA)
    expected = library_output(tiled_infer, tiny_checkpoint, folder / 'room.png', settings)
    np.testing.assert_array_equal(finished, expected)
    assert 'post-processing: off' in run_infer(folder, tmp_path / 'again', '--format', 'png')[1]


@pytest.mark.parametrize('flags, message', [
    (['--postprocess', 'match-lab'], 'needs --reference'),
    (['--reference', 'style.png'], 'only with --postprocess match-lab'),
    (['--saturation', '-1'], 'must be above -1'),
    (['--postprocess', 'match-lab', '--reference', 'missing.json'], 'cannot read the Lab reference'),
    (['--postprocess', 'match-lab', '--reference', 'notes.png'], 'cannot use'),
    (['--postprocess', 'match-lab', '--reference', 'style.png', '--match-strength', '1.5'], 'in [0, 1]'),
])
def test_bad_post_processing_flags_stop_tiled_infer_before_any_work(photos, tiled_infer, tiny_checkpoint, tmp_path,
                                                                     capsys, flags, message, monkeypatch):
    folder, _ = photos
    (tmp_path / 'notes.png').write_bytes(b'not a photo')
    monkeypatch.chdir(tmp_path)
    code = tiled_infer.main(['-i', str(folder), '-o', str(tmp_path / 'out'), '--model', str(tiny_checkpoint),
                             *TINY_FLAGS, *FAST_FLAGS, *flags])
    error = capsys.readouterr().err
    assert code == 2 and message in error and len(error.strip().splitlines()) == 1
    assert not (tmp_path / 'out').exists()
