"""Models declare the option keys they read (OPTION_KEYS on their class); the start-up checks read them from
BasicSR's model registry."""
import realestate_sr  # noqa: F401
from realestate_sr.models.enhance_model import EnhanceModel
from realestate_sr.models.option_checks import (
    PATH_KEYS,
    TOP_LEVEL,
    TRAIN_KEYS,
    VAL_KEYS,
    model_option_keys,
    training_option_problems,
)

from basicsr.utils.registry import MODEL_REGISTRY


def test_the_declared_keys_are_the_ones_the_checks_knew_before():
    keys = model_option_keys()
    assert TOP_LEVEL | set(keys['']) >= {'network_g', 'network_d', 'find_unused_parameters'}
    assert PATH_KEYS | set(keys['path']) == {
        'pretrain_network_g', 'strict_load_g', 'param_key_g', 'resume_state', 'ignore_resume_networks',
        'pretrain_network_d', 'strict_load_d', 'param_key_d',
        'experiments_root', 'models', 'training_states', 'log', 'visualization'}
    assert TRAIN_KEYS | set(keys['train']) == {
        'ema_decay', 'bf16', 'channels_last', 'grad_clip_norm', 'optim_g', 'scheduler', 'total_iter', 'warmup_iter',
        'pixel_opt', 'perceptual_opt', 'lut_opt', 'whole_opt', 'optim_d', 'gan_opt', 'net_d_iters',
        'net_d_init_iters'}
    assert VAL_KEYS | set(keys['val']) == {'val_freq', 'save_img', 'suffix', 'pbar', 'tile', 'tlc', 'tb_images',
                                           'tb_image_side', 'metrics', 'best'}


def test_a_new_model_adds_its_keys_by_declaring_them(monkeypatch):
    class CurveModel(EnhanceModel):
        OPTION_KEYS = {'': ('network_curve', ), 'train': ('curve_opt', )}

    opt = {'model_type': 'CurveModel', 'network_curve': {}, 'train': {'curve_opt': {'type': 'PixelL1Loss',
                                                                                    'loss_wieght': 1.0}}}
    before = training_option_problems(opt, cuda_available=True)
    assert "unknown key 'network_curve' in the option file" in before[0]
    monkeypatch.setitem(MODEL_REGISTRY._obj_map, 'CurveModel', CurveModel)
    # known now, and its loss block is checked against the loss it names
    assert training_option_problems(opt, cuda_available=True) == [
        "unknown key 'loss_wieght' in train.curve_opt (PixelL1Loss) (did you mean 'loss_weight'?)"]
