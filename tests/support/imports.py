"""The package's import graph, read from the code (every `import`, including those inside
functions): what dvc.yaml's deps and the layout tests are checked against."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.project import ROOT


def module_path(module: str) -> Path:
    """`pipeline.core.files` -> pipeline/core/files.py (a package: its __init__.py), relative."""
    path = Path(module.replace(".", "/") + ".py")
    return path if (ROOT / path).exists() else Path(module.replace(".", "/")) / "__init__.py"


def modules() -> list[str]:
    """Every module of the package, by dotted name."""
    out = []
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


def imports(module: str) -> set[str]:
    """The `pipeline.*` modules one module imports anywhere in its body."""
    found: set[str] = set()
    tree = ast.parse((ROOT / module_path(module)).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "pipeline"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "pipeline":
            found.add(node.module)
            for alias in node.names:  # `from pipeline import params` imports a module
                sub = f"{node.module}.{alias.name}"
                if (ROOT / (sub.replace(".", "/") + ".py")).exists():
                    found.add(sub)
    return found


def closure(module: str) -> set[str]:
    """`module` and everything it imports from the package, transitively, as file paths."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += sorted(imports(name))
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run first
    return {module_path(name).as_posix() for name in seen}
