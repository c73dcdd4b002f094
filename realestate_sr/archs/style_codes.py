"""House codes: a learned table with one row per editing house, so that one network can learn many house styles.

A base model pretrained on pairs of many houses (``realestate_sr/benchmark/base_pairs.py``) cannot learn them from
the photos alone: the same source has a different target in each house. Given the code of the pair's house, the
targets are a function of (photo, code) again. Fine-tuning on one user's house then needs a table of one row,
started at the mean of the base's codes (``with_mean_code``): the base's average house, from which the fine-tune
moves that one code and the rest of the network.

``StyleCodes(count, dim)`` holds the table (``codes``, count x dim, a parameter: saved in checkpoints) and returns
each photo's code: ``house`` N integers, or None for the mean of the table (a fixed code: what inference and the
ONNX graph use; with one house, that house).
"""
import torch
from torch import nn

CODES_KEY = 'style_codes.codes'  # where BilateralGridNet's table sits in its state_dict
CODE_INIT_STD = 1.0  # of the order of the statistics the codes sit beside


class StyleCodeError(ValueError):
    """A bad ``style_codes`` option, house index, or a checkpoint's table that cannot start this one."""


def style_code_shape(option):
    """(count, dim) of a ``network_g.style_codes`` option ``{count: K, dim: d}``; None when it is off (None)."""
    if option is None:
        return None
    if not isinstance(option, dict) or set(option) != {'count', 'dim'}:
        raise StyleCodeError(f'network_g.style_codes must be {{count: K, dim: d}}, got {option!r}')
    count, dim = option['count'], option['dim']
    if any(isinstance(value, bool) or not isinstance(value, int) or value < 1 for value in (count, dim)):
        raise StyleCodeError(f'network_g.style_codes count and dim must be integers >= 1, got {option!r}')
    return count, dim


class StyleCodes(nn.Module):
    """A count x dim table of learned house codes (``codes``); ``forward(house, photos)`` -> photos x dim."""

    def __init__(self, count, dim):
        super().__init__()
        self.codes = nn.Parameter(torch.randn(count, dim) * CODE_INIT_STD)

    @property
    def count(self):
        return self.codes.shape[0]

    def forward(self, house, photos):
        """The code of each of ``photos`` photos: row ``house[i]`` (N integers), or the table's mean when None."""
        if house is None:
            return self.codes.mean(dim=0, keepdim=True).expand(photos, -1)
        house = torch.as_tensor(house, device=self.codes.device).long().view(-1)
        if not torch.jit.is_tracing():
            if house.shape[0] != photos:
                raise StyleCodeError(f'expected one house per photo ({photos}), got {house.shape[0]}')
            if house.numel() and (house.min() < 0 or house.max() >= self.count):
                raise StyleCodeError(f'house indices must lie in [0, {self.count - 1}] (network_g.style_codes.count '
                                     f'{self.count}), got {house.tolist()}')
        return self.codes[house]


def with_mean_code(expected, found):
    """``found`` (a checkpoint's state_dict) fitted to a network whose state_dict is ``expected``: when the network
    has a table of one house and the checkpoint one of K houses of the same dim, the checkpoint's table becomes
    the mean of its K codes. Returns (state_dict, a line saying so or None); anything else is left as it is."""
    mine, theirs = expected.get(CODES_KEY), found.get(CODES_KEY)
    if mine is None or theirs is None or mine.shape == theirs.shape:
        return found, None
    if mine.shape[0] != 1 or theirs.dim() != 2 or theirs.shape[1] != mine.shape[1]:
        raise StyleCodeError(f'the checkpoint holds {theirs.shape[0]} house codes of dim {theirs.shape[1]}, the '
                             f'network {mine.shape[0]} of dim {mine.shape[1]}: fine-tune with style_codes '
                             f'{{count: 1, dim: {theirs.shape[1]}}} (its one code starts at the mean of the '
                             'checkpoint\'s) or use the checkpoint\'s count')
    fitted = dict(found)
    fitted[CODES_KEY] = theirs.mean(dim=0, keepdim=True)
    return fitted, f'{CODES_KEY}: the mean of the checkpoint\'s {theirs.shape[0]} house codes starts the one house'
