"""Base models of a benchmark run (``scripts/benchmark.py --base BASE.yml``): per fold, one network pretrained on
procedurally styled pairs (``base_pairs.py``) of that fold's training photos minus its val photos, from which every
recipe piece of the fold is fine-tuned.

Neither split's scored photos are ever seen by a base: the test fold's photos are outside the fold's training
photos, and the val group (``folds.fold_photos(..., 'val')``) is taken out too, so one base serves ``--split test``
and ``--split val`` alike. A base is kept under ``<out>/bases/<base stem>__fold<k>/`` (``BASE_CHECKPOINT``, the pairs,
``SETTINGS_FILE``) and reused by a later run whose settings are equal, as pieces are.

The base recipe's ``network_g`` must have ``stats_input: true`` and ``style_codes: {count: K, dim: d}`` (K houses);
its optional ``bench.houses_per_photo`` (default ``DEFAULT_HOUSES_PER_PHOTO``) says how many of the K houses edit
each photo. A recipe fine-tuned from it must have the same ``network_g`` but ``style_codes.count: 1``: its one code
starts at the mean of the base's K (``archs/style_codes.py``).
"""
import json
from pathlib import Path

from realestate_sr.archs.style_codes import StyleCodeError, style_code_shape
from realestate_sr.benchmark.folds import fold_photos
from realestate_sr.benchmark.recipes import RecipeError
from realestate_sr.utils.output_safety import atomic_write

BASES_DIR = 'bases'
BASE_CHECKPOINT = 'net_g_base.pth'
SETTINGS_FILE = 'base_settings.json'
PAIRS_DIR = 'pairs'
DEFAULT_HOUSES_PER_PHOTO = 6


def base_houses(stem, opt):
    """(K, d) of a base recipe's ``network_g.style_codes``; RecipeError when it cannot be a base."""
    network = opt.get('network_g') or {}
    try:
        shape = style_code_shape(network.get('style_codes'))
    except StyleCodeError as err:
        raise RecipeError(f'base recipe {stem}: {err}') from err
    if shape is None or not network.get('stats_input'):
        raise RecipeError(f'base recipe {stem}: network_g needs stats_input: true and style_codes: {{count: K, dim: '
                          f'd}} (a code per procedural house), got stats_input {network.get("stats_input")!r}, '
                          f'style_codes {network.get("style_codes")!r}')
    return shape


def houses_per_photo(opt):
    return int((opt.get('bench') or {}).get('houses_per_photo', DEFAULT_HOUSES_PER_PHOTO))


def check_fine_tune_recipe(stem, opt, base_stem, base_opt):
    """RecipeError, naming the keys, unless recipe ``stem``'s network_g is the base's with ``style_codes.count: 1``."""
    _, dim = base_houses(base_stem, base_opt)
    expected = {**base_opt['network_g'], 'style_codes': {'count': 1, 'dim': dim}}
    found = opt.get('network_g') or {}
    differing = sorted(key for key in set(expected) | set(found) if expected.get(key) != found.get(key))
    if differing:
        shown = ', '.join(f'{key}: {found.get(key)!r} (the base needs {expected.get(key)!r})' for key in differing)
        raise RecipeError(f'recipe {stem} cannot fine-tune from base {base_stem}: its network_g must be the base\'s '
                          f'with style_codes {{count: 1, dim: {dim}}} (one house, started at the mean of the base\'s '
                          f'codes) and stats_input true; it differs in {shown}')


def base_photos(scene_of_photo, folds, fold):
    """The photos fold ``fold``'s base trains on: its training photos minus its val group."""
    return fold_photos(scene_of_photo, folds, fold, 'val')[0]


def base_folder(out_dir, base_stem, fold):
    return Path(out_dir) / BASES_DIR / f'{base_stem}__fold{fold}'


def reusable_base(folder, settings):
    """The checkpoint of the base in ``folder`` when it was made with ``settings``; None otherwise."""
    checkpoint = Path(folder) / BASE_CHECKPOINT
    try:
        recorded = json.loads((Path(folder) / SETTINGS_FILE).read_text(encoding='utf-8'))
    except (OSError, json.JSONDecodeError):
        return None
    return checkpoint if recorded.get('settings') == settings and checkpoint.is_file() else None


def record_base(folder, settings, cost):
    """Write the base's settings (last, atomically: a base without them is never reused) and its cost."""
    document = {'settings': settings, 'cost': cost}
    atomic_write(Path(folder) / SETTINGS_FILE, (json.dumps(document, indent=1) + '\n').encode('utf-8'))
