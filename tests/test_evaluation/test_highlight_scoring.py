"""The highlight metrics in evaluate.py's tables: NaN-skipping means, photo counts, nearest-zero best."""
import json
import math

import cv2
import numpy as np
import pytest

import realestate_sr  # noqa: F401  (registers the metrics)
from realestate_sr.evaluation.runner import EvaluationResult, ImageResult
from realestate_sr.evaluation.scoring import best_value, mean_scores, metric_options, scored_photos
from realestate_sr.evaluation.tables import markdown_table, metrics_json
from tests.test_evaluation.test_evaluate_script import run

from basicsr.metrics import calculate_metric

NAN = float('nan')


def test_means_skip_photos_without_highlights_and_count_the_others():
    per_image = [{'l1': 0.1, 'highlight_l1': 0.2, 'highlight_shift': -0.04},
                 {'l1': 0.3, 'highlight_l1': NAN, 'highlight_shift': NAN},
                 {'l1': 0.2, 'highlight_l1': 0.4, 'highlight_shift': 0.02}]
    means = mean_scores(per_image)
    assert means['l1'] == pytest.approx(0.2)
    assert means['highlight_l1'] == pytest.approx(0.3)
    assert means['highlight_shift'] == pytest.approx(-0.01)
    assert scored_photos(per_image) == {'highlight_l1': 2, 'highlight_shift': 2}
    none_defined = mean_scores([{'highlight_l1': NAN}, {'highlight_l1': NAN}])
    assert math.isnan(none_defined['highlight_l1'])
    # other metrics keep their plain mean: a NaN there is a real failure and must show
    assert math.isnan(mean_scores([{'l1': NAN}, {'l1': 0.1}])['l1'])


@pytest.mark.parametrize('metric, values, best', [
    ('highlight_shift', [-0.05, 0.03, -0.01, NAN], -0.01),
    ('highlight_shift', [0.02, -0.02, 0.5], 0.02),  # a tie keeps the first
    ('highlight_l1', [0.2, NAN, 0.1], 0.1),
    ('psnr', [20.0, 25.0, NAN], 25.0),
    ('l1', [NAN, NAN], None),
])
def test_best_value_per_direction(metric, values, best):
    assert best_value(metric, values) == best


def result_with(scores_by_image):
    images = []
    for index, scores in enumerate(scores_by_image):
        image = ImageResult(f'p{index}.png', 'src', 'tar', 8, 8)
        image.scores = scores
        images.append(image)
    return EvaluationResult(list(scores_by_image[0]), images, [])


def test_table_bolds_the_shift_nearest_zero_and_says_how_many_photos_have_highlights():
    result = result_with([
        {'dim': {'l1': 0.1, 'highlight_l1': 0.3, 'highlight_shift': -0.2},
         'bright': {'l1': 0.2, 'highlight_l1': 0.1, 'highlight_shift': 0.05}},
        {'dim': {'l1': 0.1, 'highlight_l1': NAN, 'highlight_shift': NAN},
         'bright': {'l1': 0.2, 'highlight_l1': NAN, 'highlight_shift': NAN}},
    ])
    table = markdown_table(result)
    assert table.startswith('| method | images | L1 ↓ | Highlight L1 ↓ (1/2 photos) '
                            '| Highlight shift →0 (1/2 photos) |')
    assert '| dim | 2 | **0.1000** | 0.3000 | -0.2000 |' in table
    assert '| bright | 2 | 0.2000 | **0.1000** | **0.0500** |' in table
    document = json.loads(metrics_json(result, {}))
    assert document['metrics']['highlight_shift'] == {'higher_is_better': False, 'better': 'zero',
                                                      'photos_scored': 1}
    assert document['images'][1]['scores']['dim']['highlight_l1'] == 'nan'  # JSON has no NaN


def test_evaluate_reports_the_highlight_metrics_of_each_photo(eval_pairs, tmp_path):
    """The scores in metrics.json are the registered metrics on the same 8-bit files; a target without
    highlights is n/a and left out of the mean."""
    dark = (eval_pairs['root'] / 'images' / '2_tar.png')
    cv2.imwrite(str(dark), (cv2.imread(str(dark)) * 0.5).astype(np.uint8))  # no pixel above luma 0.5
    out = tmp_path / 'report'
    assert run('--pairs', eval_pairs['manifest'], '--skip-lpips', '--no-html', '--baselines', 'input', '-o', out) == 0
    document = json.loads((out / 'metrics.json').read_text())
    options = metric_options(skip=('lpips',))
    expected = []
    for image in document['images']:
        src, tar = cv2.imread(image['src']), cv2.imread(image['tar'])
        data = {'img': src, 'img2': tar}
        values = {name: float(calculate_metric(data, dict(options[name])))
                  for name in ('highlight_l1', 'highlight_shift')}
        expected.append(values)
        for name, value in values.items():
            recorded = image['scores']['input'][name]
            assert (recorded == 'nan') if math.isnan(value) else recorded == pytest.approx(value, rel=1e-12)
    assert [math.isnan(e['highlight_l1']) for e in expected] == [False, False, True]
    assert expected[0]['highlight_shift'] < 0  # the amateur version dims the windows
    mean = document['rows'][0]['mean']
    assert mean['highlight_l1'] == pytest.approx(np.mean([e['highlight_l1'] for e in expected[:2]]))
    assert document['metrics']['highlight_l1']['photos_scored'] == 2
    assert 'Highlight L1 ↓ (2/3 photos)' in (out / 'summary.md').read_text()
