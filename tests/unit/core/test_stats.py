"""The one-sort statistics equal scipy's; the drift verdict flags real changes and only those."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.spatial import distance

from pipeline import params as P
from pipeline.core import stats
from pipeline.drift import data as drift
from tests.support.project import ROOT

DRIFT = P.load(ROOT / "params.yaml")["drift"]  # the repository's knobs

STAT = {"rtol": 1e-12, "atol": 1e-12}
PVAL = {"rtol": 1e-9, "atol": 0}


def _samples(kind: str, n1: int, n2: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "continuous":
        return rng.normal(size=n1), rng.normal(0.03, 1.05, size=n2)
    if kind == "heavy_ties":  # five values: nearly every row is tied
        return rng.integers(0, 5, n1).astype(float), rng.integers(0, 6, n2).astype(float)
    if kind == "rounded":  # many ties, long tail
        return np.round(rng.exponential(size=n1), 1), np.round(rng.exponential(1.1, size=n2), 1)
    if kind == "disjoint":  # no overlap at all: extreme statistics
        return rng.normal(size=n1), rng.normal(10, 1, size=n2)
    if kind == "identical_constant":
        return np.full(n1, 3.0), np.full(n2, 3.0)
    raise ValueError(kind)


SIZES = [(5, 7), (8, 40), (9, 30), (300, 1000), (4000, 9000), (20_000, 15_000), (150_000, 90_000)]


@pytest.mark.parametrize("kind", ["continuous", "heavy_ties", "rounded", "disjoint"])
@pytest.mark.parametrize(("n1", "n2"), SIZES)
def test_numeric_statistics_equal_scipy(kind, n1, n2):
    x, y = _samples(kind, n1, n2, seed=n1 + n2)
    xs, _ = stats.sorted_values(x)
    ys, _ = stats.sorted_values(y)
    got = stats.numeric(xs, ys, bins=10)
    ks = sps.ks_2samp(x, y)
    mw = sps.mannwhitneyu(x, y)
    np.testing.assert_allclose(got["ks"]["statistic"], ks.statistic, **STAT)
    np.testing.assert_allclose(got["ks"]["pvalue"], ks.pvalue, **PVAL)
    np.testing.assert_allclose(got["mann_whitney"]["statistic"], mw.statistic, **STAT)
    np.testing.assert_allclose(got["mann_whitney"]["pvalue"], mw.pvalue, **PVAL)
    np.testing.assert_allclose(got["wasserstein"], sps.wasserstein_distance(x, y), **STAT)
    np.testing.assert_allclose(got["mean"]["diff"], y.mean() - x.mean(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["std"]["reference"], x.std(ddof=1), rtol=1e-9)
    np.testing.assert_allclose(got["wasserstein_norm"], got["wasserstein"] / max(x.std(ddof=1), 1e-3),
                               rtol=1e-9)


def test_ks_statistic_of_the_merge_equals_scipy_in_its_exact_range():
    """Below 10,000 rows the p-value comes from scipy's exact method; the merged D must agree too."""
    rng = np.random.default_rng(7)
    x, y = np.round(rng.normal(size=3000), 1), np.round(rng.normal(0.1, 1, size=7001), 1)
    xs, ys = np.sort(x), np.sort(y)
    z, from_x = stats.merge_sorted(xs, ys)
    assert np.array_equal(z, np.sort(np.concatenate([x, y]))) and from_x.sum() == x.size
    data_all = np.concatenate([xs, ys])
    cdd = np.searchsorted(xs, data_all, "right") / xs.size - np.searchsorted(ys, data_all, "right") / ys.size
    got = stats.numeric(xs, ys)
    assert got["ks"]["statistic"] == pytest.approx(max(cdd.max(), -cdd.min()), abs=1e-12)


def test_constant_columns_and_missing_values():
    x, y = _samples("identical_constant", 50, 70, 0)
    got = stats.numeric(np.sort(x), np.sort(y))
    assert got["ks"]["statistic"] == 0 and got["wasserstein"] == 0
    assert got["ks"]["pvalue"] == pytest.approx(sps.ks_2samp(x, y).pvalue)
    values, missing = stats.sorted_values(pd.Series([3.0, None, 1.0, np.nan], dtype="Float64"))
    assert missing == 2 and values.tolist() == [1.0, 3.0]


@pytest.mark.parametrize(("n1", "n2"), [(170_490, 170_490), (234_756, 100_000), (504_159, 504_159)])
def test_constant_column_at_sizes_where_the_tie_term_rounds_below_zero(n1, n2):
    # one tie group of every row: (n+1) - (n^3-n)/(n(n-1)) is 0 exactly but -1e-9 in floats at
    # these sizes, where math.sqrt raised (scipy returns NaN); identical constants are no drift
    got = stats.numeric(np.full(n1, 7.0), np.full(n2, 7.0))
    assert got["mann_whitney"]["pvalue"] == 1.0 and got["ks"]["pvalue"] == 1.0
    assert got["mann_whitney"]["statistic"] == n1 * n2 / 2
    frame = pd.DataFrame({"c": np.full(n1, 7.0)})
    result = drift.data_drift(frame, pd.DataFrame({"c": np.full(n2, 7.0)}), ["c"], [], DRIFT)
    assert result["drifted_features"] == [] and result["features"]["c"]["pvalue"] == 1.0


def test_integer_codes_read_as_float_on_one_side_are_the_same_categories():
    # a blank in the current batch makes pandas read the integer-coded column as float (1.0, 2.0)
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"estrato": rng.integers(1, 7, 20_000)})
    cur_codes = rng.integers(1, 7, 20_000).astype(float)
    cur_codes[:5] = np.nan
    cur = pd.DataFrame({"estrato": cur_codes})
    assert ref["estrato"].dtype.kind == "i" and cur["estrato"].dtype.kind == "f"
    assert set(stats.category_counts(cur["estrato"])) == {"1", "2", "3", "4", "5", "6", stats.MISSING}
    assert stats.category_counts(pd.Series([1.5, 2.0])) == {"1.5": 1, "2": 1}  # real fractions stay
    result = drift.data_drift(ref, cur, [], ["estrato"], DRIFT)
    feature = result["features"]["estrato"]
    assert feature["unseen_categories"] == [stats.MISSING]
    assert feature["jensen_shannon"] < 0.02 and result["drifted_features"] == []


def test_quantile_bins_match_numpy_quantiles():
    rng = np.random.default_rng(3)
    x, y = rng.gamma(2, size=5001), rng.gamma(2.2, size=3000)
    edges, ref, cur = stats.quantile_bins(np.sort(x), np.sort(y), 10)
    np.testing.assert_allclose(edges, np.quantile(x, np.arange(1, 10) / 10), rtol=1e-12)
    full = np.concatenate([[-np.inf], edges, [np.inf]])
    expect = [((y > lo) & (y <= hi)).mean() for lo, hi in zip(full[:-1], full[1:], strict=True)]
    np.testing.assert_allclose(cur, expect, rtol=1e-12)
    assert ref.sum() == pytest.approx(1) and len(ref) == 10
    # a discrete column: repeated quantiles merge into fewer bins; each value keeps its share
    x = np.repeat([0.0, 1.0, 2.0], [70, 20, 10])
    edges, ref, cur = stats.quantile_bins(x, x, 10)
    np.testing.assert_allclose(edges, np.unique(np.quantile(x, np.arange(1, 10) / 10)))
    assert len(edges) < 9 and ref[ref > 0].tolist() == pytest.approx([0.7, 0.2, 0.1])
    assert stats.psi(ref, cur) == 0


def test_categorical_statistics_equal_scipy():
    rng = np.random.default_rng(5)
    ref = pd.Series(rng.choice(["a", "b", "c", None], 4000, p=[0.5, 0.3, 0.15, 0.05]))
    cur = pd.Series(rng.choice(["a", "b", "c", "new"], 3000, p=[0.4, 0.3, 0.2, 0.1]))
    got = stats.categorical(stats.category_counts(ref), stats.category_counts(cur))
    both = pd.concat([ref.fillna(stats.MISSING), cur], ignore_index=True)
    side = np.repeat([0, 1], [len(ref), len(cur)])
    table = pd.crosstab(side, both)
    expected = sps.chi2_contingency(table.to_numpy())
    assert got["chi2"]["statistic"] == pytest.approx(expected.statistic, rel=1e-12)
    assert got["chi2"]["pvalue"] == pytest.approx(expected.pvalue, rel=1e-9)
    cats = list(got["shares"])
    p = np.array([got["shares"][c]["reference"] for c in cats])
    q = np.array([got["shares"][c]["current"] for c in cats])
    assert got["jensen_shannon"] == pytest.approx(distance.jensenshannon(p, q), rel=1e-12)
    assert got["unseen_categories"] == ["new"] and got["vanished_categories"] == [stats.MISSING]
    assert got["psi"] > 0


def test_benjamini_hochberg_equals_scipy():
    rng = np.random.default_rng(11)
    p = np.concatenate([rng.uniform(size=30), rng.uniform(0, 1e-4, size=5), [1.0, 0.0, 0.05, 0.05]])
    np.testing.assert_allclose(stats.benjamini_hochberg(p), sps.false_discovery_control(p), rtol=1e-12)


# --- the verdict ---------------------------------------------------------------------------------------


def _frame(n: int, seed: int, shift: dict[str, str] | None = None) -> pd.DataFrame:
    """Five numeric columns and two categorical ones; `shift` names the columns to change, and how."""
    rng = np.random.default_rng(seed)
    shift = shift or {}
    f = {
        "normal": rng.normal(size=n),
        "lognormal": rng.lognormal(15, 0.45, size=n),
        "ties": rng.poisson(1.5, size=n).astype(float),
        "scale": rng.normal(size=n),
        "tail": rng.normal(size=n),
    }
    if shift.get("normal") == "mean":
        f["normal"] = f["normal"] + 0.25
    if shift.get("scale") == "scale":
        f["scale"] = f["scale"] * 1.5
    if shift.get("tail") == "mixture":  # 5 % of rows from a far tail
        far = rng.random(n) < 0.05
        f["tail"] = np.where(far, rng.normal(4, 1, size=n), f["tail"])
    city_p = [0.5, 0.3, 0.2] if shift.get("city") != "reweight" else [0.3, 0.3, 0.4]
    f["city"] = rng.choice(["Bogotá", "Medellín", "Cali"], n, p=city_p)
    f["channel"] = rng.choice(["Oficina", "Digital", "Asesor"], n, p=[0.45, 0.35, 0.2])
    return pd.DataFrame(f)


NUMERIC = ["normal", "lognormal", "ties", "scale", "tail"]
CATEGORICAL = ["city", "channel"]


@pytest.mark.parametrize("n", [1_000, 1_000_000])
def test_no_false_alarm_on_samples_of_one_distribution(n):
    result = drift.data_drift(_frame(n, 1), _frame(n, 2), NUMERIC, CATEGORICAL, DRIFT)
    assert result["n_drifted"] == 0, result["drifted_features"]
    assert result["recommendation"] == "keep"
    if n == 1_000_000:  # the old rule (raw p < 0.05) would be pure chance here; effect sizes are tiny
        assert max(f["effect"]["value"] for f in result["features"].values()) < 0.01


def test_detects_exactly_the_changed_columns():
    changes = {"normal": "mean", "scale": "scale", "tail": "mixture", "city": "reweight"}
    result = drift.data_drift(_frame(200_000, 3), _frame(150_000, 4, changes), NUMERIC, CATEGORICAL, DRIFT)
    assert sorted(result["drifted_features"]) == sorted(changes)
    f = result["features"]
    assert f["normal"]["wasserstein_norm"] == pytest.approx(0.25, abs=0.02)
    assert f["normal"]["mean"]["diff"] == pytest.approx(0.25, abs=0.02)
    assert f["scale"]["std"]["rel"] == pytest.approx(0.5, abs=0.02)
    assert f["city"]["jensen_shannon"] >= 0.1
    assert result["share_drifted"] == pytest.approx(4 / 7)
    assert result["recommendation"] == "retrain"
    # the same mean shift at 1,000 rows is still found
    small = drift.data_drift(_frame(1_000, 5), _frame(1_000, 6, {"normal": "mean"}), NUMERIC, CATEGORICAL,
                             DRIFT)
    assert small["drifted_features"] == ["normal"]


def test_significant_but_tiny_is_not_drift():
    """At 1M rows a 0.02-SD shift has p ≈ 1e-40, but its effect is far under the threshold."""
    ref = pd.DataFrame({"x": np.random.default_rng(0).normal(size=1_000_000)})
    cur = pd.DataFrame({"x": np.random.default_rng(1).normal(0.02, 1, size=1_000_000)})
    f = drift.data_drift(ref, cur, ["x"], [], DRIFT)["features"]["x"]
    assert f["significant"] and f["pvalue_adjusted"] < 1e-20
    assert not f["drifted"]


@pytest.mark.parametrize(("share", "expected"), [(0.0, "keep"), (0.10, "keep"), (0.1001, "consider"),
                                                 (0.30, "consider"), (0.31, "retrain"), (1.0, "retrain")])
def test_recommendation_thresholds(share, expected):
    assert drift.recommendation(share, {"consider": 0.10, "retrain": 0.30}) == expected


def test_recommendation_follows_params():
    # 7 features, 1 drifted (14 %): consider with the defaults, keep with consider at 0.2
    ref, cur = _frame(20_000, 8), _frame(20_000, 9, {"normal": "mean"})
    assert drift.data_drift(ref, cur, NUMERIC, CATEGORICAL, DRIFT)["recommendation"] == "consider"
    assert drift.data_drift(ref, cur, NUMERIC, CATEGORICAL,
                            {**DRIFT, "consider": 0.2})["recommendation"] == "keep"
    strict = drift.data_drift(ref, cur, NUMERIC, CATEGORICAL, {**DRIFT, "wasserstein_norm": 0.5})
    assert strict["n_drifted"] == 0 and strict["features"]["normal"]["significant"]
