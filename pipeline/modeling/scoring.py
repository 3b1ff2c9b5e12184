"""Score a file of raw rows (`predict`): the data contract without the target first, then the
production model (the registry's stage, fetched through DVC) or a given model file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError


def score_file(params: dict[str, Any], input_path: Path, output: Path,
               model_path: Path | None = None) -> tuple[str, list[str]]:
    """Score `input_path` into `output`; without `model_path`, the production model (registry stage).
    Returns what scored it and the contract's warnings (one line each)."""
    from pipeline.core.files import load_model, read_table, write_frame
    from pipeline.core.schema import from_params
    from pipeline.core.suite_checks import check_frame
    from pipeline.modeling.predict import predict_proba, scored_table

    schema = from_params(params)
    frame = read_table(input_path)
    missing = [c for c in schema.features if c not in frame.columns]
    if missing:
        raise PipelineError(
            f"{input_path}: column '{missing[0]}': required feature missing "
            f"({len(missing)} missing in all)"
        )
    findings = check_frame(params, input_path, frame, labelled=False)
    warnings = [f.line(input_path) for f in findings if not f.success]
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
    out = scored_table(frame, predict_proba(model, frame, schema), schema)
    write_frame(output, out)
    return f"{len(out)} rows scored with {used}", warnings
