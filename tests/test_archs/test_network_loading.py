import pytest
import torch
import yaml

from realestate_sr.archs.nafnet_arch import NAFNet, NAFNetLocal
from realestate_sr.archs.network_loading import build_inference_network
from realestate_sr.options import read_option_file, training_patch_size
from tests.conftest import TINY_NAFNET, randomize_


def write_opt(tmp_path, gt_size=64):
    path = tmp_path / 'opt.yml'
    path.write_text(yaml.safe_dump({'network_g': {'type': 'NAFNet', **TINY_NAFNET},
                                    'datasets': {'train': {'gt_size': gt_size}}}))
    return path


def test_yaml_network_with_tlc_uses_the_training_patch_size(tmp_path):
    option_file = read_option_file(write_opt(tmp_path, gt_size=64))
    network_opt, train_size = option_file.network_opt(), training_patch_size(option_file.options)
    assert train_size == (1, 3, 64, 64)
    net = build_inference_network(network_opt, tlc=True, train_size=train_size)
    assert isinstance(net, NAFNetLocal) and net.base_size == (96, 96) and not net.training


def test_checkpoint_is_loaded_and_tlc_can_be_switched_off(tmp_path):
    source = randomize_(NAFNet(**TINY_NAFNET))
    ckpt = tmp_path / 'net.pth'
    torch.save({'params_ema': source.state_dict()}, ckpt)
    network_opt = {'type': 'NAFNetLocal', **TINY_NAFNET, 'train_size': [1, 3, 32, 32]}
    net = build_inference_network(network_opt, checkpoint=ckpt, tlc=False)
    assert type(net) is NAFNet
    x = torch.rand(1, 3, 40, 40)
    torch.testing.assert_close(net(x), source.eval()(x))


def test_option_file_without_network_is_a_clear_error(tmp_path):
    path = tmp_path / 'bad.yml'
    path.write_text('name: nothing\n')
    with pytest.raises(KeyError, match='network_g'):
        read_option_file(path).network_opt()
