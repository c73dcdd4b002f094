"""evaluate.py --strength: the network rows and metrics.json say at what strength the edit ran."""
import json

from tests.test_evaluation.test_evaluate_script import run as run_evaluate


def test_evaluate_names_the_strength_in_its_rows_and_metrics_json(eval_pairs, tiny_model, tmp_path):
    opt_file, checkpoints = tiny_model
    out = tmp_path / 'report'
    code = run_evaluate('--pairs', eval_pairs['manifest'], '--opt', opt_file, '--model', checkpoints[0],
                        '--strength', 0.5, '--tile-size', 32, '--overlap', 8, '--skip-lpips', '--no-html',
                        '--baselines', 'input', '-o', out)
    assert code == 0
    document = json.loads((out / 'metrics.json').read_text())
    assert [row['method'] for row in document['rows']] == ['input', 'fold0/net_g_latest@params_ema@strength=0.5']
    assert document['config']['strength'] == 0.5
