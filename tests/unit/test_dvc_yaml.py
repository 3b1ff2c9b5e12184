"""dvc.yaml knows the code: every stage depends on exactly the package modules its command imports.

A stage whose deps miss a module it imports (directly or not) would not rerun when that module
changes: a pull request changing how models are saved would not retrain. The import graph is
derived from the code itself (every `import`, including those inside functions).
"""

from __future__ import annotations

import yaml

from pipeline.cli import command_module as command_module_of
from tests.support.imports import closure
from tests.support.project import ROOT


def command_module(command: str) -> str:
    """The module `python -m pipeline <command>` runs (and nothing else of pipeline.commands)."""
    return command_module_of(command).__name__


def expected_deps() -> dict[str, set[str]]:
    """Per stage of dvc.yaml: the package files its command imports (entry point included)."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    entry = closure("pipeline.__main__")
    out = {}
    for name, stage in stages.items():
        body = stage.get("do", stage)
        argv = body["cmd"].split()
        assert argv[:3] == ["python", "-m", "pipeline"], f"{name}: runs {body['cmd']!r}"
        out[name] = entry | closure(command_module(argv[3]))
    return out


def declared_deps() -> dict[str, set[str]]:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: {d for d in stage.get("do", stage).get("deps", []) if d.startswith("pipeline/")}
            for name, stage in stages.items()}


def test_every_stage_depends_on_exactly_the_code_it_imports():
    expected, declared = expected_deps(), declared_deps()
    problems = []
    for stage, files in expected.items():
        missing, extra = sorted(files - declared[stage]), sorted(declared[stage] - files)
        if missing or extra:
            problems.append(f"{stage}: missing {missing}, not imported {extra}")
    assert not problems, "dvc.yaml deps out of date with the import graph:\n" + "\n".join(problems)


def test_the_import_graph_sees_function_level_imports():
    # evaluate imports pipeline.core.files only inside functions; the graph must still see it
    assert "pipeline/core/files.py" in closure("pipeline.stages.evaluate")
    assert "pipeline/core/revision.py" not in closure("pipeline.stages.prepare")


def test_evaluate_declares_every_param_the_model_card_records():
    """The card is a git-tracked output: a params block it copies but the stage does not declare
    would leave it stale after a change (train.dask.lightgbm_port once did)."""
    import json

    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["evaluate"]
    declared = {p.split(".")[0] for p in stage["params"]}
    card = json.loads((ROOT / "models" / "model_card.json").read_text())
    recorded = set(card["params"]) | {"seed", "schema"}  # training.seed and the schema block too
    assert recorded <= declared, f"evaluate's params miss {sorted(recorded - declared)}"
