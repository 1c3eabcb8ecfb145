"""The core's shape (docs/design.md §4): modules import each other one way, one module drives HiGHS, no streamlit."""

import ast
from pathlib import Path

from conftest import ROOT

CORE = ROOT / "optimizer"


def _modules() -> dict[str, Path]:
    out = {}
    for p in CORE.rglob("*.py"):
        parts = p.with_suffix("").relative_to(ROOT).parts
        out[".".join(parts).removesuffix(".__init__")] = p
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The optimizer modules `name` imports, at the top or inside a function alike."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(max(node.level - 1, 0)):
                base = base.rsplit(".", 1)[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found = full if full in modules else target
                if found in modules and found != name:
                    out.add(found)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in modules and a.name != name}
    return out


def test_no_two_modules_of_the_core_import_each_other():
    modules = _modules()
    edges = {m: _imports(m, p, modules) for m, p in modules.items()}

    def reaches(a: str, b: str) -> bool:
        seen, todo = set(), [a]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt == b:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    circles = sorted({tuple(sorted((a, b))) for a in modules for b in edges[a] if reaches(b, a)})
    assert circles == []


def test_one_module_drives_highs_and_none_imports_streamlit():
    def uses(path: Path, package: str) -> bool:
        tree = ast.parse(path.read_text())
        return any(isinstance(n, ast.Import) and any(a.name.split(".")[0] == package for a in n.names)
                   or isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == package and not n.level
                   for n in ast.walk(tree))

    assert [p.relative_to(ROOT).as_posix() for p in sorted(CORE.rglob("*.py")) if uses(p, "highspy")] == \
        ["optimizer/lp/highs.py"]
    assert [p for p in CORE.rglob("*.py") if uses(p, "streamlit")] == []
