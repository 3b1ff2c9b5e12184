"""pipeline/config.py is the one place paths live: every path dvc.yaml names is defined there once."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from pipeline import config
from tests.support.project import ROOT


def _dvc_yaml_paths() -> set[str]:
    """The files and folders dvc.yaml's stages read and write, except code, params and templates."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    found = set()
    for stage in stages.values():
        body = stage.get("do", stage)
        for key in ("deps", "outs", "metrics", "plots"):
            for entry in body.get(key) or []:
                path = entry if isinstance(entry, str) else next(iter(entry))
                if not path.startswith("pipeline/"):
                    found.add(path)
    return found


def _defined() -> dict[str, str]:
    return {name: value.as_posix() for name, value in vars(config).items() if isinstance(value, Path)}


def test_every_dvc_yaml_path_is_defined_in_config():
    defined = set(_defined().values())
    missing = []
    for path in sorted(_dvc_yaml_paths()):
        if path.startswith("${"):
            continue  # a params key (data.batches_dir): the default lives in params.yaml
        literal = re.split(r"/?\$\{", path)[0]  # models/candidates/${key}.skops -> models/candidates
        if literal == "expectations":
            continue  # the suite's path is validate.suite in params.yaml
        folder_defined = any(literal == d or literal.startswith(d + "/") for d in defined)
        if not folder_defined:
            missing.append(path)
    assert not missing, f"dvc.yaml paths not defined in pipeline/config.py: {missing}"


def test_no_module_spells_a_configured_path():
    paths = set(_defined().values()) | _dvc_yaml_paths()
    offenders = []
    for module in sorted((ROOT / "pipeline").rglob("*.py")):
        if module.name == "config.py" and module.parent.name == "pipeline":
            continue
        text = module.read_text(encoding="utf-8")
        for path in paths:
            if "/" in path and "${" not in path and (f'"{path}"' in text or f"'{path}'" in text):
                offenders.append(f"{module.relative_to(ROOT)}: {path}")
    assert not offenders, "paths spelled outside pipeline/config.py:\n" + "\n".join(offenders)
