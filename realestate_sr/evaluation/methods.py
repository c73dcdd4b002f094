"""What produces an output from a ``src`` photo: baselines, checkpoints, TTA and checkpoint ensembles.

Every method maps an RGB float32 H,W,3 image in [0, 1] to one of the same shape
(values may leave [0, 1]; scoring clips them as BasicSR's ``tensor2img`` does).
Networks run through the project's one ``Enhancer`` (``realestate_sr.inference.enhancer``), so numbers here
match validation and ``scripts/tiled_infer.py`` at the same ``InferenceSettings``.
"""
from pathlib import Path

import numpy as np
import torch

from realestate_sr.inference.enhancer import Enhancer
from realestate_sr.utils.cli_flags import BASELINE_NAMES
from realestate_sr.utils.colour import linear_to_srgb, luma, srgb_to_linear

# Auto-correction baseline constants (see docs/evaluation.md).
AUTO_TARGET_MEAN_LUMINANCE = 0.18  # linear-light mean luminance after exposure: photographers' middle grey
AUTO_EXPOSURE_GAIN_RANGE = (0.5, 4.0)
AUTO_WHITE_BALANCE_GAIN_RANGE = (0.5, 2.0)
AUTO_CLIPPED_LEVEL = 0.98  # sRGB values above this are clipped highlights: left out of the gray-world means


def identity(rgb):
    """The unedited input: what the model has to beat."""
    return rgb


def auto_correct(rgb):
    """A one-click global correction: gray-world white balance, then exposure, both in linear light.

    1. Gray world: per-channel gains that make the mean of R, G and B equal (unclipped pixels only,
       gains limited to AUTO_WHITE_BALANCE_GAIN_RANGE), removing a global colour cast.
    2. Exposure: one gain that brings the mean linear luminance to AUTO_TARGET_MEAN_LUMINANCE
       (limited to AUTO_EXPOSURE_GAIN_RANGE); highlights clip as a camera's would.
    """
    lin = srgb_to_linear(rgb).reshape(-1, 3)
    unclipped = np.all(rgb.reshape(-1, 3) < AUTO_CLIPPED_LEVEL, axis=1)
    sample = lin[unclipped] if unclipped.sum() >= 0.05 * len(lin) else lin
    channel_means = np.maximum(sample.mean(axis=0), 1e-6)
    gains = np.clip(channel_means.mean() / channel_means, *AUTO_WHITE_BALANCE_GAIN_RANGE)
    lin = lin * gains
    mean_luminance = max(float(luma(lin).mean()), 1e-6)
    exposure = np.clip(AUTO_TARGET_MEAN_LUMINANCE / mean_luminance, *AUTO_EXPOSURE_GAIN_RANGE)
    return linear_to_srgb(lin * exposure).astype(np.float32).reshape(rgb.shape)


BASELINES = dict(zip(BASELINE_NAMES, (identity, auto_correct)))  # input, auto_correct


def dihedral_transforms():
    """The 8 flips/rotations of the square as (forward, inverse) pairs on N,C,H,W tensors; the first is identity."""
    pairs = []
    for flip in (False, True):
        for quarter_turns in range(4):
            def forward(x, k=quarter_turns, f=flip):
                return torch.rot90(x.flip(-1) if f else x, k, dims=(-2, -1))

            def inverse(y, k=quarter_turns, f=flip):
                y = torch.rot90(y, -k, dims=(-2, -1))
                return y.flip(-1) if f else y

            pairs.append((forward, inverse))
    return pairs


def checkpoint_label(path, param_key=None, strength=None):
    """A short row name: ``<experiment>/<file stem>`` for BasicSR's ``experiments/<name>/models/x.pth``, then
    ``@<param_key>``, the checkpoint entry that ran (``params_ema`` / ``params`` / ``state_dict``), when known,
    then ``@strength=<s>`` when the edit ran at a strength below 1."""
    path = Path(path)
    if path.parent.name == 'models' and path.parent.parent.name:
        label = f'{path.parent.parent.name}/{path.stem}'
    else:
        label = path.stem
    label = f'{label}@{param_key}' if param_key else label
    return f'{label}@strength={strength:g}' if strength is not None and strength != 1 else label


class CheckpointPredictor:
    """One network, built once, run on whole photos through an ``Enhancer``.

    Args:
        enhancer (Enhancer): The network and how it runs (tiles, TLC, precision).
        label (str): The row name (``checkpoint_label(path, param_key)``).
    """

    def __init__(self, enhancer, label):
        self.enhancer, self.label = enhancer, label

    @property
    def net(self):
        return self.enhancer.net

    @classmethod
    def from_checkpoint(cls, network_opt, checkpoint, settings=None, param_key=None):
        """Build ``network_opt`` with ``checkpoint`` as ``settings`` (InferenceSettings) say."""
        enhancer = Enhancer.from_checkpoint(network_opt, checkpoint, settings, param_key=param_key)
        return cls(enhancer, checkpoint_label(checkpoint, enhancer.param_key, enhancer.settings.strength))

    def predict(self, rgb, tta=False, progress=None):
        """Output for one RGB float32 H,W,3 image.

        Returns (plain, tta_mean): ``tta_mean`` is None unless ``tta``; then it is the mean over the
        8 flips/rotations (the plain output is the identity member, computed once). ``progress(done, total)``
        counts network calls over all the passes.
        """
        tensor = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None].float()
        passes = 8 if tta else 1

        def pass_progress(index):
            if progress is None:
                return None
            return lambda done, total: progress(index * total + done, passes * total)

        plain = self.enhancer.run_tensor(tensor, pass_progress(0)).cpu()
        if not tta:
            return to_rgb_array(plain), None
        total = plain.clone()
        for index, (forward, inverse) in enumerate(dihedral_transforms()[1:], start=1):
            total += inverse(self.enhancer.run_tensor(forward(tensor).contiguous(), pass_progress(index)).cpu())
        return to_rgb_array(plain), to_rgb_array(total / 8)


def to_rgb_array(tensor):
    return tensor[0].permute(1, 2, 0).numpy().astype(np.float32, copy=False)


def mean_of(arrays):
    """Pixel-wise mean of equally shaped float arrays (checkpoint ensembles)."""
    total = np.zeros_like(arrays[0], dtype=np.float32)
    for array in arrays:
        total += array
    return total / len(arrays)
