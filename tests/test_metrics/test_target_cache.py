"""Rows scored against one target share what the metrics derive from the target alone (its CIELAB, its
highlight mask) through one target_cache, and score exactly what they score without it."""
import numpy as np

from realestate_sr.evaluation.scoring import metric_options, score


def test_rows_sharing_a_target_cache_score_what_they_score_alone():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 256, (300, 40, 3), dtype=np.uint8)  # more rows than one CIELAB chunk
    target[:100] = 250  # a blown window: the highlight metrics have a region
    outputs = [np.clip(target.astype(int) + rng.integers(-9, 10, target.shape), 0, 255).astype(np.uint8)
               for _ in range(3)]
    options = metric_options(skip=('lpips',))
    cache = {}
    shared = [score(output, target, options, cache) for output in outputs]
    alone = [score(output, target, options) for output in outputs]
    assert shared == alone
    kinds = {key[0] for key in cache}
    assert kinds == {'de00_lab', 'highlight_mask'} and len(cache) == 3  # two CIELAB chunks, one mask
