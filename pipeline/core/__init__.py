"""The library layer every room shares: files and safe model persistence, the schema and batches,
the data contract, metrics and resampling, drift statistics, plots, markdown, the model card, git
and DVC revisions. It never prints, parses arguments or knows a command."""
