"""GitOps retraining of a tabular classifier: one module per pipeline stage (see DESIGN.md)."""
