# Two set-up commands for a fresh machine with Python 3.11: `make run`, then `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DVC_NO_ANALYTICS := 1
export PYTHONHASHSEED := 0

.PHONY: install lock run test test-fast lint bench clean

## install: create .venv and install the locked dependencies (uv, with a plain-pip fallback)
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml uv.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	@if $(VENV)/bin/pip install -q "uv==$(UV_VERSION)" 2>/dev/null && \
	    UV_PROJECT_ENVIRONMENT=$(VENV) $(VENV)/bin/uv sync --frozen --inexact --all-groups; then \
	  echo "installed the locked environment with uv"; \
	else \
	  echo "uv unavailable: installing requirements.lock with pip"; \
	  $(VENV)/bin/pip install -q -r requirements.lock; \
	fi
	@touch $@

## lock: re-resolve after editing pyproject.toml (uv.lock, and requirements.lock for pip)
lock: install
	$(VENV)/bin/uv lock
	$(VENV)/bin/uv export --frozen --all-groups --no-hashes --no-emit-project -o requirements.lock >/dev/null

## run: reproduce the pipeline on the bundled example data and print a summary
run: install
	dvc repro
	$(PY) -m pipeline summary

## test: the whole suite, slow end-to-end tests included
test: install
	$(PY) -m pytest -q

## test-fast: skip the slow end-to-end tests (CI runs everything)
test-fast: install
	$(PY) -m pytest -q -m "not slow"

## lint: ruff, zizmor and the GitHub workflow schema
lint: install
	$(VENV)/bin/ruff check pipeline tests benchmarks
	$(VENV)/bin/zizmor --offline .github/workflows
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yaml

## bench: the benchmarks (figures and ratios against a baseline run beside them)
bench: install
	$(PY) benchmarks/train.py

clean:
	rm -rf $(VENV) .pytest_cache
