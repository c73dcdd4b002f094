"""The package reads top-down: a module imports only from its own layer's package or from the layers below it.

The order (README, "Layers"): each line may import from the lines above it, never from its own line's other
packages nor from below. Imports inside functions count too.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / 'realestate_sr'

LAYERS = (
    ('utils', 'compat'),                          # no other part of the package
    ('options',),                                 # what an option file means, read once
    ('distributed',),                             # process groups
    ('archs',),                                   # networks, checkpoints, building a network from options
    ('data', 'losses', 'metrics'),                # what training reads, and what it optimises and measures
    ('inference',),                               # running a network on photos
    ('models',),                                  # BasicSR models: training steps, validation, option checks
    ('evaluation', 'prep', 'benchmark', 'serve'),  # tools: scoring, offline data preparation, the service
    ('preflight',),                               # a recipe's check before a long run (uses prep's LMDB builder)
    ('resume',),
    ('training',),
    ('train',),
    ('__init__',),                                # importing the package registers everything
)
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def part_of(module):
    """'realestate_sr.data.lmdb_io' -> 'data'; 'realestate_sr' -> '__init__'."""
    names = module.split('.')
    return names[1] if len(names) > 1 else '__init__'


def imported_modules(path, module):
    """Every realestate_sr module that ``path`` (module name ``module``) imports, with its line number."""
    is_package = path.name == '__init__.py'
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'), str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parent = module.split('.')[:len(module.split('.')) - node.level + is_package]
                base = '.'.join(parent + ([node.module] if node.module else []))
            if base == PACKAGE.name:  # from realestate_sr import archs, data
                yield from ((f'{base}.{alias.name}', node.lineno) for alias in node.names)
            else:
                yield base, node.lineno


def layer_violations(package):
    """'file:line imports target (layer above or beside)' for every import against LAYERS; [] when none."""
    problems = []
    for path in sorted(package.rglob('*.py')):
        names = list(path.relative_to(package.parent).with_suffix('').parts)
        module = '.'.join(names[:-1] if names[-1] == '__init__' else names)
        source = part_of(module)
        for target, line in imported_modules(path, module):
            if target != package.name and not target.startswith(package.name + '.'):
                continue
            goal = part_of(target)
            if goal == source:
                continue
            if source not in RANK or goal not in RANK:
                problems.append(f'{path.relative_to(package.parent)}:{line}: {goal if goal not in RANK else source} '
                                'has no layer (add it to LAYERS and to the README)')
            elif RANK[goal] >= RANK[source]:
                problems.append(f'{path.relative_to(package.parent)}:{line} imports {target} ({goal} is not below '
                                f'{source})')
    return problems


def test_every_import_goes_down_the_layers():
    assert layer_violations(PACKAGE) == []


def test_every_part_of_the_package_has_a_layer():
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.is_file() and p.suffix == '.py') or (p / '__init__.py').is_file()}
    assert parts == set(RANK)


def test_utils_imports_nothing_else_from_the_package():
    for path in (PACKAGE / 'utils').rglob('*.py'):
        module = 'realestate_sr.utils.' + path.stem
        outside = [target for target, _ in imported_modules(path, module)
                   if target.startswith('realestate_sr') and part_of(target) != 'utils']
        assert outside == [], path


@pytest.mark.parametrize('source, line, flagged', [
    ('data/reader.py', 'from realestate_sr.prep.builder import build', True),      # data must not reach prep
    ('data/reader.py', 'from ..inference import run', True),                       # relative, still upwards
    ('utils/helper.py', 'import realestate_sr.archs.net', True),                   # utils reads nothing else
    ('archs/net.py', 'def f():\n    from realestate_sr.models import m', True),    # inside a function too
    ('data/loader.py', 'from realestate_sr.losses import l1', True),               # same layer, other package
    ('models/model.py', 'from realestate_sr.inference.run import run', False),     # downwards is fine
    ('benchmark/build.py', 'from . import families', False),                       # own package
    ('prep/lmdb_build.py', 'from realestate_sr.benchmark import styles', True),     # same floor, other package
])
def test_the_check_flags_an_import_that_goes_up_or_sideways(tmp_path, source, line, flagged):
    package = tmp_path / 'realestate_sr'
    path = package / source
    path.parent.mkdir(parents=True)
    (package / '__init__.py').write_text('')
    (path.parent / '__init__.py').write_text('')
    path.write_text(line + '\n')
    assert bool(layer_violations(package)) == flagged
