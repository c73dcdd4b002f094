import pytest
import torch

from realestate_sr.archs.checkpoint import CheckpointMismatchError, load_checkpoint, read_state_dict
from realestate_sr.archs.nafnet_arch import NAFNet, NAFNetLocal
from tests.conftest import TINY_NAFNET, randomize_


@pytest.mark.parametrize('layout', ['params', 'params_ema', 'both', 'bare', 'ddp'])
@pytest.mark.parametrize('target_cls', [NAFNet, NAFNetLocal])
def test_round_trip_in_every_layout(tmp_path, layout, target_cls):
    source = randomize_(NAFNet(**TINY_NAFNET))
    state = source.state_dict()
    payload = {
        'params': {'params': state},
        'params_ema': {'params_ema': state},
        'both': {'params': {k: torch.zeros_like(v) for k, v in state.items()}, 'params_ema': state},
        'bare': state,
        'ddp': {'params': {f'module.{k}': v for k, v in state.items()}},
    }[layout]
    path = tmp_path / 'net.pth'
    torch.save(payload, path)
    target = load_checkpoint(target_cls(**TINY_NAFNET), path)
    for key, value in target.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)
    x = torch.rand(1, 3, 20, 28)
    torch.testing.assert_close(target.eval()(x), source.eval()(x))


def test_explicit_param_key_is_honoured_and_a_missing_one_is_named(tmp_path):
    state = NAFNet(**TINY_NAFNET).state_dict()
    path = tmp_path / 'net.pth'
    torch.save({'params': state}, path)
    assert set(read_state_dict(path, 'params')) == set(state)
    with pytest.raises(KeyError, match='params_ema'):
        read_state_dict(path, 'params_ema')


def test_mismatched_config_names_missing_unexpected_and_misshaped_keys(tmp_path):
    path = tmp_path / 'wide.pth'
    torch.save({'params': NAFNet(**{**TINY_NAFNET, 'width': 16, 'middle_blk_num': 2}).state_dict()}, path)
    with pytest.raises(CheckpointMismatchError) as error:
        load_checkpoint(NAFNet(**TINY_NAFNET), path)
    message = str(error.value)
    assert 'wide.pth' in message
    assert 'unexpected keys: middle_blks.1.' in message
    assert 'shape mismatches: decoders.0.0.beta: network (1, 16, 1, 1) vs checkpoint (1, 32, 1, 1)' in message


def test_missing_file_and_non_state_dict_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        load_checkpoint(NAFNet(**TINY_NAFNET), tmp_path / 'nowhere.pth')
    path = tmp_path / 'list.pth'
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointMismatchError, match='not a state_dict'):
        read_state_dict(path)


def test_pickled_objects_are_refused_by_weights_only_loading(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'params': NAFNet(**TINY_NAFNET)}, path)  # a whole pickled module, not tensors
    with pytest.raises(Exception, match='weights_only|Weights only'):
        read_state_dict(path)


def test_missing_keys_are_named(tmp_path):
    path = tmp_path / 'shallow.pth'
    torch.save({'params': NAFNet(**TINY_NAFNET).state_dict()}, path)
    with pytest.raises(CheckpointMismatchError) as error:
        load_checkpoint(NAFNet(**{**TINY_NAFNET, 'middle_blk_num': 2}), path)
    message = str(error.value)
    assert 'missing keys: middle_blks.1.beta, middle_blks.1.conv1.bias' in message
    assert 'unexpected keys' not in message and 'shape mismatches' not in message


@pytest.mark.parametrize('folder, expected', [
    ('experiments/w8/training_states', 'load {root}/experiments/w8/models/net_g_4000.pth'),
    ('downloads', 'load experiments/<name>/models/net_g_4000.pth'),
])
def test_a_training_state_is_refused_with_the_weights_file_to_load_instead(tmp_path, folder, expected):
    path = tmp_path / folder / '4000.state'
    path.parent.mkdir(parents=True)
    torch.save({'epoch': 3, 'iter': 4000, 'optimizers': [], 'schedulers': []}, path)
    with pytest.raises(CheckpointMismatchError) as error:
        load_checkpoint(NAFNet(**TINY_NAFNET), path)
    message = str(error.value)
    assert f'{path} is a training state (.state' in message and 'not network weights' in message
    assert message.endswith(expected.format(root=tmp_path))
