"""Scripts import the installed package: no sys.path edits, no per-line lint exemptions on their imports, and
no basicsr import before the package has made basicsr importable (realestate_sr.compat)."""
import ast
import io
import tokenize
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ENTRY_POINTS = sorted((REPO / 'scripts').glob('*.py')) + [REPO / 'realestate_sr' / 'train.py']


def module_level_imports(tree):
    """(line, module) of the imports a script runs when it starts: top level and inside ``if`` blocks."""
    found, pending = [], list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, node.module or ''))
        elif isinstance(node, (ast.If, ast.Try)):
            pending = list(node.body) + list(getattr(node, 'orelse', [])) + pending
    return sorted(found)


@pytest.mark.parametrize('path', ENTRY_POINTS, ids=lambda p: p.name)
def test_a_script_imports_the_installed_package_as_it_is(path):
    source = path.read_text(encoding='utf-8')
    tree = ast.parse(source)
    inserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
               and isinstance(node.func, ast.Attribute) and ast.unparse(node.func.value) == 'sys.path'
               and node.func.attr in ('insert', 'append', 'extend')]
    assert inserts == [], f'{path.name}: sys.path edited at line(s) {inserts}'
    import_lines = {line for line, _ in module_level_imports(tree)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and node.lineno in import_lines:
            import_lines |= set(range(node.lineno, node.end_lineno + 1))
    exempted = [token.start[0] for token in tokenize.generate_tokens(io.StringIO(source).readline)
                if token.type == tokenize.COMMENT and 'noqa' in token.string and token.start[0] in import_lines]
    assert exempted == [], f'{path.name}: noqa on the imports at line(s) {exempted}'
    modules = [module for _, module in module_level_imports(tree)]
    first_basicsr = next((i for i, m in enumerate(modules) if m.split('.')[0] == 'basicsr'), None)
    if first_basicsr is not None:
        assert any(m.split('.')[0] == 'realestate_sr' for m in modules[:first_basicsr]), \
            f'{path.name}: basicsr is imported before realestate_sr'
