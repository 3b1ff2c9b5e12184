"""Monitoring: the production model scored period by period on the batches that arrived after it.

`python -m pipeline monitor` (monthly, .github/workflows/scheduled.yaml) calls `run.run`, which reads
in this order: `deployments` (which registered version is in production, since when, the revert that
undoes it), `inputs` (the training window, the held-out rows and the new batches, as the model card
hashed them), `scoring` (every number for one period: metrics, calibration, the label-free estimate,
drift, ADWIN), `alerts` (thresholds from params.yaml, floors, streaks), `triggers` (retrain or
wait), `abtest` (after a promotion, the current version against the previous one) and `outputs`
(history.csv, metrics.png, latest.json, issue.md, Prometheus text). Alerts are findings, not errors.
"""
