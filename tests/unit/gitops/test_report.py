"""The PR comment: verdict first, valid GitHub-flavoured markdown, images that exist, under the limit.

These tests build the report from hand-made stage outputs in a small git repository (no pipeline run),
so they can push the sizes (hundreds of features, many batches) that real runs rarely reach.
The end-to-end report on real outputs is in tests/unit/gitops/test_compare.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline import params as P
from pipeline.core import markdown as MD
from pipeline.core.plots import confusion_png
from pipeline.gitops import report as R
from pipeline.gitops import report_layout as L
from pipeline.gitops.compare import CONFUSION_PNG, ROC_PNG
from tests.support.project import ROOT, run

CLASSES = ["Bajo", "Medio", "Alto"]


def comparison(decision: str = "promote", champion: bool = True) -> dict:
    """A comparison.json as `compare` writes it (the keys the report reads)."""
    metrics = {}
    for name, a, b in (("accuracy", 0.84, 0.87), ("f1_weighted", 0.83, 0.86), ("log_loss", 0.42, 0.37),
                       ("recall_Alto", 0.70, 0.74), ("precision_Alto", 0.8, 0.8), ("f1_Alto", 0.75, 0.77)):
        metrics[name] = {"champion": a if champion else None, "challenger": b,
                         "delta": round(b - a, 6) if champion else None}
    for cls in CLASSES:
        for stat in ("precision", "recall", "f1"):
            metrics.setdefault(f"{stat}_{cls}", {"champion": 0.8 if champion else None, "challenger": 0.82,
                                                  "delta": 0.02 if champion else None})
    card = {"version": "v1.2.0", "commit": "a" * 40, "family": "xgboost", "model_sha256": "b" * 64,
            "model_bytes": 123456, "train_rows": 22800, "training_seconds": 41.5,
            "data_files": [{"path": f"data/batches/2024-0{i}.csv", "sha256": f"{i}" * 64, "rows": 5000}
                           for i in range(1, 6)], "best_params": {"max_depth": 5}}
    return {
        "decision": decision, "promote": decision != "reject", "primary_metric": "accuracy",
        "base": {"rev": "main", "commit": "a" * 40},
        "delta": 0.03 if champion else None, "confidence_interval": [0.012, 0.049] if champion else None,
        "test_set": {"rows": 1500, "holdout_of": "2024-06"},
        "gate": {"confidence": 0.95, "max_drop": {"recall_Alto": 0.02}},
        "mcnemar": {"method": "chi-squared with continuity correction", "champion_only_correct": 40,
                    "challenger_only_correct": 85, "p_value": 0.0001} if champion else None,
        "checks": [{"kind": "improvement", "passed": decision != "reject",
                    "message": "accuracy improved by +0.0300 (0.8700 vs 0.8400)"}],
        "reasons": ["accuracy changed by +0.0040, less than required"] if decision == "reject" else ["ok"],
        "identical_models": False,
        "models": {"champion": card if champion else None,
                   "challenger": {**card, "version": "work tree @ cafe1234", "family": "lightgbm",
                                  "model_sha256": "c" * 64}},
        "metrics": metrics,
        "figures": {"confusion": CONFUSION_PNG.as_posix(), "roc": ROC_PNG.as_posix()},
    }


def drift(n_features: int) -> dict:
    rng = np.random.default_rng(0)
    feats = {}
    for i in range(n_features):
        numeric = i % 3 != 0
        effect = float(rng.uniform(0, 0.4))
        name = f"feature_{i:04d}_with_a_rather_long_descriptive_name_from_some_warehouse"
        feats[name] = {"type": "numeric" if numeric else "categorical", "drifted": effect > 0.3,
                       "psi": effect / 2, "pvalue_adjusted": 0.001,
                       ("wasserstein_norm" if numeric else "jensen_shannon"): effect}
    drifted = sum(f["drifted"] for f in feats.values())
    return {"features": feats, "share_drifted": drifted / n_features, "recommendation": "retrain",
            "prediction_drift": {"drifted": True, "class_mix": {c: {"reference": 0.3, "current": 0.35}
                                                                  for c in CLASSES}},
            "concept_drift": {"available": True, "drifted": True, "changed_relations": ["dti"],
                              "relations": {"dti": {"correlation": {"reference": 0.68, "current": 0.54}}},
                              "performance": {"metric": "accuracy", "current": 0.81,
                                              "current_ci": [0.79, 0.83], "reference": 0.86}}}


def validation(n_batches: int, failing: int = 1) -> dict:
    batches = {}
    for i in range(n_batches):
        bad = i < failing
        name = f"data/batches/{2020 + i // 12}-{i % 12 + 1:02d}.csv"
        batches[name] = {
            "rows": 5000, "success": not bad, "critical_failures": int(bad), "warnings": 1,
            "errors": [f"{name}: column 'edad': values between 18 and 80 (12 rows)"] if bad else [],
            "warning_lines": [f"{name}: column 'ciudad': unseen category 'Neiva' (3 rows)"],
            "results": [{"check": "expect_column_values_to_be_between", "column": "edad",
                         "severity": "critical", "success": not bad, "unexpected_count": 12 if bad else 0}]}
    return {"suite": "expectations/credit_risk.json", "summary": {"expectations": 79}, "batches": batches}


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A git repository with params.yaml and one batch committed on `main`, then a second batch
    and a params change in the work tree; figures as compare writes them."""
    root = tmp_path / "repo"
    (root / "data/batches").mkdir(parents=True)
    shutil.copy(ROOT / "params.yaml", root / "params.yaml")
    (root / "data/batches/2024-01.csv").write_text("a,b\n1,2\n")
    run(["git", "init", "-q", "-b", "main"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "base"], root)
    (root / "data/batches/2024-02.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    text = (root / "params.yaml").read_text()
    (root / "params.yaml").write_text(text.replace("seed: 42", "seed: 7"))
    monkeypatch.chdir(root)
    y = np.array([0, 1, 2, 0, 1, 2, 0])
    confusion_png(CONFUSION_PNG, y, {"champion": y, "challenger": np.roll(y, 1)}, CLASSES)
    shutil.copy(CONFUSION_PNG, ROC_PNG)
    return root


def write(path: str, data) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data))


def parse(text: str):
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").parse(text)


def check_markdown(text: str, root: Path) -> list:
    """Valid GFM for our purposes: tables parse, <details> balance, every image exists."""
    tokens = parse(text)
    assert sum(t.type == "table_open" for t in tokens) >= 2
    assert text.count("<details>") == text.count("</details>")
    images = [c.attrs["src"] for t in tokens for c in (t.children or []) if c.type == "image"]
    for src in images:
        assert not src.startswith(("/", "http")), src
        assert (root / "reports" / src).is_file(), src
    return images


def build(root: Path, notes=None) -> str:
    return R.build(P.load("params.yaml"), "params.yaml", Path("reports/report.md"), None, notes)


@pytest.mark.parametrize(("n_features", "n_batches", "failing"), [(300, 120, 3), (3000, 400, 200)])
def test_report_with_many_features_stays_under_githubs_limit(repo, n_features, n_batches, failing):
    write("reports/comparison.json", comparison())
    write("reports/drift.json", drift(n_features))
    write("reports/validation.json", validation(n_batches, failing=failing))
    shutil.copy(CONFUSION_PNG, "reports/drift.png")
    text = build(repo)
    assert len(text) < L.GITHUB_LIMIT and len(text) <= L.BUDGET + 1
    assert text.startswith("## ✅ Merging promotes the challenger (lightgbm): it beats the champion v1.2.0")
    images = check_markdown(text, repo)
    assert set(images) == {"compare/compare_confusion.png", "compare/compare_roc.png", "drift.png"}
    # the most drifted features come first, and the failing batches are never cut
    first = text.index("| feature_")
    top = max(drift(n_features)["features"].items(), key=lambda kv: max(
        kv[1].get("wasserstein_norm", 0), kv[1].get("jensen_shannon", 0)))[0]
    assert text[first:first + 80].startswith(f"| {MD.cell(top, 40)}")
    assert "2020-01.csv: column 'edad'" in text and f"❌ {failing} of {n_batches} batches fail" in text
    assert "dti correlation 0.68→0.54" in text and "Bajo 30%→35%" in text


def test_report_sections_against_the_base(repo):
    write("reports/comparison.json", comparison("reject"))
    text = build(repo, notes=["Forked pull request: no secrets, so no retraining."])
    lines = text.splitlines()
    assert lines[0] == ("## ❌ Merging accepts the data and keeps v1.2.0 in production: accuracy changed "
                        "by +0.0040, less than required (the label `promote-anyway` promotes it anyway)")
    assert lines[1] == "> Forked pull request: no secrets, so no retraining."
    assert "| `seed` | 42 | 7 |" in text
    assert "1 new batch, 3 rows." in text and "| `data/batches/2024-02.csv` | 3 |" in text
    assert "data/batches/2024-01.csv` |" not in text.split("### Data added")[1].split("###")[0]
    assert "McNemar's test (chi-squared with continuity correction)" in text and "p = 0.0001" in text
    check_markdown(text, repo)
    # the report is the same text for the same inputs (the comment is updated in place)
    assert build(repo) == build(repo)


def test_report_verdicts_without_a_champion_or_a_comparison(repo):
    write("reports/comparison.json", comparison("no_champion", champion=False))
    text = build(repo)
    assert text.startswith("## 🆕 Merging puts the first model in production: lightgbm, accuracy 0.8700 "
                           "on 1,500 held-out rows")
    check_markdown(text, repo)

    Path("reports/comparison.json").unlink()
    write("reports/validation.json", validation(2, failing=1))
    text = build(repo)
    assert text.startswith("## ❌ Reject: the data contract failed for `data/batches/2020-01.csv`: "
                           "data/batches/2020-01.csv: column 'edad'")
    write("reports/validation.json", validation(2, failing=0))
    assert build(repo).startswith("## ℹ️ No model comparison in this run")
    Path("reports/drift.json").write_text("{not json")
    assert "`reports/drift.json` could not be read" in build(repo)


def test_a_comparison_of_another_model_is_flagged_stale(repo):
    write("reports/comparison.json", comparison())
    Path("models").mkdir()
    Path("models/model.skops").write_bytes(b"a different model")
    assert build(repo).startswith("## ⚠️ Stale comparison")


def test_unknown_base_is_reported_not_raised(repo):
    write("reports/comparison.json", comparison() | {"base": {"rev": "nonexistent", "commit": None}})
    text = build(repo)
    assert "git does not know `nonexistent`" in text


def test_assemble_shortens_then_drops_to_fit():
    big = L.Section("### A\n\n" + "x" * 50_000, "### A\n\nshort")
    other = L.Section("### B\n\n" + "y" * 30_000)
    text = L.assemble([L.Section("## verdict"), big, other], budget=40_000)
    assert text.startswith("## verdict") and "short" in text and len(text) <= 40_000
    assert "shortened to fit" in text
    text = L.assemble([L.Section("## verdict"), L.Section("z" * 90_000)], budget=40_000)
    assert text.startswith("## verdict") and len(text) <= 40_001


def test_table_cells_cannot_break_the_table():
    assert MD.cell("a|b\nc") == "a\\|b c"
    assert len(MD.cell("x" * 500, 40)) == 40
    tokens = parse(MD.table(["h1", "h2"], [[MD.cell("a|b"), "1"]]))
    assert [t.type for t in tokens].count("td_open") == 2


def test_decision_impact_and_evaluation_provenance(repo):
    """The flip table (how many applicants change class), and the rows behind the numbers."""
    from pipeline.core.resampling import flip_table

    pred_a = np.array([0] * 900 + [1] * 400 + [2] * 200)
    pred_b = pred_a.copy()
    pred_b[:6] = 2       # 6 applicants move from Bajo to Alto (0.4 %)
    pred_b[900:903] = 0  # 3 from Medio to Bajo
    flips = flip_table(pred_a, pred_b, CLASSES)
    assert flips["changed"] == 9 and flips["moves"][0] == {"from": "Bajo", "to": "Alto", "rows": 6,
                                                           "share": 0.004}
    assert flips["table"]["Bajo"] == {"Bajo": 894, "Medio": 0, "Alto": 6}
    c = comparison() | {"flips": flips, "evaluation": {
        "rows": 1500, "test_rows": 1800, "batches": {"2024-06": 1500},
        "excluded": [{"reason": "rows in the champion's training or validation split", "rows": 300}]}}
    write("reports/comparison.json", c)
    text = build(repo)
    assert "9 applicants (0.6%) change class" in text
    assert "- 0.4% (6) move from Bajo to Alto" in text and "- 0.2% (3) move from Medio to Bajo" in text
    assert "| **Bajo** | 894 | 0 | 6 |" in text
    assert ("Evaluation set: 1,500 of 1,800 test rows (by batch: `2024-06` 1,500); left out: 300 rows in "
            "the champion's training or validation split.") in text
    check_markdown(text, repo)


def test_images_link_to_the_repository_at_a_commit(tmp_path, monkeypatch):
    """--image-base: local images become blob URLs at the commit holding them (private repositories
    serve those to their readers); URLs already absolute are left alone."""
    monkeypatch.chdir(tmp_path)
    text = ("![Confusion](figures/confusion.png)\n![Drift](drift/drift.png)\n"
            "![Elsewhere](https://example.org/x.png)\n")
    base = "https://github.com/acme/credit-risk/blob/" + "a" * 40
    out = R.link_images(text, Path("reports/report.md"), base + "/")
    assert out.splitlines() == [f"![Confusion]({base}/reports/figures/confusion.png?raw=true)",
                                f"![Drift]({base}/reports/drift/drift.png?raw=true)",
                                "![Elsewhere](https://example.org/x.png)"]


def test_the_cost_of_errors_shows_the_matrix_and_both_models_cost():
    from pipeline.gitops.report_model import cost_section, metrics_section

    c = comparison()
    assert cost_section(c) is None  # no schema.costs: no section
    matrix = {"Bajo": {"Bajo": 0.0, "Medio": 1.0, "Alto": 1.0},
              "Medio": {"Bajo": 2.0, "Medio": 0.0, "Alto": 1.0},
              "Alto": {"Bajo": 10.0, "Medio": 5.0, "Alto": 0.0}}
    c["metrics"]["expected_cost"] = {"champion": 0.3125, "challenger": 0.2871, "delta": -0.0254}
    c["costs"] = {"matrix": matrix, "trivial": 0.818, "interval": [-0.041, -0.009], "confidence": 0.95}
    text = cost_section(c).full
    assert "champion 0.3125, challenger 0.2871 (-0.0254, 95% CI -0.0410 to -0.0090)" in text
    assert "the cheapest single decision for everyone costs 0.8180" in text
    assert "| **Alto** | 10 | 5 | 0 |" in text and "| actual \\ predicted | Bajo | Medio | Alto |" in text
    assert "not judged by the gate" in text
    c["gate"]["max_increase"] = {"expected_cost": 0.05}
    assert "The gate judges it." in cost_section(c).full
    metrics = metrics_section(c, "Alto").full
    assert "| expected_cost (lower is better) | 0.3125 | 0.2871 | -0.0254 |" in metrics
    first = comparison("no_champion", champion=False)
    first["metrics"]["expected_cost"] = {"champion": None, "challenger": 0.2871, "delta": None}
    first["costs"] = {"matrix": matrix, "trivial": 0.818, "interval": None}
    assert "(lower is better): challenger 0.2871;" in cost_section(first).full
