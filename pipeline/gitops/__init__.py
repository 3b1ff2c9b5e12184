"""The GitOps loop around the pipeline: compare champion and challenger (the gate), the pull-request
report, the model registry (GTO tags), promotion and rollback on merge, CI plumbing, and the
scheduled run's ingest and retraining plan."""
