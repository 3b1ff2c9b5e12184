"""The package's shape stays readable: no import cycle, no module past a screenful of purposes,
commands that declare their own options, and a library that neither prints nor parses arguments."""

from __future__ import annotations

import graphlib
import importlib

import pytest

from pipeline.cli import COMMANDS, command_module
from tests.support.imports import imports, module_path, modules
from tests.support.project import ROOT

MAX_LINES = 420  # "about 400": a module longer than this does more than one job


def test_no_import_cycle_inside_the_package():
    graph = {m: {i for i in imports(m) if i != m and i in modules()} for m in modules()}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_no_module_is_longer_than_about_400_lines():
    long = {m: n for m in modules()
            if (n := len((ROOT / module_path(m)).read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_every_command_declares_its_description_options_and_main():
    for name, summary in COMMANDS:
        module = command_module(name)
        assert module.__doc__ and summary, name
        assert callable(module.add_arguments) and callable(module.main), name
    listed = {name.replace("-", "_") for name, _ in COMMANDS}
    present = {p.stem for p in (ROOT / "pipeline" / "commands").glob("*.py")} - {"__init__", "github"}
    assert present == listed, f"command modules not in cli.COMMANDS: {present - listed}"


def test_only_the_command_layer_prints_parses_arguments_or_writes_ci_files():
    offenders = []
    for m in modules():
        if m.startswith("pipeline.commands") or m in ("pipeline.cli", "pipeline.__main__"):
            continue
        text = (ROOT / module_path(m)).read_text(encoding="utf-8")
        offenders += [f"{m}: {word}" for word in ("print(", "argparse", "GITHUB_OUTPUT",
                                                   "GITHUB_STEP_SUMMARY") if word in text]
    assert not offenders, offenders


def test_library_modules_import_without_side_effects():
    for m in modules():
        if m != "pipeline.__main__":  # the entry point: importing it runs the command line
            importlib.import_module(m)  # nothing runs, prints or reads files at import time
