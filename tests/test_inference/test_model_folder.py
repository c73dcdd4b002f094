"""``--model experiments/<name>``: every tool runs the folder's net_g_best.pth (else net_g_latest.pth) and says which
in one line; a folder with neither is one error line naming its newest checkpoint."""
import shutil

import pytest
import torch
import yaml

from tests.conftest import TINY_NAFNET
from tests.test_inference.conftest import TINY_FLAGS, load_script
from tests.test_inference.photo_makers import encode_pil, smooth_rgb

BEST = {'iter': 40, 'metric': 'psnr', 'value': 23.5, 'dataset': 'val_set'}


@pytest.fixture
def tools(tmp_path, tiled_infer, export_onnx_script, capsys):
    """``tools(model)`` runs tiled_infer, export_onnx, evaluate and serve's set-up on ``model`` ->
    {tool: (exit code, stdout + stderr)}."""
    from tests.test_evaluation.test_evaluate_script import evaluate_script

    serve = load_script('serve')
    source = tmp_path / 'in'
    source.mkdir()
    (source / 'a.png').write_bytes(encode_pil(smooth_rgb(40, 40), 'PNG'))
    opt = tmp_path / 'tiny.yml'  # evaluate takes a checkpoint without a trained_with record only with --opt
    opt.write_text(yaml.safe_dump({'network_g': {'type': 'NAFNet', **TINY_NAFNET}, 'val': {'tile': None}}))

    def serve_main(argv):
        args = serve.build_parser().parse_args(argv)
        try:
            _, config = serve.build(args)
        except OSError as error:
            print(error)
            return 2
        print(f'model name {config.model_name}')
        return 0

    def run(model):
        model, network = str(model), [*TINY_FLAGS, '--tile-size', '0']
        mains = {
            'tiled_infer': lambda: tiled_infer.main(['-i', str(source), '-o', str(tmp_path / 'out'), '--model', model,
                                                     *network]),
            'export_onnx': lambda: export_onnx_script.main(['--model', model, '-o', str(tmp_path / 'x.onnx'),
                                                            *network]),
            'evaluate': lambda: evaluate_script.main(['--pairs', str(source), str(source), '--model', model,
                                                      '--opt', str(opt), '--skip-lpips', '--baselines', '',
                                                      '--overwrite', '-o', str(tmp_path / 'r'), '--quiet']),
            'serve': lambda: serve_main(['--model', model, *network]),
        }
        results = {}
        for tool, main in mains.items():
            code = main()
            captured = capsys.readouterr()
            results[tool] = (code, captured.out + captured.err)
        return results

    return run


@pytest.mark.slow  # two ONNX exports and two evaluations: ~30 s here
def test_every_tool_runs_the_best_checkpoint_of_an_experiment_folder_and_says_so(tmp_path, tools, tiny_checkpoint):
    models = tmp_path / 'experiments' / 'grid_run' / 'models'
    models.mkdir(parents=True)
    shutil.copy(tiny_checkpoint, models / 'net_g_latest.pth')
    torch.save({**torch.load(tiny_checkpoint, weights_only=True), 'best': BEST}, models / 'net_g_best.pth')
    folder = models.parent
    for tool, (code, output) in tools(folder).items():
        assert code == 0, (tool, output)
        lines = [line for line in output.splitlines() if line.startswith(f'--model {folder}: ')]
        assert lines == [f'--model {folder}: using {models}/net_g_best.pth (best validation, psnr 23.5000 on '
                         'val_set at iter 40)'], (tool, output)
    assert 'model name grid_run/net_g_best' in tools(folder)['serve'][1]

    (models / 'net_g_best.pth').unlink()  # a run without val.best: the end of training
    for tool, (code, output) in tools(folder).items():
        assert code == 0 and f'using {models}/net_g_latest.pth (no net_g_best.pth' in output, (tool, output)


def test_an_experiment_folder_without_best_or_latest_is_one_line_in_every_tool(tmp_path, tools, tiny_checkpoint):
    models = tmp_path / 'running' / 'models'
    models.mkdir(parents=True)
    shutil.copy(tiny_checkpoint, models / 'net_g_4.pth')
    for tool, (code, output) in tools(models.parent).items():
        assert code == 2, (tool, output)
        assert 'holds neither' in output and f'newest checkpoint is {models}/net_g_4.pth: give that file' in output
        assert 'Traceback' not in output and len(output.strip().splitlines()) == 1, (tool, output)

