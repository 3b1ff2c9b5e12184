"""Models: estimators and their shared preprocessing, the budgeted search and its trials, training
on a Dask cluster, and scoring rows with a saved model."""
