"""The cross-validated benchmark's tables, made from its pieces (``pieces.py``).

Cells are mean ± sd over photos: a photo's pairs in a cell (its capture variants, and in the summary its
styles) are averaged first; every photo is scored in one fold (``test``), so the photos of all folds pool into
one spread. A recipe trained with several seeds gets one row per seed and a row of the seeds' mean ± sd over
seeds (the spread of the seed rows' means: the noise of training). Oracle rows are references (fitted on
the target), never bold.
"""
import statistics

from realestate_sr.benchmark import report
from realestate_sr.benchmark.pieces import REFERENCES
from realestate_sr.utils.metric_table import markdown_table

REFERENCE_ORDER = ('input', 'auto_correct', 'oracle_lut', 'oracle_local')
ALL_FAMILIES = 'all capture families'


def recipe_label(key):
    """A recipe piece's row: the recipe, with its budget and training photos when they are not the default."""
    label = key['recipe']
    if key['budget'] != 'demo':
        label += f' [{key["budget"]}]'
    if key['train_photos'] is not None:
        label += f' [{key["train_photos"]} photos]'
    return label


def _pair_key(task, fold, src):
    return f'{task}|{fold}|{src}'


def collect(pieces, split='test'):
    """(rows, scores, directions, costs, info): ``rows`` the scored pairs (``src`` made unique per task and fold),
    ``scores`` {method row: {pair key: metrics}}, seeds as ``<label> seed <s>``; ``info`` {label: [seeds]}."""
    rows, scores, directions, costs, seeds = {}, {}, {}, {}, {}
    recipe_pieces = [p for p in pieces if p['key']['recipe'] != REFERENCES and p['key']['split'] == split]
    scored_photos = {}
    for piece in recipe_pieces:
        key = piece['key']
        label = recipe_label(key)
        seeds.setdefault(label, set()).add(key['seed'])
        for pair in piece['pairs']:
            unique = _pair_key(pair['task'], key['fold'], pair['src'])
            rows[unique] = {**pair, 'src': unique}
            scored_photos.setdefault(pair['task'], set()).add(pair['photo'])
        for row, values in piece['rows'].items():
            name = f'{label} seed {key["seed"]}' + ('' if row == key['recipe'] else f' {row}')
            scores.setdefault(name, {}).update(
                {_pair_key(key['task'], key['fold'], src): metrics for src, metrics in values.items()})
        directions.update(piece.get('directions', {}))
        cost = costs.setdefault(label, {'budget': piece['cost'].get('budget', ''), 'pieces': []})
        cost['pieces'].append(piece['cost'])
    for piece in pieces:
        if piece['key']['recipe'] != REFERENCES:
            continue
        task = piece['key']['task']
        wanted = scored_photos.get(task)
        by_src = {}
        for unique, row in rows.items():
            by_src.setdefault((row['task'], row['src'].split('|', 2)[2]), []).append(unique)
        for pair in piece['pairs']:
            if wanted is None and (task, pair['src']) not in by_src:
                unique = _pair_key(task, 'all', pair['src'])
                rows[unique] = {**pair, 'src': unique}
                by_src[(task, pair['src'])] = [unique]
        for row, values in piece['rows'].items():
            for src, metrics in values.items():
                for unique in by_src.get((task, src), []):
                    scores.setdefault(row, {})[unique] = metrics
        directions.update(piece.get('directions', {}))
        costs.setdefault(REFERENCES, {'budget': '', 'pieces': []})['pieces'].append(piece['cost'])
    return list(rows.values()), scores, directions, costs, {label: sorted(s) for label, s in seeds.items()}


def _methods(scores, seeds):
    """Table rows in order: references, then per recipe its seed rows and (with several seeds) their mean."""
    methods = [m for m in REFERENCE_ORDER if m in scores and not m.startswith('oracle')]
    for label, label_seeds in seeds.items():
        rows = [m for m in scores if m.startswith(f'{label} seed ')]
        methods += rows
        if len(label_seeds) > 1:
            methods.append(f'{label} (mean of {len(label_seeds)} seeds ± sd over seeds)')
    methods += [m for m in scores if m not in methods and not m.startswith('oracle')
                and not any(m.startswith(f'{label} seed ') for label in seeds)]
    return methods + [m for m in REFERENCE_ORDER if m in scores and m.startswith('oracle')]


def _seed_mean(summaries, label, label_seeds):
    seed_rows = [summaries.get(f'{label} seed {seed}') for seed in label_seeds]
    seed_rows = [s for s in seed_rows if s]
    if len(seed_rows) < 2:
        return None
    import numpy as np
    out = {}
    for metric in set.intersection(*(set(s) for s in seed_rows)):
        means = [s[metric][0] for s in seed_rows]
        out[metric] = (float(np.mean(means)), float(np.std(means, ddof=1)), seed_rows[0][metric][2])
    return out


def partial_label(method, covered, total):
    """The row name of a method that scored only some of a section's pairs (a sitting still under way, a
    recipe run on some tasks): its mean is over other photos and styles than the full rows', so it says so."""
    return f'{method} (partial: {covered} of {total} pairs)'


def section_summaries(rows, scores, seeds, methods, tasks, family):
    """{method: {metric: (mean, sd, photos)}} over the pairs of ``tasks`` and ``family`` (None: all).

    A method that did not score every pair of the section is keyed ``partial_label(...)``, and a seed mean is
    made only from seed rows that all scored every pair."""
    selected = [row for row in rows if row['task'] in tasks]
    section_pairs = [row['src'] for row in selected if family is None or row['family'] == family]
    summaries, partial = {}, set()
    for method in (m for m in methods if m in scores):
        summary = report.family_summary(scores[method], selected, family)
        covered = sum(src in scores[method] for src in section_pairs)
        if summary and covered < len(section_pairs):
            partial.add(method)
            method = partial_label(method, covered, len(section_pairs))
        summaries[method] = summary
    for label, label_seeds in seeds.items():
        if any(f'{label} seed {seed}' in partial for seed in label_seeds):
            continue
        mean = _seed_mean(summaries, label, label_seeds)
        if mean:
            summaries[f'{label} (mean of {len(label_seeds)} seeds ± sd over seeds)'] = mean
    return summaries


def cost_rows(costs):
    """{label: cost columns} for report.cost_table: means per training and per evaluation."""
    table = {}
    for label, cost in costs.items():
        pieces = cost['pieces']

        def mean(key):
            values = [p[key] for p in pieces if p.get(key) is not None]
            return sum(values) / len(values) if values else None
        table[label] = {'budget': cost['budget'], 'train_s': mean('train_s'), 'train_peak_mb': mean('train_peak_mb'),
                        'infer_s_per_photo': mean('infer_s_per_photo'), 'infer_s_per_mp': mean('infer_s_per_mp'),
                        'infer_s_per_listing_photo': mean('infer_s_per_listing_photo'),
                        'gmac_per_listing_photo': mean('gmac_per_listing_photo'), 'eval_peak_mb': mean('eval_peak_mb'),
                        'pieces': len(pieces), 'eval_s': mean('eval_s'),
                        'total_s': sum((p.get('train_s') or 0) + (p.get('eval_s') or 0) for p in pieces)}
    return table


def piece_cost_table(table):
    lines = ['| method | pieces | mean train s | mean evaluation s | total s |', '|---|---|---|---|---|']
    for label, cost in table.items():
        def fmt(value):
            return '' if value is None else f'{value:.0f}'
        lines.append(f'| {label} | {cost["pieces"]} | {fmt(cost["train_s"])} | {fmt(cost["eval_s"])} | '
                     f'{fmt(cost["total_s"])} |')
    return '\n'.join(lines) + '\n'


def piece_psnr(piece):
    """A recipe piece's PSNR: the mean over its photos of each photo's mean over its scored pairs."""
    summary = report.family_summary(piece['rows'][piece['key']['recipe']], piece['pairs'])
    return summary['psnr'][0] if summary and 'psnr' in summary else None


def paired_differences(pieces, split, baseline):
    """Each recipe's PSNR minus ``baseline``'s on the pieces both ran (same task, fold and seed): the decision
    table, where fold-to-fold and photo-to-photo differences cancel. With the baseline's seed spread (sd over
    seeds of a piece's PSNR, mean over the task x fold cells run with several seeds) as the noise to beat."""
    psnr = {}
    for piece in pieces:
        key = piece['key']
        if key['recipe'] == REFERENCES or key['split'] != split:
            continue
        value = piece_psnr(piece)
        if value is not None:
            psnr.setdefault(recipe_label(key), {})[(key['task'], key['fold'], key['seed'])] = value
    base = psnr.get(baseline)
    if not base:
        return None
    by_cell = {}
    for (task, fold, _), value in base.items():
        by_cell.setdefault((task, fold), []).append(value)
    spreads = [statistics.stdev(values) for values in by_cell.values() if len(values) > 1]
    rows = {}
    for label, values in psnr.items():
        common = sorted(set(values) & set(base))
        if label == baseline or not common:
            continue
        diffs = [values[cell] - base[cell] for cell in common]
        rows[label] = {'pieces': len(common), 'mean': statistics.fmean(diffs),
                       'sd': statistics.stdev(diffs) if len(diffs) > 1 else None, 'min': min(diffs),
                       'max': max(diffs), 'tasks': sorted({cell[0] for cell in common})}
    return {'baseline': baseline, 'rows': rows,
            'seed_spread': statistics.fmean(spreads) if spreads else None, 'seed_cells': len(spreads)}


def paired_table(paired):
    noise = ('not measured (no task x fold with two seeds)' if paired['seed_spread'] is None else
             f'{paired["seed_spread"]:.2f} dB (sd over seeds of one piece\'s PSNR, mean over '
             f'{paired["seed_cells"]} task x fold cells)')
    header = ['recipe', 'pieces', 'mean difference dB', 'sd over pieces', 'min', 'max', 'tasks']
    rows = [[(label, False), (str(row['pieces']), False), (f'{row["mean"]:+.2f}', False),
             ('' if row['sd'] is None else f'{row["sd"]:.2f}', False), (f'{row["min"]:+.2f}', False),
             (f'{row["max"]:+.2f}', False), (', '.join(row['tasks']), False)] for label, row in paired['rows'].items()]
    return (f'PSNR difference against `{paired["baseline"]}` on the pieces both ran (same task, fold, seed); '
            f'the baseline\'s seed spread: {noise}.\n\n' + markdown_table(header, rows))


def tables(pieces, split='test', held_out=None, note='', baseline=None):
    """(document, markdown) of every table the pieces fill; with ``baseline`` (a recipe row's label) also the
    paired differences against it."""
    rows, scores, directions, costs, seeds = collect(pieces, split)
    columns = report.metric_columns(directions)
    methods = _methods(scores, seeds)
    tasks = list(dict.fromkeys(row['task'] for row in rows))
    families = list(dict.fromkeys(row['family'] for row in rows))
    photos = len({row['photo'] for row in rows})
    markdown = ['# Benchmark', '', f'Tasks (house styles): {", ".join(tasks)}; capture families: '
                f'{", ".join(families)}; held-out family (never trained on): {held_out}. {photos} photos, each '
                f'scored in one {split} fold. Cells: mean ± sd over photos. {note}'.rstrip(), '']
    document = {'split': split, 'held_out': held_out, 'tasks': tasks, 'families': families, 'seeds': seeds,
                'summaries': {}}

    def section(title, section_tasks, family):
        summaries = section_summaries(rows, scores, seeds, methods, section_tasks, family)
        shown = [name for m in methods for name in summaries
                 if summaries[name] and (name == m or name.startswith(f'{m} (partial: '))]
        document['summaries'][title] = {m: summaries[m] for m in shown}
        return [f'### {title}', '', report.metric_table(shown, summaries, columns)]

    def family_title(family):
        return f'{family} (held out: never trained on)' if family == held_out else family

    paired = paired_differences(pieces, split, baseline) if baseline else None
    if paired and paired['rows']:
        document['paired'] = paired
        markdown += ['## Paired differences', '', paired_table(paired)]
    markdown += ['## Summary: mean over styles', '']
    markdown += section(f'all styles / {ALL_FAMILIES}', tasks, None)
    for family in families:
        markdown += section(f'all styles / {family_title(family)}', tasks, family)
    for task in tasks:
        markdown += [f'## Style: {task}', '']
        markdown += section(f'{task} / {ALL_FAMILIES}', [task], None)
        for family in families:
            markdown += section(f'{task} / {family_title(family)}', [task], family)
    cost = cost_rows(costs)
    document['costs'] = cost
    markdown += ['## Cost', '', report.cost_table({k: v for k, v in cost.items() if k != REFERENCES}),
                 'Seconds per piece (one training and one evaluation; the references: baselines and oracles of one '
                 'task):', '', piece_cost_table(cost)]
    return document, '\n'.join(markdown)
