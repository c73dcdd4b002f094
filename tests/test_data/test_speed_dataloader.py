"""speed_dataloader.py: the table prints, and the GB10 projection uses only runs with workers."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'scripts'))
import speed_dataloader  # noqa: E402


def test_gb10_projection_ignores_runs_without_workers():
    rates = {('cache', 0): 700.0, ('cache', 2): 280.0, ('sub-images', 0): 140.0, ('sub-images', 2): 100.0}
    line = speed_dataloader.gb10_projection(rates, 512)
    assert '(cache, 2 workers) 140.0 x 16 workers = 2240 patches/s' in line
    assert '20 cores' in line and 'runs 16 workers' in line
    assert 'no projection' in speed_dataloader.gb10_projection({('cache', 0): 700.0}, 512)
    rates[('WholePhotoDataset, thumbnail cache', 2)] = 900.0  # a whole-photo row never stands for NAFNet's feed
    assert '(cache, 2 workers)' in speed_dataloader.gb10_projection(rates, 512)


def test_bench_prints_one_table_and_the_projection(tmp_path, capsys):
    code = speed_dataloader.main(['--pairs', '2', '--size', '64', '96', '--gt-size', '16', '--patches', '4',
                                  '--batch', '2', '--sub-size', '32', '--sub-step', '16', '--workers', '0', '1',
                                  '--thumb-size', '8', '--workdir', str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    table = [line for line in out.splitlines() if line.startswith('|')]
    assert table[0].startswith('| mode | patches/s, 0 workers |') and table[0].count('|') == 8
    assert len(table) == 2 + 9 and all(row.count('|') == 8 for row in table)
    assert table[-1].startswith('| WholePhotoDataset, memory cache + thumbnail cache (8 px) |')
    assert 'Projection: best per worker here (' in out and ', 1 workers)' in out
