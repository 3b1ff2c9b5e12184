"""Drift analysis: is new data still what a model learned from? The stage (pipeline.stages.drift) and
monitoring both ask it.

A column counts as drifted only when the change is both real and large enough to matter:
- real: significant after a Benjamini–Hochberg correction across the columns tested together
  (numeric: KS or Mann–Whitney, as the original system, Bonferroni-combined as 2·min(p); categorical:
  chi-squared). With 20 columns and no correction, p < 0.05 flags a stable column by chance alone.
- large: an effect size over a threshold from params (normalised Wasserstein or PSI for numbers;
  Jensen–Shannon or PSI for categories). At 100,000 rows every p-value is tiny: significance alone
  says the sample is big, not that the data moved.

`data`: per-column statistics, the verdict and the recommendation (keep / consider / retrain).
`model`: prediction drift (the model's outputs on both samples, same rule) and concept drift (labels
needed: each feature's relation to the target, and the model's performance).
`figures`: the effect-size chart and the overlays of drifted columns.
"""
