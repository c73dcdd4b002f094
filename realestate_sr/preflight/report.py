"""The one table a pre-flight check prints (Markdown), from a check.CheckResult."""
from realestate_sr.preflight.check import projected_seconds
from realestate_sr.utils.wording import counted

# the row names, in order: tests read them
ROWS = ('recipe', 'device', 'bf16', 'check', 'network', 'training', 'data pipeline', 'GPU starved?',
        'peak GPU memory', 'peak host memory', 'validation', 'projected run', 'inference')


def human_seconds(seconds):
    if seconds < 120:
        return f'{seconds:.1f} s'
    if seconds < 2 * 3600:
        return f'{seconds / 60:.1f} min'
    return f'{seconds / 3600:.1f} h'


def gib(count):
    return 'not measured (CPU)' if count is None else f'{count / 2**30:.2f} GiB'


def starvation(result):
    """Whether the data pipeline keeps up with the training step, in words."""
    need = result.compute.per_second * result.batch
    give = result.loader.per_second
    verdict = 'yes' if give < need else 'no'
    return (f'{verdict}: the pipeline gives {give:.1f} samples/s, the step alone takes {need:.1f} samples/s '
            f'({result.compute.per_second:.2f} it/s on a batch on the device); fed, {result.fed.per_second:.2f} it/s')


def table_rows(result, source, plan, val_photos):
    """(row name, value) pairs of the table, in ROWS order."""
    recipe = result.recipe
    total_iter = int(recipe['train']['total_iter'])
    train_s, val_s = projected_seconds(result, val_photos)
    mode = 'quick (CPU sizes: numbers do not project a GPU run)' if plan.quick else 'full (the recipe\'s sizes)'
    size = f'{plan.photo_size[1]}x{plan.photo_size[0]}'
    check = f'{mode}; {counted(plan.pairs, f"synthetic {size} pair")} ({plan.val_pairs} val)'
    if result.notes:
        check += '; ' + '; '.join(result.notes)
    train = recipe['train']
    precision = ', '.join(f'{key} {"on" if train.get(key) else "off"}' for key in ('bf16', 'channels_last'))
    validation = 'no val block'
    projected = f'{human_seconds(train_s)} for {counted(total_iter, "iteration")}, validation not measured'
    if result.validation is not None:
        per_photo = 1 / result.validation.per_second
        validation = (f'{per_photo:.2f} s/photo (network, metrics, saved images; '
                      f'{counted(result.validation.count, "photo")} timed)')
        every = counted(int(recipe['val']['val_freq']), 'iteration')
        projected = (f'{human_seconds(train_s + val_s)}: {human_seconds(train_s)} of {counted(total_iter, "iteration")}'
                     f' + {human_seconds(val_s)} of validation every {every} on {counted(val_photos, "photo")} '
                     '(--val-photos)')
    height, width = result.inference_size
    values = {
        'recipe': f'{source} ({recipe.get("model_type")}, {recipe["network_g"].get("type")})',
        'device': result.device,
        'bf16': f'{result.bf16_supported}; recipe: {precision}',
        'check': check,
        'network': f'{result.params / 1e6:.2f} M parameters',
        'training': f'{result.fed.per_second:.2f} it/s at batch {result.batch} '
                    f'({counted(result.fed.count, "timed iteration")} fed by the data pipeline)',
        'data pipeline': f'{result.loader.per_second:.1f} samples/s alone '
                         f'({counted(result.workers, "worker")})',
        'GPU starved?': starvation(result),
        'peak GPU memory': (f'{gib(result.peak_gpu_train)} training, {gib(result.peak_gpu_eval)} validation and '
                            'inference' if result.peak_gpu_train is not None else gib(None)),
        'peak host memory': f'{gib(result.peak_host)} (this process: caches, model, batches)',
        'validation': validation,
        'projected run': projected,
        'inference': f'{result.inference_s:.2f} s per {width}x{height} photo (the inference object, as '
                     'tiled_infer runs the recipe)',
    }
    return [(name, values[name]) for name in ROWS]


def format_table(rows):
    lines = ['| check | value |', '|---|---|']
    lines += [f'| {name} | {value} |' for name, value in rows]
    return '\n'.join(lines)
