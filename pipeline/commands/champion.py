"""Write models/champion.json: the production model (the registry's prod stage, else
registry.fallback_rev) that prepare holds batches out against and train.strategy warm_start continues
from: its version, commit, md5 (from that commit's dvc.lock) and training files (from its model
card). Run it before `dvc repro` (CI does, `make champion`); the same champion rewrites nothing.
No production model yet: {"champion": null, "reason": ...}."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rev", help="a git revision instead of the registry's prod stage")


def main(args: argparse.Namespace) -> int:
    from pipeline import params as P
    from pipeline.config import CHAMPION
    from pipeline.gitops.champion import write

    found, changed = write(P.load(args.params), args.rev)
    champ = found["champion"]
    state = "written" if changed else "unchanged"
    if champ is None:
        print(f"champion: none ({found['reason']}) -> {CHAMPION} ({state})")
        return 0
    print(f"champion: {champ['version'] or champ['rev']} (commit {champ['commit'][:12]}, md5 "
          f"{champ['md5']}), trained on {len(champ['files'])} batch files -> {CHAMPION} ({state})")
    if champ.get("note"):
        print(f"  note: {champ['note']}")
    return 0
