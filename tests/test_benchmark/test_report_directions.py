"""The benchmark's tables read each metric's direction from metrics.json, nearest-zero included."""
import json

from realestate_sr.benchmark import report
from realestate_sr.evaluation.scoring import METRICS, better
from realestate_sr.utils.metric_table import HIGHER, METRIC_BETTER, METRIC_DECIMALS, METRIC_TITLES


def test_each_scored_metric_has_its_direction_title_and_decimals_in_the_one_table():
    assert set(METRICS) == set(METRIC_BETTER) == set(METRIC_TITLES) == set(METRIC_DECIMALS)
    assert all(higher == (better(name) == HIGHER) for name, _, higher, _ in report.METRICS)


def test_a_signed_metric_bolds_the_value_nearest_zero(tmp_path):
    metrics = tmp_path / 'metrics.json'
    metrics.write_text(json.dumps({'metrics': {
        'l1': {'higher_is_better': False, 'better': 'lower'},
        'highlight_shift': {'higher_is_better': False, 'better': 'zero'}}}))
    directions = report.metric_directions(metrics)
    assert directions == {'l1': False, 'highlight_shift': 'zero'}
    columns = report.metric_columns(directions)
    summaries = {'dim': {'l1': (0.10, 0.0, 3), 'highlight_shift': (-0.20, 0.0, 3)},
                 'close': {'l1': (0.20, 0.0, 3), 'highlight_shift': (0.01, 0.0, 3)},
                 'bright': {'l1': (0.30, 0.0, 3), 'highlight_shift': (0.05, 0.0, 3)}}
    table = report.metric_table(['dim', 'close', 'bright'], summaries, columns)
    assert '| method | photos | L1 ↓ | highlight_shift →0 |' in table
    assert '| dim | 3 | **0.1000 ± 0.0000** | -0.2000 ± 0.0000 |' in table
    assert '| close | 3 | 0.2000 ± 0.0000 | **0.0100 ± 0.0000** |' in table
