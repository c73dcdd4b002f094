"""path.pretrain_network_g of the wrong kind or layout is one CheckpointMismatchError line, not torch's traceback."""
import pytest
import torch

from realestate_sr.archs.checkpoint import CheckpointMismatchError
from realestate_sr.archs.nafnet_arch import NAFNet
from tests.conftest import TINY_NAFNET
from tests.test_models.test_enhance_model import model_opt

from basicsr.models import build_model


def opt_starting_from(tmp_path, checkpoint):
    opt = model_opt(tmp_path)
    opt['path']['pretrain_network_g'] = str(checkpoint)
    return opt


def one_line_error(opt):
    with pytest.raises(CheckpointMismatchError) as caught:
        build_model(opt)
    message = str(caught.value)
    assert '\n' not in message and message.startswith('path.pretrain_network_g: ')
    return message


def test_a_checkpoint_of_another_width_names_the_mismatch(tmp_path):
    wider = tmp_path / 'net_g_wide.pth'
    torch.save({'params': NAFNet(**{**TINY_NAFNET, 'width': 16}).state_dict()}, wider)
    message = one_line_error(opt_starting_from(tmp_path, wider))
    assert 'does not fit network_g (NAFNet, width 8)' in message
    assert 'shape mismatches: ' in message and 'in all)' in message  # checkpoint.describe_mismatch's list
    assert 'decoders.0.0.conv1.bias: network (32,) vs checkpoint (64,)' in message  # 4 x width


def test_an_onnx_file_is_refused_before_loading(tmp_path):
    export = tmp_path / 'net.onnx'
    export.write_bytes(b'\x08\x07onnx-bytes')
    assert 'is an ONNX export' in one_line_error(opt_starting_from(tmp_path, export))


def test_a_file_that_is_not_a_checkpoint_is_one_line(tmp_path):
    junk = tmp_path / 'weights.pth'
    junk.write_bytes(b'not a zip archive at all')
    assert f'{junk} does not load as a PyTorch checkpoint' in one_line_error(opt_starting_from(tmp_path, junk))


def test_a_training_state_is_refused_with_the_weights_to_load_instead(tmp_path):
    state = tmp_path / 'training_states' / '8.state'
    state.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'iter': 8, 'epoch': 0, 'optimizers': [], 'schedulers': []}, state)
    assert 'net_g_8.pth' in one_line_error(opt_starting_from(tmp_path, state))


def test_a_fitting_checkpoint_loads(tmp_path):
    torch.manual_seed(1)
    source = NAFNet(**TINY_NAFNET)
    path = tmp_path / 'net_g_1.pth'
    torch.save({'params': source.state_dict()}, path)
    model = build_model(opt_starting_from(tmp_path, path))
    assert torch.equal(model.net_g.intro.weight, source.intro.weight)
