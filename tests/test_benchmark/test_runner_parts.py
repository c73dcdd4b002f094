"""The benchmark runner's parts: oracles, MAC counts, recipe copies, per-photo summaries."""
import copy

import numpy as np
import pytest
import torch

from realestate_sr.benchmark import report
from realestate_sr.benchmark.macs import forward_macs, photo_macs
from realestate_sr.benchmark.oracle import (
    LUT_PRIOR_WEIGHT,
    apply_lut,
    fit_lut,
    fit_poly,
    oracle_lut,
    oracle_poly,
    poly_features,
)
from realestate_sr.benchmark.recipes import NEVER, RecipeError, bench_options, evaluate_args, scaled_periods
from tests.conftest import TINY_NAFNET
from tests.training_options import tiny_training_options


def test_poly_oracle_recovers_a_second_order_colour_map_exactly(photo):
    r, g, b = photo[..., 0], photo[..., 1], photo[..., 2]
    target = np.stack([0.8 * r + 0.1 * g * g + 0.05, 0.9 * g + 0.05 * r * b, 0.7 * b + 0.2 * r * g], axis=-1)
    np.testing.assert_allclose(oracle_poly(photo, target.astype(np.float32)), target, atol=1e-4)


def test_lut_oracle_fits_a_curve_the_polynomial_cannot(photo):
    target = (1.0 / (1.0 + np.exp(-(photo - 0.4) * 12.0))).astype(np.float32)  # an S-curve per channel
    lut_error = np.abs(oracle_lut(photo, target) - target).mean()
    poly_error = np.abs(oracle_poly(photo, target) - target).mean()
    assert lut_error < 0.6 * poly_error


def test_lut_is_exact_on_its_nodes_and_fills_empty_nodes_from_the_polynomial():
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, 5)] * 3, indexing='ij'), axis=-1).reshape(1, -1, 3)
    target = 1.0 - grid  # an inversion, which a degree-2 polynomial also fits exactly
    lut = fit_lut(grid.astype(np.float32), target.astype(np.float32), size=5)
    np.testing.assert_allclose(apply_lut(lut, grid.astype(np.float32), size=5), target, atol=1e-5)
    sparse = fit_lut(np.full((1, 4, 3), 0.5, np.float32), np.full((1, 4, 3), 0.25, np.float32), size=5)
    assert np.isfinite(sparse).all()


def reference_lut_fit(src, tar, size):
    """fit_lut as first written: all 64 corner products of every pixel into a sparse matrix, one solve per
    channel. The reference the per-cell formulation must match."""
    from scipy.sparse import coo_matrix, identity
    from scipy.sparse.linalg import spsolve
    pos = np.clip(src.reshape(-1, 3).astype(np.float64), 0.0, 1.0) * (size - 1)
    low = np.minimum(np.floor(pos).astype(np.int64), size - 2)
    frac = pos - low
    indices, weights = [], []
    for dr in (0, 1):
        for dg in (0, 1):
            for db in (0, 1):
                indices.append(((low[:, 0] + dr) * size + low[:, 1] + dg) * size + low[:, 2] + db)
                weights.append((frac[:, 0] if dr else 1 - frac[:, 0]) * (frac[:, 1] if dg else 1 - frac[:, 1])
                               * (frac[:, 2] if db else 1 - frac[:, 2]))
    indices, weights = np.stack(indices, axis=1), np.stack(weights, axis=1)
    nodes = size ** 3
    normal = coo_matrix(((weights[:, :, None] * weights[:, None, :]).ravel(),
                         (np.repeat(indices, 8, axis=1).ravel(), np.tile(indices, 8).ravel())), shape=(nodes, nodes))
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, size)] * 3, indexing='ij'), axis=-1).reshape(-1, 3)
    prior = poly_features(grid) @ fit_poly(src, tar)
    target = tar.reshape(-1, 3).astype(np.float64)
    rhs = np.stack([np.bincount(indices.ravel(), (weights * target[:, [c]]).ravel(), minlength=nodes)
                    for c in range(3)], axis=1) + LUT_PRIOR_WEIGHT * prior
    system = (normal + LUT_PRIOR_WEIGHT * identity(nodes)).tocsc()
    return np.stack([spsolve(system, rhs[:, c]) for c in range(3)], axis=1)


@pytest.mark.parametrize('size', [5, 17])
def test_lut_fit_matches_the_per_pixel_sparse_formulation(photo, size):
    rng = np.random.default_rng(2)
    curve = 1.0 / (1.0 + np.exp(-(photo[..., ::-1] - 0.45) * 9.0))  # channels swapped: no global curve per channel
    target = np.clip(curve + 0.02 * rng.standard_normal(photo.shape), 0, 1).astype(np.float32)
    expected, fitted = reference_lut_fit(photo, target, size), fit_lut(photo, target, size=size)
    np.testing.assert_allclose(fitted, expected, atol=1e-5, rtol=0)
    psnr = [-10 * np.log10(np.mean((np.clip(apply_lut(lut, photo, size=size), 0, 1) - target.astype(np.float64)) ** 2))
            for lut in (expected, fitted)]
    assert abs(psnr[0] - psnr[1]) < 1e-4


def test_macs_count_a_convolution_exactly_and_tiles_as_tiled_forward_runs_them():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1).to('meta')
    assert forward_macs(conv, 10, 12) == 3 * 8 * 9 * 10 * 12
    network = {'type': 'NAFNet', **TINY_NAFNET}
    whole = photo_macs(network, None, size=(256, 384))
    tiled = photo_macs(network, {'size': 128, 'overlap': 32, 'border_pad': 0}, size=(256, 384))
    # 128 px tiles at stride 96: 3 rows x 4 columns, each a 128x128 forward
    assert tiled == 12 * photo_macs(network, None, size=(128, 128))
    assert tiled > whole > 0


def test_bench_options_point_a_recipe_at_the_benchmark_and_change_only_what_they_say(tmp_path):
    opt = tiny_training_options('tiny', tmp_path / 'demo', total_iter=400)
    opt['train']['scheduler']['periods'] = [100, 300]
    opt['train']['scheduler']['restart_weights'] = [1, 0.5]
    original = copy.deepcopy(opt)
    bench = bench_options(opt, tmp_path / 'bench', 'bench_tiny', total_iter=8)
    assert opt == original  # the recipe is not modified
    assert bench['name'] == 'bench_tiny' and list(bench['datasets']) == ['train']
    assert bench['datasets']['train']['meta_file'] == str((tmp_path / 'bench' / 'train.jsonl').resolve())
    assert bench['train']['total_iter'] == 8 and bench['train']['scheduler']['periods'] == [2, 6]
    assert bench['val']['val_freq'] == NEVER and bench['logger']['save_checkpoint_freq'] == 8
    assert bench['network_g'] == opt['network_g'] and bench['train']['optim_g'] == opt['train']['optim_g']
    assert bench_options(opt, tmp_path, 'x')['train']['total_iter'] == 400  # its own budget by default
    with pytest.raises(RecipeError, match='not a training option file'):
        bench_options({'name': 'x'}, tmp_path, 'x')


def test_scaled_periods_sum_to_the_new_total():
    assert sum(scaled_periods([46000, 46000], 1000)) == 1000
    assert scaled_periods([400], 2) == [2]


def test_family_summary_averages_pairs_per_photo_then_spreads_over_photos():
    rows = [{'src': 'a0', 'photo': 'a', 'family': 'f'}, {'src': 'a1', 'photo': 'a', 'family': 'f'},
            {'src': 'b0', 'photo': 'b', 'family': 'f'}, {'src': 'c0', 'photo': 'c', 'family': 'g'}]
    scores = {'a0': {'psnr': 20.0}, 'a1': {'psnr': 30.0}, 'b0': {'psnr': 35.0}, 'c0': {'psnr': float('inf')}}
    mean, sd, photos = report.family_summary(scores, rows, 'f')['psnr']
    assert (mean, photos) == (30.0, 2) and sd == pytest.approx(np.std([25.0, 35.0], ddof=1))
    assert report.family_summary(scores, rows, 'g') == {}  # an infinite PSNR is left out, not averaged
    assert report.family_summary(scores, rows, 'none') is None


def test_a_recipe_bench_block_gives_extra_evaluate_args_and_stays_out_of_the_training_copy(tmp_path):
    opt = tiny_training_options('tiny', tmp_path, total_iter=4)
    opt['bench'] = {'evaluate_args': ['--tta']}
    assert evaluate_args(opt) == ['--tta'] and 'bench' not in bench_options(opt, tmp_path, 'x')
    assert evaluate_args(tiny_training_options('tiny', tmp_path, total_iter=4)) == []
    with pytest.raises(RecipeError, match='list of strings'):
        evaluate_args({'bench': {'evaluate_args': '--tta'}})


def test_metrics_evaluate_adds_later_become_columns_after_the_four_known_ones():
    columns = report.metric_columns({'l1': False, 'window_l1': False, 'psnr': True, 'lpips': False})
    assert [c[0] for c in columns] == ['psnr', 'l1', 'lpips', 'window_l1']
    assert columns[3][2] is False  # lower is better, as metrics.json said
    summaries = {'m': {'psnr': (30.0, 1.0, 2), 'window_l1': (0.05, 0.01, 2)}}
    table = report.metric_table(['m'], summaries, columns)
    assert '| m | 2 | **30.00 ± 1.00** |  |  | **0.0500 ± 0.0100** |' in table


def load_benchmark_script():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / 'scripts' / 'benchmark.py'
    spec = importlib.util.spec_from_file_location('benchmark_script', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_evaluation_with_some_failed_pairs_still_counts_the_scored_ones(tmp_path):
    import json
    script = load_benchmark_script()
    (tmp_path / 'metrics.json').write_text(json.dumps({
        'metrics': {'psnr': {'higher_is_better': True}},
        'images': [{'name': 'a.jpg', 'width': 10, 'height': 10, 'seconds': {'m': 0.5}, 'scores': {'m': {'psnr': 20}}}],
    }))
    failures = []
    scores, seconds, directions = script.read_report(tmp_path, 1, tmp_path / 'log', 'recipe', failures)
    assert scores == {'m': {'a.jpg': {'psnr': 20.0}}} and directions == {'psnr': True}
    assert len(failures) == 1 and 'some pairs failed' in failures[0]
    (tmp_path / 'log').write_text('Traceback\nerror: cannot set up the evaluation: boom\n')
    assert script.read_report(tmp_path, 2, tmp_path / 'log', 'recipe', failures) is None
    assert 'exited 2' in failures[1] and 'boom' in failures[1]


def test_folds_keep_scenes_whole_and_score_every_photo_once():
    from realestate_sr.benchmark.folds import choose_train_photos, fold_photos, scene_folds
    scene_of = {f'p{i:02d}': f's{i // 2}' for i in range(20)}  # 10 scenes of 2 photos
    folds = scene_folds(scene_of, 3)
    assert folds == scene_folds(scene_of, 3) and sorted(set(folds.values())) == [0, 1, 2]
    assert all(folds[f'p{i:02d}'] == folds[f'p{i + 1:02d}'] for i in range(0, 20, 2))
    scored_once = []
    for fold in range(3):
        train, scored = fold_photos(scene_of, 3, fold)
        assert not {scene_of[p] for p in train} & {scene_of[p] for p in scored}
        assert sorted(train + scored) == sorted(scene_of)
        scored_once += scored
        val_train, val = fold_photos(scene_of, 3, fold, split='val')
        assert val and not set(val) & set(scored) and not set(val_train) & set(scored)  # the test fold unseen
        assert not {scene_of[p] for p in val_train} & {scene_of[p] for p in val}
        assert sorted(val_train + val) == sorted(train)
    assert sorted(scored_once) == sorted(scene_of)
    train, _ = fold_photos(scene_of, 3, 0)
    chosen = choose_train_photos(train, scene_of, 4, seed=0)
    assert len(chosen) == 4 and set(chosen) <= set(train) and len({scene_of[p] for p in chosen}) == 2
    assert chosen == choose_train_photos(train, scene_of, 4, seed=0)
    assert choose_train_photos(train, scene_of, None) == sorted(train)
    with pytest.raises(ValueError, match='scenes'):
        scene_folds({'a': 'x', 'b': 'x'}, 2)


def test_budgets_and_seeds_in_the_training_copy(tmp_path):
    from realestate_sr.benchmark.recipes import budget_iters
    opt = tiny_training_options('tiny', tmp_path, total_iter=400)
    opt['train']['scheduler']['periods'] = [400]
    assert budget_iters(opt, 1) is None and budget_iters(opt, 5) == 2000 and budget_iters(opt, 5, iters=7) == 7
    copy_ = bench_options(opt, tmp_path, 'x', budget_iters(opt, 5), meta_file=tmp_path / 'piece.jsonl', seed=3)
    assert copy_['train']['total_iter'] == 2000 and copy_['train']['scheduler']['periods'] == [2000]
    assert copy_['manual_seed'] == 3 and copy_['datasets']['train']['meta_file'] == str(tmp_path / 'piece.jsonl')


def test_seed_rows_get_a_mean_row_with_the_spread_over_seeds():
    from realestate_sr.benchmark import cv_report

    def piece(seed, psnr):
        return {'key': {'recipe': 'r', 'task': 't', 'split': 'test', 'fold': 0, 'seed': seed, 'budget': 'demo',
                        'train_photos': None},
                'pairs': [{'src': 'a.jpg', 'task': 't', 'family': 'f', 'photo': 'a', 'variant': 0, 'fold': 0},
                          {'src': 'b.jpg', 'task': 't', 'family': 'f', 'photo': 'b', 'variant': 0, 'fold': 0}],
                'rows': {'r': {'a.jpg': {'psnr': psnr}, 'b.jpg': {'psnr': psnr + 2}}},
                'directions': {'psnr': True}, 'cost': {'budget': '1 x 1 x 1²', 'train_s': 10.0, 'eval_s': 2.0}}
    document, markdown = cv_report.tables([piece(0, 20.0), piece(1, 22.0)], held_out='f')
    rows = document['summaries']['t / f (held out: never trained on)']
    assert rows['r seed 0']['psnr'] == (21.0, pytest.approx(np.sqrt(2)), 2)
    mean, sd, _ = rows['r (mean of 2 seeds ± sd over seeds)']['psnr']
    assert mean == 22.0 and sd == pytest.approx(np.sqrt(2))
    assert document['costs']['r']['total_s'] == 24.0 and '## Style: t' in markdown


def test_a_row_that_scored_only_some_tasks_is_marked_partial_and_gets_no_seed_mean_or_bold():
    from realestate_sr.benchmark import cv_report

    def piece(seed, task, psnr):
        return {'key': {'recipe': 'r', 'task': task, 'split': 'test', 'fold': 0, 'seed': seed, 'budget': 'demo',
                        'train_photos': None},
                'pairs': [{'src': 'a.jpg', 'task': task, 'family': 'f', 'photo': 'a', 'variant': 0, 'fold': 0}],
                'rows': {'r': {'a.jpg': {'psnr': psnr}}},
                'directions': {'psnr': True}, 'cost': {'budget': '1 x 1 x 1²', 'train_s': 1.0, 'eval_s': 1.0}}
    # seed 0 ran both tasks, seed 1 only the easy one: its mean over styles would look 10 dB better
    pieces = [piece(0, 'hard', 20.0), piece(0, 'easy', 30.0), piece(1, 'easy', 31.0)]
    document, markdown = cv_report.tables(pieces, held_out='x')
    summary = document['summaries']['all styles / all capture families']
    assert summary['r seed 0']['psnr'][0] == 25.0
    assert summary['r seed 1 (partial: 1 of 2 pairs)']['psnr'][0] == 31.0
    assert not any('mean of 2 seeds' in name for name in summary)
    assert '| r seed 1 (partial: 1 of 2 pairs) | 1 | 31.00 ± 0.00 |' in markdown
    # within the task both seeds are complete: no mark, and their mean
    easy = document['summaries']['easy / all capture families']
    assert easy['r (mean of 2 seeds ± sd over seeds)']['psnr'][0] == 30.5 and 'r seed 1' in easy


def test_paired_differences_subtract_the_baseline_piece_by_piece_and_give_its_seed_spread():
    from realestate_sr.benchmark import cv_report

    def piece(recipe, task, fold, seed, psnr_a, psnr_b):
        pairs = [{'src': f'{photo}_{family}.jpg', 'task': task, 'family': family, 'photo': photo, 'variant': 0,
                  'fold': fold} for photo in 'ab' for family in ('f', 'g')]
        values = {'a': psnr_a, 'b': psnr_b}
        return {'key': {'recipe': recipe, 'task': task, 'split': 'val', 'fold': fold, 'seed': seed,
                        'budget': 'demo', 'train_photos': None}, 'pairs': pairs,
                'rows': {recipe: {p['src']: {'psnr': values[p['photo']]} for p in pairs}},
                'directions': {'psnr': True}, 'cost': {'budget': '', 'train_s': 1.0, 'eval_s': 1.0}}
    pieces = [piece('base', 't', 0, 0, 20.0, 22.0), piece('base', 't', 0, 1, 21.0, 23.0),  # seeds: 21 and 22
              piece('base', 'u', 1, 0, 30.0, 30.0),
              piece('new', 't', 0, 0, 22.0, 23.0), piece('new', 'u', 1, 0, 30.5, 30.5),
              piece('new', 'u', 2, 0, 99.0, 99.0)]  # no baseline piece on fold 2: not compared
    paired = cv_report.paired_differences(pieces, 'val', 'base')
    row = paired['rows']['new']
    assert row['pieces'] == 2 and row['mean'] == pytest.approx(1.0) and row['sd'] == pytest.approx(np.sqrt(0.5))
    assert (row['min'], row['max'], row['tasks']) == (pytest.approx(0.5), pytest.approx(1.5), ['t', 'u'])
    assert paired['seed_spread'] == pytest.approx(np.sqrt(0.5)) and paired['seed_cells'] == 1
    document, markdown = cv_report.tables(pieces, 'val', held_out='g', baseline='base')
    assert '| new | 2 | +1.00 | 0.71 | +0.50 | +1.50 | t, u |' in markdown
    assert cv_report.paired_differences(pieces, 'test', 'base') is None  # no piece of that split


def test_whole_photo_networks_are_counted_in_one_pass_whatever_the_tile():
    grid = {'type': 'BilateralGridNet', 'thumb_size': 32, 'width': 4, 'levels': 2, 'max_width': 8, 'grid_depth': 4,
            'guide_hidden': 4}
    whole = photo_macs(grid, None, size=(60, 90))
    assert whole > 0 and photo_macs(grid, {'size': 32, 'overlap': 8}, size=(60, 90)) == whole
    # the guide's RGB mix and its MLP's two linear layers run on every pixel (3x1 + 3x4 + 4x1 MACs); the
    # encoder sees only the thumbnail, so the count grows with the photo by exactly that
    assert photo_macs(grid, None, size=(120, 90)) - whole == 60 * 90 * (3 * 1 + 3 * 4 + 4 * 1)


def test_local_oracle_recovers_a_known_grid_edit_through_the_networks_slicing(photo):
    from realestate_sr.archs.bilateral_grid_arch import apply_affine, corner_table, slice_grid
    from realestate_sr.benchmark.local_oracle import GRID_SHAPE, apply_grid, fit_grid, oracle_local
    from realestate_sr.utils.colour import LUMA_601, luma
    rng = np.random.default_rng(0)
    grid = (np.eye(3, 4).reshape(12) + 0.08 * rng.standard_normal((*GRID_SHAPE, 12))).astype(np.float32)
    # the target made by the network's gather path (slice_grid + apply_affine), not by the oracle's own code
    height, width = photo.shape[:2]
    volume = torch.from_numpy(grid)[None]
    v, u = torch.meshgrid((torch.arange(height) + 0.5) / height, (torch.arange(width) + 0.5) / width, indexing='ij')
    guide = torch.from_numpy(luma(photo, LUMA_601))
    coeffs = slice_grid(corner_table(volume), volume.shape, u[None], v[None], guide[None])
    target = apply_affine(coeffs, torch.from_numpy(photo)[None])[0].numpy()
    np.testing.assert_allclose(apply_grid(grid, photo), target, atol=1e-5)
    fitted = apply_grid(fit_grid(photo, target), photo)
    assert -10 * np.log10(np.mean((fitted - target) ** 2)) > 45
    clipped = np.clip(target, 0, 1)
    assert np.mean((oracle_local(photo, clipped) - clipped) ** 2) < 0.1 * np.mean((photo - clipped) ** 2)


def test_local_oracle_design_of_chosen_pixels_is_the_rows_of_the_whole_design(photo):
    from realestate_sr.benchmark.local_oracle import grid_design
    pixels = np.arange(3, photo.shape[0] * photo.shape[1], 7)
    for whole, chosen in zip(grid_design(photo), grid_design(photo, pixels=pixels)):
        np.testing.assert_array_equal(whole[pixels], chosen)


def test_local_oracle_is_never_worse_than_the_source(photo):
    from realestate_sr.benchmark.local_oracle import oracle_local
    rng = np.random.default_rng(1)
    noise = rng.uniform(0, 1, photo.shape).astype(np.float32)  # no colour transform explains it
    for target in (photo, noise, np.clip(photo + 0.3 * (noise - 0.5), 0, 1)):
        out = oracle_local(photo, target)
        assert out.shape == photo.shape and out.dtype == np.float32
        assert np.mean((out - target) ** 2) <= np.mean((photo - target) ** 2) + 1e-9


def test_only_references_with_no_references_is_refused_before_anything_runs(tmp_path, capsys):
    import json
    script = load_benchmark_script()
    (tmp_path / 'build_info.json').write_text(json.dumps({'tasks': ['none'], 'captures': ['amateur'],
                                                          'settings': {}}))
    assert script.main(['--only-references', '--no-references', '--data', str(tmp_path),
                        '-o', str(tmp_path / 'out')]) == 2
    assert 'nothing to run' in capsys.readouterr().err and not (tmp_path / 'out').exists()
    assert script.main(['--data', str(tmp_path / 'old'), '-o', str(tmp_path / 'out')]) == 2


def test_the_one_process_at_a_time_gets_every_core_unless_the_user_chose_a_thread_count():
    import os
    script = load_benchmark_script()
    assert script.child_environment({'PATH': '/bin'})['OMP_NUM_THREADS'] == str(os.cpu_count())
    assert script.child_environment({'OMP_NUM_THREADS': '1'})['OMP_NUM_THREADS'] == '1'


def test_work_split_by_pair_takes_the_cores_the_run_may_use():
    script = load_benchmark_script()
    assert script.side_by_side_workers({'OMP_NUM_THREADS': '2'}, 40) == 2
    assert script.side_by_side_workers({'OMP_NUM_THREADS': '1'}, 40) == 1
    assert script.side_by_side_workers({'OMP_NUM_THREADS': '4'}, 3) == 3
    assert script.side_by_side_workers({'OMP_NUM_THREADS': 'lots'}, 3) == 1


def test_side_by_side_jobs_run_at_once(tmp_path):
    """The first job waits for a file only the second one writes: run one after the other, it gives up."""
    import sys
    script = load_benchmark_script()
    flag = tmp_path / 'second_started'
    waiter = ('import pathlib, sys, time\nfor _ in range(600):\n'
              '    if pathlib.Path(sys.argv[1]).exists(): sys.exit(0)\n    time.sleep(0.05)\nsys.exit(3)')
    jobs = [([sys.executable, '-c', waiter, str(flag)], tmp_path / 'first.log'),
            ([sys.executable, '-c', 'import pathlib, sys; pathlib.Path(sys.argv[1]).touch()', str(flag)],
             tmp_path / 'second.log')]
    ended, _ = script.run_side_by_side(jobs, {'PATH': '/usr/bin:/bin'})
    assert [rc for rc, _ in ended] == [0, 0]


def test_a_pair_s_oracles_are_written_and_a_bad_pair_is_an_error_text_not_an_exception(tmp_path, photo):
    import cv2

    from realestate_sr.benchmark.oracle_files import read_rgb, write_pair_oracles
    for name, rgb in (('src.png', photo), ('tar.png', np.sqrt(photo))):
        cv2.imwrite(str(tmp_path / name), (rgb[..., ::-1] * 255).round().astype(np.uint8))
    destinations = {'oracle_lut': tmp_path / 'lut' / 'a.png', 'oracle_local': tmp_path / 'local' / 'a.png'}
    assert write_pair_oracles(tmp_path / 'src.png', tmp_path / 'tar.png', destinations) is None
    target = read_rgb(tmp_path / 'tar.png')
    for path in destinations.values():
        assert np.abs(read_rgb(path) - target).mean() < np.abs(read_rgb(tmp_path / 'src.png') - target).mean() / 4
    assert 'missing.png' in write_pair_oracles(tmp_path / 'missing.png', tmp_path / 'tar.png', destinations)
