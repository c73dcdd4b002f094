"""The precision and device decisions of InferenceSettings and its option file (the rest: test_enhancer.py)."""
import logging

import pytest
import torch

from realestate_sr.inference.settings import InferenceSettings, SettingsError, resolve_device
from realestate_sr.options import OptionFileError
from tests.test_inference.photo_makers import encode_pil, smooth_rgb


def test_each_precision_runs_its_autocast_dtype_and_fp16_needs_cuda():
    dtypes = [InferenceSettings(precision=name).autocast_dtype('cuda:0') for name in ('fp32', 'bf16', 'fp16')]
    assert dtypes == [None, torch.bfloat16, torch.float16]
    assert InferenceSettings(precision='bf16').autocast_dtype('cpu') is torch.bfloat16  # asked for: kept
    with pytest.raises(SettingsError, match='fp16 runs on CUDA only'):
        InferenceSettings(precision='fp16').autocast_dtype(torch.device('cpu'))
    with pytest.raises(SettingsError, match=r"precision must be one of \['fp32', 'bf16', 'fp16'\]"):
        InferenceSettings(precision='fp8')


def test_auto_picks_cuda_only_when_torch_sees_it_and_cuda_asked_for_without_it_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert resolve_device('auto') == torch.device('cpu') and resolve_device('cpu') == torch.device('cpu')
    with pytest.raises(RuntimeError, match='torch sees no CUDA device'):
        resolve_device('cuda')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert resolve_device('auto') == torch.device('cuda')


def test_an_option_file_that_is_not_yaml_is_one_line_naming_it_in_tiled_infer(tmp_path, run_infer, caplog,
                                                                              monkeypatch):
    broken = tmp_path / 'broken.yml'
    broken.write_text('network_g: {type: NAFNet\n')
    with pytest.raises(OptionFileError, match='broken.yml is not valid YAML'):
        InferenceSettings.from_option_file(broken)
    monkeypatch.setattr(logging.getLogger('tiled_infer'), 'handlers', [caplog.handler])
    (tmp_path / 'in').mkdir()
    (tmp_path / 'in' / 'room.png').write_bytes(encode_pil(smooth_rgb(32, 32), 'PNG'))
    code, _ = run_infer(tmp_path / 'in', tmp_path / 'out', '--opt', broken)  # was a yaml.YAMLError traceback
    (error, ) = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert code == 2 and 'cannot load the network' in error and 'broken.yml is not valid YAML' in error
