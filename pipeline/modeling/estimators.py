"""The model families and the one preprocessing they share, fitted inside every saved pipeline so a
saved model takes raw rows; and the thread settings that keep training deterministic and fast."""

from __future__ import annotations

from typing import Any

from pipeline.core.schema import Schema
from pipeline.errors import PipelineError

FAMILIES = ("xgboost", "lightgbm", "random_forest", "logistic")


def one_blas_thread():
    """Same data, params and seed -> same bytes, whatever the machine's BLAS thread count.

    A multi-threaded BLAS sums in another order (the linear model's coefficients then differ by
    ~1e-11); the boosters' own OpenMP threads are deterministic and stay as they are.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def build_preprocessor(schema: Schema, scale: bool):
    """Imputation and one-hot encoding for every family; scaling only where the model needs it."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [SimpleImputer(strategy="median")] + ([StandardScaler()] if scale else [])
    categorical = [
        SimpleImputer(strategy="constant", fill_value="__missing__"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    ]
    return ColumnTransformer(
        [
            ("num", make_pipeline(*numeric), list(schema.numeric)),
            ("cat", make_pipeline(*categorical), list(schema.categorical)),
        ],
        verbose_feature_names_out=False,
    )


def build_estimator(family: str, hp: dict[str, Any], n_classes: int, seed: int, n_jobs: int,
                    early_stopping: int):
    if family == "xgboost":
        from xgboost import XGBClassifier

        return XGBClassifier(
            tree_method="hist", random_state=seed, n_jobs=n_jobs,
            eval_metric="mlogloss" if n_classes > 2 else "logloss",
            early_stopping_rounds=early_stopping or None, **hp,
        )
    if family == "lightgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(random_state=seed, n_jobs=n_jobs, verbose=-1, deterministic=True,
                              force_row_wise=True, **hp)
    if family == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(random_state=seed, n_jobs=n_jobs, **hp)
    if family == "logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(random_state=seed, **{"max_iter": 2000, **hp})
    raise PipelineError(f"params.yaml: models.{family}: unknown family (expected {FAMILIES})")


def saved_form(pre, est):
    """The saved form of every model: raw rows in, the fitted preprocessing, then the estimator."""
    from sklearn.pipeline import Pipeline

    return Pipeline([("preprocess", pre), ("model", est)])
