"""Post-processing in evaluate.py (a +pp row per network row) and make_lab_reference.py."""
import json

import cv2
import numpy as np
import pytest

from realestate_sr.data.pair_lists import load_manifest
from realestate_sr.evaluation.methods import CheckpointPredictor
from realestate_sr.evaluation.runner import bgr_to_rgb_float
from realestate_sr.evaluation.scoring import metric_options, score
from realestate_sr.inference import network_args, photo_io
from realestate_sr.inference.postprocess import LabReference, PostProcessSettings
from realestate_sr.utils.colour import to_bgr_uint8
from tests.test_evaluation.test_evaluate_script import evaluate_script, run
from tests.test_inference.conftest import load_script

CHROMA = {'saturation': 0.3, 'vibrance': 0.2}
CHROMA_FLAGS = ['--saturation', '0.3', '--vibrance', '0.2']


@pytest.fixture
def make_lab_reference():
    return load_script('make_lab_reference')


def test_evaluate_adds_a_post_processed_row_scored_on_the_library_output(eval_pairs, tiny_model, tmp_path,
                                                                          make_lab_reference):
    opt_file, checkpoints = tiny_model
    stats = tmp_path / 'targets.json'
    assert make_lab_reference.main(['--pairs', str(eval_pairs['manifest']), '-o', str(stats)]) == 0
    out = tmp_path / 'report'
    label = 'fold0/net_g_latest@params_ema'
    flags = ['--postprocess', 'match-lab', '--reference', stats, *CHROMA_FLAGS]
    common = ['--pairs', eval_pairs['manifest'], '--opt', opt_file, '--model', checkpoints[0], '--tile-size', 32,
              '--overlap', 8, '--skip-lpips', '--baselines', '']
    assert run(*common, *flags, '-o', out) == 0
    assert f'{label}+pp' in (out / 'report.html').read_text()
    document = json.loads((out / 'metrics.json').read_text())
    assert [row['method'] for row in document['rows']] == [label, label + '+pp']
    assert document['config']['postprocess'].startswith('CIELAB histogram matching to')

    args = evaluate_script.build_parser().parse_args([str(a) for a in common + ['-o', out]] + ['--device', 'cpu'])
    network_opt = network_args.network_opt_from_args(args)
    predictor = CheckpointPredictor.from_checkpoint(network_opt, checkpoints[0],
                                                    network_args.settings_from_args(args))
    settings = PostProcessSettings(LabReference.load(stats), **CHROMA)
    options = metric_options(skip=('lpips',))
    for pair, image in zip(load_manifest(eval_pairs['manifest']), document['images']):
        src, tar = cv2.imread(pair.src), cv2.imread(pair.tar)
        plain, _ = predictor.predict(bgr_to_rgb_float(src))
        expected = score(to_bgr_uint8(settings.apply(plain)), tar, options)
        assert image['scores'][label + '+pp']['l1'] == pytest.approx(expected['l1'], rel=1e-9)
        assert image['scores'][label + '+pp']['de00'] == pytest.approx(expected['de00'], rel=1e-9)
        assert image['scores'][label + '+pp']['l1'] != image['scores'][label]['l1']
    # post-processing needs a network row to finish
    assert run('--pairs', eval_pairs['manifest'], '--saturation', '0.1', '-o', tmp_path / 'r2') == 2


def test_make_lab_reference_is_the_mean_of_the_targets_and_reports_bad_photos(eval_pairs, tmp_path,
                                                                            make_lab_reference, capsys):
    out = tmp_path / 'ref.json'
    assert make_lab_reference.main(['--pairs', str(eval_pairs['manifest']), '-o', str(out)]) == 0
    pairs = load_manifest(eval_pairs['manifest'])
    expected = LabReference.from_photos(photo_io.read_photo(pair.tar).rgb for pair in pairs)
    np.testing.assert_allclose(LabReference.load(out).quantiles, expected.quantiles, atol=6e-5)
    assert make_lab_reference.main(['--pairs', str(eval_pairs['manifest']), '-o', str(out)]) == 2  # exists
    (tmp_path / 'photos').mkdir()
    (tmp_path / 'photos' / 'a.png').write_bytes((eval_pairs['tar_dir'] / eval_pairs['names'][0]).read_bytes())
    (tmp_path / 'photos' / 'b.png').write_bytes(b'broken')
    capsys.readouterr()
    assert make_lab_reference.main(['--photos', str(tmp_path / 'photos'), '-o', str(tmp_path / 'one.json')]) == 1
    assert 'FAILED' in capsys.readouterr().out and LabReference.load(tmp_path / 'one.json').photos == 1
