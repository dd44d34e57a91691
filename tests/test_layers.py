"""The house is one-way: imports point down the layer order written in portal/__init__.py.

The checker reads the source with ``ast`` (nothing is imported), so it sees what the code says,
not what happened to be loaded. It is tested on made-up trees first, so a checker that stopped
finding anything would fail here too.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from portal import LAYERS

PORTAL = Path(__file__).resolve().parent.parent / "portal"
ASSETS = {"templates", "static", "translations", "__pycache__"}
# A sibling domain's pages and entry points are never imported: only its models and services.
FACE_MODULES = {"views", "admin_views", "api", "cli"}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([root.name, *parts])


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_lazy(source_lines: list[str], node: ast.stmt) -> bool:
    return "lazy:" in source_lines[node.lineno - 1]


def read_imports(root: Path):
    """(module, target module, line, inside a function, marked lazy) for every import of the
    package's own modules; ``from pkg import name`` counts as importing ``pkg.name`` when that
    is a module."""
    files = {_module_name(p, root): p for p in root.rglob("*.py")}
    found = []
    for module, path in sorted(files.items()):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text, str(path))
        in_function = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                in_function.update(id(n) for n in ast.walk(node) if n is not node)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, path.name == "__init__.py", node)
                targets = sorted({f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names})
            else:
                continue
            nested = id(node) in in_function
            for target in targets:
                if target == root.name or target.startswith(root.name + "."):
                    found.append((module, target, node.lineno, nested, _is_lazy(lines, node)))
                elif nested:  # a third-party or standard import inside a function
                    found.append((module, None, node.lineno, nested, _is_lazy(lines, node)))
    return files, found


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def problems(root: Path, layers) -> list[str]:
    """Everything that breaks the one-way rule under ``root``, in words."""
    rank = {name: i for i, (_layer, names) in enumerate(layers) for name in names}
    layer_of = {name: layer for layer, names in layers for name in names}
    files, imports = read_imports(root)
    found = []
    for entry in sorted(p.name.removesuffix(".py") for p in root.iterdir()):
        if entry not in ASSETS and entry not in rank and not entry.startswith("."):
            found.append(f"{root.name}/{entry} is in no layer: add it to LAYERS or move it into a package")
    modules: dict[str, set[str]] = {m: set() for m in files}
    packages: dict[str, set[str]] = {}
    for module, target, line, nested, lazy in imports:
        where = f"{module}:{line}"
        if nested and not lazy:
            found.append(f"{where} imports inside a function ({target or 'a library'}); "
                         "import at the top, or mark a heavy optional library '# lazy: why'")
        if target is None:
            continue
        source_top, target_top = _top(module), _top(target)
        if source_top not in rank or target_top not in rank:
            continue
        if rank[target_top] > rank[source_top]:
            found.append(f"{where} imports {target}: {layer_of[target_top]} is above {layer_of[source_top]}")
        elif (source_top != target_top and rank[target_top] == rank[source_top] and source_top != "__init__"
              and target.split(".")[-1] in FACE_MODULES):
            found.append(f"{where} imports {target}, a sibling's {target.split('.')[-1]} module")
        if not nested:
            if target in modules and target != module:
                modules[module].add(target)
            if source_top != target_top:
                packages.setdefault(source_top, set()).add(target_top)
    for cycle in _cycles(modules):
        found.append("import cycle between modules: " + " → ".join(cycle))
    for cycle in _cycles(packages):
        found.append("import cycle between packages: " + " → ".join(cycle))
    return found


# --- the checker on made-up trees ----------------------------------------------------------------

TOY_LAYERS = (("infrastructure", ("base",)), ("auth", ("auth",)),
              ("domains", ("kb", "learning")), ("certification", ("certification",)),
              ("app", ("__init__",)))


def _toy(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "toy"
    for name, text in {"__init__.py": "", "base.py": "", "auth/__init__.py": "", "auth/models.py": "",
                       "kb/__init__.py": "", "kb/models.py": "", "kb/views.py": "",
                       "learning/__init__.py": "", "learning/models.py": "", "learning/views.py": "",
                       "certification/__init__.py": "", "certification/rules.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_a_tree_that_points_down_passes(tmp_path):
    root = _toy(tmp_path, {
        "auth/models.py": "from ..base import x\n",
        "kb/models.py": "from ..auth.models import User\nfrom ..base import x\n",
        "learning/models.py": "from ..kb.models import Case\n",
        "certification/rules.py": "from ..learning import models\nfrom ..kb.models import Case\n",
        "__init__.py": "from .certification import rules\nfrom .kb.views import bp\n",
        "base.py": "def f():\n    import json  # lazy: an example of a marked lazy import\n",
    })
    assert problems(root, TOY_LAYERS) == []


def test_an_import_up_the_layers_fails(tmp_path):
    root = _toy(tmp_path, {"kb/models.py": "from ..certification.rules import eligible\n"})
    assert problems(root, TOY_LAYERS) == [
        "toy.kb.models:1 imports toy.certification.rules: certification is above domains"]


def test_infrastructure_importing_a_domain_fails(tmp_path):
    root = _toy(tmp_path, {"base.py": "import toy.auth.models\n"})
    assert problems(root, TOY_LAYERS) == ["toy.base:1 imports toy.auth.models: auth is above infrastructure"]


def test_a_siblings_views_fail(tmp_path):
    root = _toy(tmp_path, {"learning/views.py": "from ..kb.views import user_lang\n"})
    assert problems(root, TOY_LAYERS) == ["toy.learning.views:1 imports toy.kb.views, a sibling's views module"]


def test_an_import_inside_a_function_fails_unless_marked_lazy(tmp_path):
    root = _toy(tmp_path, {"kb/models.py": """\
        def f():
            from ..auth.models import User
            return User


        def g():
            import hashlib
            return hashlib
        """})
    assert problems(root, TOY_LAYERS) == [
        "toy.kb.models:2 imports inside a function (toy.auth.models); import at the top, or mark a heavy "
        "optional library '# lazy: why'",
        "toy.kb.models:7 imports inside a function (a library); import at the top, or mark a heavy optional "
        "library '# lazy: why'"]


def test_module_and_package_cycles_fail(tmp_path):
    root = _toy(tmp_path, {"kb/models.py": "from ..learning.models import Lesson\n",
                           "learning/models.py": "from ..kb import models\n"})
    assert problems(root, TOY_LAYERS) == [
        "import cycle between modules: toy.kb.models → toy.learning.models",
        "import cycle between packages: kb → learning"]


def test_a_cycle_inside_one_package_fails(tmp_path):
    root = _toy(tmp_path, {"kb/models.py": "from . import views\n", "kb/views.py": "from .models import Case\n"})
    assert problems(root, TOY_LAYERS) == ["import cycle between modules: toy.kb.models → toy.kb.views"]


def test_a_module_outside_the_layers_fails(tmp_path):
    root = _toy(tmp_path, {"dashboard.py": ""})
    assert problems(root, TOY_LAYERS) == ["toy/dashboard is in no layer: add it to LAYERS or move it into a package"]


# --- the portal itself ---------------------------------------------------------------------------


def test_the_portal_imports_only_downward():
    assert problems(PORTAL, LAYERS) == []


def test_every_layer_names_existing_modules():
    top = {p.name.removesuffix(".py") for p in PORTAL.iterdir()} - ASSETS
    named = {name for _layer, names in LAYERS for name in names}
    assert named == top, f"LAYERS names {sorted(named - top)} that do not exist"


@pytest.mark.parametrize("module", ["certification/eligibility.py", "audits/scoring.py", "audits/consequences.py",
                                    "assessment/grading.py", "learning/schedule.py", "kb/search/ranking.py"])
def test_decisions_import_no_framework(module):
    """The pure decisions: plain values in, a result out — no Flask, no database."""
    tree = ast.parse((PORTAL / module).read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
    names |= {"." * n.level + (n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level}
    framework = {n for n in names if n.split(".")[0] in ("flask", "flask_babel", "flask_login", "sqlalchemy",
                                                         "flask_sqlalchemy")
                 or n.lstrip(".") in ("extensions", "models") or n.endswith(".models")}
    assert framework == set(), f"{module} imports {sorted(framework)}"
