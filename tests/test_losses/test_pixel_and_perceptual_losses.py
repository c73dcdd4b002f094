"""PixelL1Loss and VGGPerceptualLoss (train.pixel_opt / train.perceptual_opt) against hand computations."""
import pytest
import torch
import torch.nn.functional as F
from torchvision.models import vgg19

from realestate_sr.losses.pixel_l1_loss import PixelL1Loss
from realestate_sr.losses.vgg_features import VGG19_FILE, VGG19Features
from realestate_sr.losses.vgg_perceptual_loss import VGGPerceptualLoss
from realestate_sr.utils.weights import MissingWeightsError

from basicsr.losses import build_loss

# conv3_4, conv4_4, conv5_4 are modules 16, 25 and 34 of torchvision's vgg19().features
LAYER_INDEX = {'conv3_4': 16, 'conv4_4': 25, 'conv5_4': 34}


def reference_features(features, x):
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (x - mean) / std
    out = {}
    for index, layer in enumerate(features):
        x = layer(x)
        for name, wanted in LAYER_INDEX.items():
            if index == wanted:
                out[name] = x
    return out


def test_pixel_loss_equals_hand_computation_in_float32():
    pred, target = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    loss = build_loss({'type': 'PixelL1Loss', 'loss_weight': 2.0})
    assert isinstance(loss, PixelL1Loss)
    expected = 2.0 * (pred - target).abs().mean()
    torch.testing.assert_close(loss(pred, target), expected)
    low = loss(pred.bfloat16(), target)
    assert low.dtype == torch.float32
    torch.testing.assert_close(low, 2.0 * (pred.bfloat16().float() - target).abs().mean())


def test_perceptual_weight_0_builds_no_vgg_and_computes_nothing():
    loss = build_loss({'type': 'VGGPerceptualLoss', 'perceptual_weight': 0})
    assert loss.vgg is None
    assert loss(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)) == (None, None)


def test_perceptual_term_equals_hand_computation_with_random_vgg():
    torch.manual_seed(0)
    loss = VGGPerceptualLoss(perceptual_weight=0.1, layer_weights={'conv3_4': 0.5, 'conv4_4': 1.0, 'conv5_4': 2.0},
                             use_random_vgg_weights_for_testing=True)
    pred, target = torch.rand(1, 3, 48, 48), torch.rand(1, 3, 48, 48)
    ours, style = loss(pred, target)
    assert style is None  # BasicSR's PerceptualLoss shape: (perceptual, style)
    feats_p = reference_features(loss.vgg.features, pred)
    feats_t = reference_features(loss.vgg.features, target)
    perceptual = sum(w * F.l1_loss(feats_p[n], feats_t[n]) for n, w in {'conv3_4': 0.5, 'conv4_4': 1.0,
                                                                         'conv5_4': 2.0}.items())
    torch.testing.assert_close(ours, 0.1 * perceptual)


def test_vgg_is_frozen_and_stays_in_eval_mode():
    loss = VGGPerceptualLoss(use_random_vgg_weights_for_testing=True)
    loss.train()
    assert not loss.vgg.training
    pred = torch.rand(1, 3, 32, 32, requires_grad=True)
    loss(pred, torch.rand(1, 3, 32, 32))[0].backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in loss.vgg.parameters())


def test_weights_load_from_an_explicit_path(tmp_path):
    torch.manual_seed(1)
    source = vgg19(weights=None)
    path = tmp_path / VGG19_FILE
    torch.save(source.state_dict(), path)
    features = VGG19Features(['conv3_4'], weights_path=str(path))
    torch.testing.assert_close(features.features[16].weight, source.features[16].weight)


def test_missing_weights_name_the_file_where_we_looked_and_the_url(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    with pytest.raises(MissingWeightsError) as error:
        VGGPerceptualLoss(perceptual_weight=0.1)
    message = str(error.value)
    assert VGG19_FILE in message
    assert str(tmp_path / 'torch_home' / 'hub' / 'checkpoints' / VGG19_FILE) in message
    assert 'https://download.pytorch.org/models/vgg19-dcbb9e9d.pth' in message


def test_unknown_layer_is_rejected():
    with pytest.raises(ValueError, match='conv9_9'):
        VGG19Features(['conv9_9'], random_weights_for_testing=True)


def test_perceptual_term_under_bf16_autocast_equals_the_float32_term():
    torch.manual_seed(0)
    loss = VGGPerceptualLoss(perceptual_weight=1.0, use_random_vgg_weights_for_testing=True)
    pred, target = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    full, _ = loss(pred, target)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        low, _ = loss(pred, target)
    assert low.dtype == torch.float32
    # the VGG runs in float32 with autocast off: the same numbers (with bf16 features: 8e-5 off here)
    assert abs(low.item() - full.item()) < 1e-5
