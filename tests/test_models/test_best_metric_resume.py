"""The best validation results so far (BasicSR's ``best_metric_results``, logged as ``Best: ... @ iter``) are
kept in the training state and come back on resume, instead of starting afresh."""
from types import SimpleNamespace

import torch

from tests.test_models.test_enhance_model import fixed_batch, model_opt

from basicsr.models import build_model

PSNR = {'psnr': {'type': 'calculate_psnr', 'crop_border': 0, 'test_y_channel': False}}


class OnePair:
    """A validation loader of one pair, as SRModel's validation reads it."""
    dataset = SimpleNamespace(opt={'name': 'tiny_val'})

    def __init__(self, batch):
        self.batch = {**batch, 'lq_path': ['pair0_src.png']}

    def __len__(self):
        return 1

    def __iter__(self):
        yield self.batch


def test_best_metric_results_are_saved_in_the_training_state_and_restored_on_resume(tmp_path):
    opt = model_opt(tmp_path, val={'metrics': PSNR, 'save_img': False, 'tile': None})
    torch.manual_seed(0)
    model = build_model(opt)
    model.feed_data(fixed_batch())
    model.optimize_parameters(1)
    model.validation(OnePair(fixed_batch(seed=1)), 2, None, save_img=False)
    best = model.best_metric_results['tiny_val']['psnr']
    assert best['iter'] == 2 and best['val'] > 0
    model.save(epoch=0, current_iter=2)

    # resume.load_resume_state reads states with weights_only=True: numpy scalars would not load
    state = torch.load(tmp_path / 'training_states' / '2.state', weights_only=True)
    resumed = build_model(opt)
    resumed.resume_training(state)
    assert resumed.best_metric_results == {'tiny_val': {'psnr': {'better': 'higher', 'val': best['val'], 'iter': 2}}}
