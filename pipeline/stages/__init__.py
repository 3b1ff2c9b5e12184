"""One module per dvc.yaml stage, in pipeline order: validate, drift, prepare, train, evaluate. Each
has a `run(params)` that reads its inputs, calls the library and writes its outputs atomically."""
