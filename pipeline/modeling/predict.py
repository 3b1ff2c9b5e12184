"""Score raw rows: id, predicted class and one probability per class, in input order."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline import params as P
from pipeline.errors import PipelineError


def run(params: dict[str, Any], input_path: Path, output: Path, model_path: Path | None = None) -> str:
    """Score `input_path` into `output`; without `model_path`, the production model (registry stage).
    Returns what scored it."""
    import pandas as pd

    from pipeline.core.files import load_model, read_table, write_frame
    from pipeline.core.schema import from_params
    from pipeline.stages.evaluate import predict_proba

    schema = from_params(params)
    frame = read_table(input_path)
    missing = [c for c in schema.features if c not in frame.columns]
    if missing:
        raise PipelineError(
            f"{input_path}: column '{missing[0]}': required feature missing "
            f"({len(missing)} missing in all)"
        )
    check_input(params, input_path, frame)
    if model_path is None:
        from pipeline.core.revision import production
        from pipeline.gitops.registry import production_ref

        ref = production_ref(params)
        prod = production(ref.rev)
        if prod is None:
            raise PipelineError(f"no production model: {ref.note or ref.rev} holds none (run `dvc repro`)")
        model, used = prod.model, f"{ref.version or ref.rev} ({ref.note or 'registry stage'})"
    else:
        model, used = load_model(model_path), str(model_path)
    proba = predict_proba(model, frame, schema)
    out = pd.DataFrame({schema.id: frame[schema.id]}) if schema.id in frame.columns else pd.DataFrame()
    out["prediction"] = [schema.classes[i] for i in proba.argmax(axis=1)]
    for k, cls in enumerate(schema.classes):
        out[f"proba_{cls}"] = proba[:, k].round(6)
    write_frame(output, out)
    return f"{len(out)} rows scored with {used}"


def check_input(params: dict[str, Any], path: Path, frame) -> None:
    """The data contract, without the target: bad rows are refused with the column and rule named."""
    from pipeline.stages.validate import check_frame

    check_frame(params, path, frame, labelled=False)


def cli(args: argparse.Namespace) -> int:
    done = run(P.load(args.params), Path(args.input), Path(args.output),
               Path(args.model) if args.model else None)
    print(f"predict: {done} -> {args.output}")
    return 0
