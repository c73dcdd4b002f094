"""The pre-flight table's wording: counts of one are singular ("1 photo", never "1 photos")."""
from realestate_sr.preflight.check import CheckResult
from realestate_sr.preflight.probe import Rate
from realestate_sr.preflight.recipe import CheckPlan
from realestate_sr.preflight.report import format_table, table_rows


def test_counts_of_one_are_singular_in_every_row():
    recipe = {'model_type': 'EnhanceModel', 'network_g': {'type': 'NAFNet'}, 'train': {'total_iter': 1},
              'val': {'val_freq': 1}}
    one = Rate(count=1, seconds=2.0)
    result = CheckResult(recipe, device='cpu', batch=1, workers=1, params=1000, loader=one, fed=one, compute=one,
                         validation=one, inference_s=0.5, inference_size=(220, 330))
    plan = CheckPlan(photo_size=(220, 330), pairs=1, val_pairs=0, quick=True)
    table = format_table(table_rows(result, 'options/x.yml', plan, val_photos=1))
    for phrase in ('1 synthetic 330x220 pair (0 val)', '; 1 photo timed)', '(1 timed iteration fed', '(1 worker)',
                   'of 1 iteration +', 'every 1 iteration on 1 photo (--val-photos)'):
        assert phrase in table, table
    assert not any(f'1 {plural}' in table for plural in ('pairs', 'photos', 'iterations', 'workers')), table
