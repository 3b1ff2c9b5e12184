"""Speed and memory benchmarks: `python -m benchmarks.<name> --help` from the repository root."""
