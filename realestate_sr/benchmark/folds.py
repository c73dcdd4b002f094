"""Cross-validation by scene: which photos a model trains on and which it is scored on, per fold.

Photos of one scene (the same place or moment) always share a fold, so no scene is both trained on and
scored. ``scene_folds`` deals whole scenes, in a seeded order, to the fold holding the fewest photos so far:
every photo is in exactly one fold and the folds differ by at most one scene's photos.

- ``split='test'``: fold ``f``'s photos are scored, every other photo trains;
- ``split='val'`` (where recipe decisions are made): the training photos of fold ``f`` are dealt again into
  ``k`` groups by scene and the first group is scored, the rest trains, so fold ``f``'s own photos are never
  seen by a decision.
"""
import numpy as np

from realestate_sr.utils.cli_flags import BENCHMARK_SPLITS as SPLITS


def scene_folds(scene_of_photo, folds, seed=0):
    """{photo: fold index} for ``folds`` folds of whole scenes."""
    if folds < 2:
        raise ValueError(f'cross-validation needs at least 2 folds, got {folds}')
    scenes = {}
    for photo, scene in sorted(scene_of_photo.items()):
        scenes.setdefault(scene, []).append(photo)
    if len(scenes) < folds:
        raise ValueError(f'{len(scenes)} scenes cannot fill {folds} folds')
    order = sorted(scenes)
    order = [order[i] for i in np.random.default_rng([int(seed), 7]).permutation(len(order))]
    sizes = [0] * folds
    fold_of = {}
    for scene in order:
        fold = min(range(folds), key=lambda f: (sizes[f], f))
        sizes[fold] += len(scenes[scene])
        for photo in scenes[scene]:
            fold_of[photo] = fold
    return fold_of


def fold_photos(scene_of_photo, folds, fold, split='test', seed=0):
    """(training photos, scored photos) of outer fold ``fold``, both sorted lists."""
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    if not 0 <= fold < folds:
        raise ValueError(f'fold {fold} is not among the {folds} folds')
    fold_of = scene_folds(scene_of_photo, folds, seed)
    train = sorted(p for p, f in fold_of.items() if f != fold)
    scored = sorted(p for p, f in fold_of.items() if f == fold)
    if split == 'val':
        inner = scene_folds({p: scene_of_photo[p] for p in train}, folds, int(seed) * 1000 + fold + 1)
        scored = sorted(p for p in train if inner[p] == 0)
        train = sorted(p for p in train if inner[p] != 0)
    return train, scored


def choose_train_photos(train_photos, scene_of_photo, count, seed=0):
    """``count`` of ``train_photos`` (a learning curve's point): scenes in a seeded order, whole scenes first,
    the last one cut to fit; all of them when ``count`` is None or not smaller."""
    if count is None or count >= len(train_photos):
        return sorted(train_photos)
    if count < 1:
        raise ValueError(f'--train-photos must be at least 1, got {count}')
    scenes = {}
    for photo in sorted(train_photos):
        scenes.setdefault(scene_of_photo[photo], []).append(photo)
    order = sorted(scenes)
    order = [order[i] for i in np.random.default_rng([int(seed), 11]).permutation(len(order))]
    chosen = [photo for scene in order for photo in scenes[scene]][:count]
    return sorted(chosen)
