"""The precision and device decisions of InferenceSettings (the rest of its tests: test_enhancer.py)."""
import pytest
import torch

from realestate_sr.inference.settings import InferenceSettings, SettingsError, resolve_device


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
