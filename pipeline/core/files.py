"""Files in and out: exact CSV reading, atomic writes, hashes, and safe model persistence."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.config import SCRATCH
from pipeline.errors import PipelineError

BATCH_SUFFIXES = (".csv", ".parquet")  # batch formats, read by extension (read_table)
PARQUET_CONTRACT = "a Parquet file with a schema"

# Every type a saved model may hold beyond skops' primitives and containers: the four families'
# pipelines and nothing else (skops' own default, every scikit-learn estimator, is not used: see
# `_skops`). Loading refuses anything else, so a model file from a pull request cannot run code on
# the machine that loads it.
TRUSTED_MODEL_TYPES = [
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "numpy.dtype",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
]


# Where half-written files wait for their rename, inside the project: a process killed mid-write
# (SIGKILL, OOM) leaves its temp file here, never among the outputs DVC hashes.


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path; rename it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=_scratch_for(path), prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _scratch_for(path: Path) -> Path:
    """The project's scratch folder when `path` is inside the project (same filesystem, so the
    rename stays atomic), else the target's own folder."""
    root = SCRATCH.parent.parent
    if root.is_dir() and path.resolve().is_relative_to(Path.cwd().resolve()):
        SCRATCH.mkdir(parents=True, exist_ok=True)
        return SCRATCH
    return path.parent


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=_json_default) + "\n")


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found (run the stage that writes it first)") from None
    except json.JSONDecodeError as exc:
        raise PipelineError(f"{path}: not valid JSON ({exc})") from None


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_frame(path: str | Path, frame) -> None:
    """Parquet keeps dtypes exact between stages; CSV for anything people open."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            frame.to_parquet(tmp, index=False, compression="zstd")  # ~30 % smaller than snappy
        else:
            frame.to_csv(tmp, index=False)


def read_frame(path: str | Path):
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: not found (run the stage that writes it first)")
    return pd.read_parquet(path) if path.suffix == ".parquet" else read_csv(path)


def save_figure(path: str | Path, fig) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def read_csv(path: str | Path, usecols: list[str] | None = None):
    """Read a comma-separated UTF-8 CSV exactly (pyarrow parses floats without the C engine's ulp errors)."""
    import pandas as pd

    path = require_file(path, "a CSV with a header row")
    try:
        frame = pd.read_csv(path, engine="pyarrow", usecols=usecols)
    except UnicodeDecodeError as exc:
        raise PipelineError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise PipelineError(f"{path}: cannot be read as CSV ({str(exc).splitlines()[0]})") from None
    except Exception as exc:  # pyarrow.lib.ArrowInvalid and friends carry the useful line
        raise PipelineError(f"{path}: cannot be read as CSV ({str(exc).splitlines()[0]})") from None
    for column in [c for c, dtype in frame.dtypes.items() if pd.api.types.is_object_dtype(dtype)]:
        values = frame[column].dropna()
        if len(values) and values.map(type).eq(bytes).any():  # pyarrow keeps undecodable text as bytes
            row = int(values.map(type).eq(bytes).idxmax()) + 2
            raise PipelineError(f"{path}: column '{column}': not valid UTF-8 (line {row}; the contract is "
                                "comma-separated UTF-8)")
    return frame


def read_parquet(path: str | Path, usecols: list[str] | None = None):
    """Read a Parquet batch; a missing, empty or unreadable file is one line naming it."""
    import pandas as pd

    path = require_file(path, PARQUET_CONTRACT)
    try:
        return pd.read_parquet(path, columns=usecols)
    except Exception as exc:  # ArrowInvalid: bad magic bytes, truncated footer or pages
        raise PipelineError(f"{path}: cannot be read as Parquet ({str(exc).splitlines()[0]})") from None


def require_file(path: str | Path, contract: str) -> Path:
    """A batch file that exists and is not empty, or one line saying which and what was expected."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise PipelineError(f"{path}: file is empty (the contract is {contract})")
    return path


def read_table(path: str | Path, usecols: list[str] | None = None):
    """A batch by its extension: Parquet (types kept) or CSV (comma-separated UTF-8)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        return read_parquet(path, usecols)
    return read_csv(path, usecols)


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def batch_files(directory: str | Path, pattern: str = "*.csv") -> list[Path]:
    """Batches in delivery order: file names are periods (YYYY-MM), so name order is time order.

    Only CSV and Parquet files count (a pattern such as `*` skips the `.dvc` files beside them);
    one period delivered in both formats is ambiguous and refused.
    """
    files = sorted((p for p in Path(directory).glob(pattern) if p.suffix.lower() in BATCH_SUFFIXES),
                   key=lambda p: (p.stem, p.name))
    if not files:
        raise PipelineError(f"{directory}: no batch files matching '{pattern}' "
                            f"(batches are {' or '.join(BATCH_SUFFIXES)} files)")
    for a, b in zip(files, files[1:], strict=False):
        if a.stem == b.stem:
            raise PipelineError(f"{b}: period '{b.stem}' is also delivered as {a.name} (keep one file "
                                "per period)")
    return files


# --- models --------------------------------------------------------------------------------------


_SKOPS_IMPORT = threading.Lock()  # two threads must not swap sklearn's function at the same time


def _skops() -> Any:
    """skops.io, imported without its default trust in every scikit-learn estimator. To list those,
    skops calls `sklearn.utils.all_estimators()` at import, which imports every scikit-learn module
    (pytest and dask.array among them): half a second or more of every process that saves or loads
    a model, for a default this project does not want. The walk is answered with no estimators, so
    skops trusts only its primitives and containers plus TRUSTED_MODEL_TYPES, passed on every load."""
    with _SKOPS_IMPORT:
        if "skops.io" not in sys.modules:
            import sklearn.utils

            walk = sklearn.utils.all_estimators
            sklearn.utils.all_estimators = lambda *args, **kwargs: []
            try:
                import skops.io  # noqa: F401
            finally:
                sklearn.utils.all_estimators = walk
    return sys.modules["skops.io"]


def save_model(path: str | Path, model: Any) -> None:
    """skops, canonicalised so that the same fitted model always gives the same bytes."""
    sio = _skops()
    write_bytes(path, _canonical_skops(sio.dumps(model)))


def load_model(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: model file not found")
    return load_model_bytes(path.read_bytes(), str(path))


def load_model_bytes(data: bytes, source: str) -> Any:
    """Load skops bytes, refusing any type outside the trusted list (never plain pickle)."""
    sio = _skops()

    try:
        untrusted = set(sio.get_untrusted_types(data=data)) - set(TRUSTED_MODEL_TYPES)
    except Exception as exc:
        raise PipelineError(f"{source}: not a skops model file ({exc})") from None
    if untrusted:
        raise PipelineError(
            f"{source}: refuses to load untrusted types {sorted(untrusted)} (skops trusted list)"
        )
    return sio.loads(data, trusted=TRUSTED_MODEL_TYPES)


def _canonical_skops(data: bytes) -> bytes:
    """skops names blobs with random UUIDs and records id() addresses; renumber both in order."""
    src = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(src.read("schema.json"))
    blobs = set(src.namelist()) - {"schema.json"}
    ids: dict[Any, int] = {}
    files: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "__id__":
                    node[key] = ids.setdefault(value, len(ids) + 1)
                elif key == "file" and isinstance(value, str) and value in blobs:
                    node[key] = files.setdefault(value, f"{len(files):06d}.{value.rsplit('.', 1)[-1]}")
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    entries = [("schema.json", json.dumps(schema, indent=2).encode())]
    entries += sorted((files[name], src.read(name)) for name in blobs)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, payload in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, payload)
    return out.getvalue()
