"""val.best: the validation that improves the chosen metric writes models/net_g_best.pth (the checkpoint of that
iteration plus its ``best`` record), a worse one leaves it, the record survives a resume, and patience counts the
validations without improvement."""
import math

import pytest
import torch

from realestate_sr.archs.network_loading import resolve_checkpoint
from realestate_sr.models.best_validation import BestValidation, best_option_problems
from realestate_sr.models.option_checks import training_option_problems
from tests.test_models.test_best_metric_resume import PSNR, OnePair
from tests.test_models.test_enhance_model import fixed_batch, model_opt

from basicsr.models import build_model

L1 = {'l1': {'type': 'calculate_l1', 'better': 'lower'}}


def tracker(better='higher', patience=None):
    return BestValidation(metric='psnr', dataset='val', better=better, patience=patience)


def test_only_a_strictly_better_value_is_a_new_best_and_patience_counts_the_others():
    best = tracker(patience=2)
    assert best.update(1, 20.0) and best.iter == 1
    assert not best.update(2, 20.0)  # a metric that stays put is no improvement
    assert not best.patience_exhausted()
    assert not best.update(3, math.nan)
    assert best.patience_exhausted() and best.validations_since == 2
    assert best.update(4, 20.5) and (best.iter, best.value, best.validations_since) == (4, 20.5, 0)
    lower = tracker(better='lower')
    assert lower.update(1, 0.2) and lower.update(2, 0.1) and not lower.update(3, 0.15)
    assert (lower.iter, lower.value) == (2, 0.1)


def test_resume_takes_the_state_and_a_better_saved_record_of_the_same_metric():
    earlier = tracker()
    earlier.update(2, 20.0)
    earlier.update(4, 19.0)
    resumed = tracker()
    resumed.resume(earlier.state())
    assert (resumed.iter, resumed.value, resumed.validations_since) == (2, 20.0, 1)
    # the periodic save of iter 4 came before the validation of iter 4, which wrote a better net_g_best.pth
    resumed.resume(earlier.state(), {'iter': 4, 'metric': 'psnr', 'value': 21.0, 'dataset': 'val'})
    assert (resumed.iter, resumed.value, resumed.validations_since) == (4, 21.0, 0)
    other = tracker()
    other.resume({**earlier.state(), 'metric': 'ssim'}, {'iter': 4, 'metric': 'ssim', 'value': 0.9, 'dataset': 'val'})
    assert other.iter is None  # another metric's record says nothing about this one


def test_defaults_are_the_first_metric_with_its_direction_and_the_first_validation_set():
    opt = {'datasets': {'train': {'name': 'tr'}, 'val_1': {'name': 'first'}, 'val_2': {'name': 'second'}},
           'val': {'metrics': {**L1, **PSNR}, 'best': {}}}
    best = BestValidation.from_options(opt)
    assert (best.metric, best.better, best.dataset, best.patience) == ('l1', 'lower', 'first', None)
    assert BestValidation.from_options({**opt, 'val': {'metrics': PSNR}}) is None  # no val.best: none


@pytest.mark.parametrize('best, expected', [
    ({'metric': 'lpips'}, "val.best.metric: 'lpips' is not one of val.metrics (psnr)"),
    ({'dataset': 'nowhere'}, "val.best.dataset: 'nowhere' is not the name of a validation set (tiny_val)"),
    ({'patience': 0}, 'val.best.patience: 0; give a number of validations >= 1'),
    ({'patience': 'ten'}, "val.best.patience: 'ten'; give a number"),
    ({'metrc': 'psnr'}, "unknown key 'metrc' in val.best (did you mean 'metric'?)"),
])
def test_option_mistakes_in_val_best_are_one_line_each(best, expected):
    opt = {'datasets': {'val': {'name': 'tiny_val'}}, 'val': {'val_freq': 1, 'metrics': PSNR, 'best': best}}
    problems = training_option_problems(opt, cuda_available=True)
    assert any(problem.startswith(expected) for problem in problems), problems
    assert best_option_problems({'val': {'metrics': PSNR}}) == []


def validate(model, iteration, batch):
    model.validation(OnePair(batch), iteration, None, save_img=False)
    return model.metric_results['psnr']


def test_a_better_validation_writes_net_g_best_and_a_worse_or_equal_one_leaves_it(tmp_path):
    opt = model_opt(tmp_path, val={'metrics': PSNR, 'save_img': False, 'tile': None, 'best': {'metric': 'psnr'}})
    opt['datasets']['val'] = {'name': 'tiny_val'}
    torch.manual_seed(0)
    model = build_model(opt)
    model.feed_data(fixed_batch())
    model.optimize_parameters(1)
    model.save(epoch=0, current_iter=1)  # the loop's order: the periodic save, then the validation
    pair = fixed_batch(seed=1)
    first = validate(model, 1, pair)
    best_path = tmp_path / 'models' / 'net_g_best.pth'
    saved = torch.load(best_path, weights_only=True)
    assert saved['best'] == {'iter': 1, 'metric': 'psnr', 'value': pytest.approx(first), 'dataset': 'tiny_val'}
    assert type(saved['best']['value']) is float and type(saved['best']['iter']) is int
    numbered = torch.load(tmp_path / 'models' / 'net_g_1.pth', weights_only=True)
    assert set(saved) - {'best'} == set(numbered) == {'params', 'params_ema', 'trained_with'}
    for key in ('params', 'params_ema'):
        assert all(torch.equal(saved[key][name], numbered[key][name]) for name in numbered[key])
    assert saved['trained_with'] == numbered['trained_with']

    assert validate(model, 2, {'lq': pair['lq'], 'gt': 1 - pair['gt']}) < first  # worse
    assert validate(model, 3, pair) == first  # as good: no improvement either
    assert torch.load(best_path, weights_only=True)['best']['iter'] == 1
    assert model.best_validation.validations_since == 2

    # the state of iter 1 was written before iter 1 validated: the best comes from net_g_best.pth
    state = torch.load(tmp_path / 'training_states' / '1.state', weights_only=True)
    resumed = build_model(opt)
    resumed.resume_training(state)
    assert (resumed.best_validation.iter, resumed.best_validation.value) == (1, pytest.approx(first))
    resumed.best_validation.update(4, first - 1)
    assert resumed.best_validation.iter == 1  # a worse value after the resume is no new best


def test_an_experiment_folder_stands_for_its_best_else_its_latest_checkpoint(tmp_path):
    models = tmp_path / 'exp' / 'models'
    models.mkdir(parents=True)
    (models / 'net_g_7.pth').write_bytes(b'')
    (models / 'net_g_10.pth').write_bytes(b'')
    with pytest.raises(FileNotFoundError, match='newest checkpoint is .*net_g_10.pth: give that file'):
        resolve_checkpoint(tmp_path / 'exp')  # newest by iteration, not by name
    torch.save({'params': {}}, models / 'net_g_latest.pth')
    path, note = resolve_checkpoint(tmp_path / 'exp')
    assert path == models / 'net_g_latest.pth' and 'no net_g_best.pth' in note
    torch.save({'params': {}, 'best': {'iter': 7, 'metric': 'psnr', 'value': 24.5, 'dataset': 'v'}},
               models / 'net_g_best.pth')
    for given in (tmp_path / 'exp', models):
        path, note = resolve_checkpoint(given)
        assert path == models / 'net_g_best.pth' and 'psnr 24.5000 on v at iter 7' in note
    assert resolve_checkpoint(models / 'net_g_7.pth') == (models / 'net_g_7.pth', None)
