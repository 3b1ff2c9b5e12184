# Two set-up commands for a fresh machine with Python 3.11: `make run`, then `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DVC_NO_ANALYTICS := 1
export PYTHONHASHSEED := 0

.PHONY: install lock run retrain champion example-remote test test-fast lint bench clean dvc-remote dvc-plugin \
	dvc-pull dvc-push monitor site changes monitoring-restore monitoring-publish

## install: create .venv and install the locked dependencies (uv, with a plain-pip fallback)
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml uv.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	@if $(VENV)/bin/pip install -q "uv==$(UV_VERSION)" 2>/dev/null && \
	    UV_PROJECT_ENVIRONMENT=$(VENV) $(VENV)/bin/uv sync --frozen --inexact --all-groups --compile-bytecode; then \
	  echo "installed the locked environment with uv"; \
	else \
	  echo "uv unavailable: installing requirements.lock with pip"; \
	  $(VENV)/bin/pip install -q -r requirements.lock && $(PY) -m compileall -q $(VENV)/lib >/dev/null; \
	fi
	@touch $@

## lock: re-resolve after editing pyproject.toml (uv.lock, and requirements.lock for pip)
lock: install
	$(VENV)/bin/uv lock
	$(VENV)/bin/uv export --frozen --all-groups --no-hashes --no-emit-project -o requirements.lock >/dev/null

## run: fetch the committed outputs from the DVC remote (the bundled example remote on a fresh
## clone), reproduce what changed since (nothing, on a fresh clone) and print a summary
run: install
	@dvc pull || { echo "error: dvc pull failed: the default DVC remote lacks outputs that dvc.lock pins (\`make retrain\` trains them from scratch)" >&2; exit 2; }
	dvc repro
	$(PY) -m pipeline summary

## champion: write models/champion.json, the production model prepare and train build on (the
## registry's prod stage by md5; unchanged champion = unchanged file). Run before `dvc repro`.
champion: install
	$(PY) -m pipeline champion

## retrain: train every stage from scratch, to watch it (float bytes may differ across CPUs: the
## DVC remote, not retraining, is the source of truth for what was approved)
retrain: champion
	dvc repro --force
	$(PY) -m pipeline summary

## example-remote: refresh the bundled read-only remote (.dvc/example-remote) after the example's
## outputs changed: exactly the objects the committed dvc.lock pins, nothing else
example-remote: install
	rm -rf .dvc/example-remote
	dvc push --remote example
	@du -sh .dvc/example-remote

## test: the whole suite, slow end-to-end tests included, on every core (pytest-xdist, up to 4
## workers; a module's tests stay on one worker, so its shared fixtures are built once; files with slow
## tests are handed out first, tests/conftest.py). Idle OpenMP threads sleep (PASSIVE): several
## trainings share the cores, where spinning threads cost up to 10x
test: install
	OMP_WAIT_POLICY=PASSIVE $(PY) -m pytest -q -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder

## test-fast: skip the slow end-to-end tests (CI runs everything)
test-fast: install
	$(PY) -m pytest -q -m "not slow"

## lint: ruff, zizmor (workflows and local actions) and GitHub's workflow and action schemas
lint: install
	$(VENV)/bin/ruff check pipeline tests benchmarks
	$(VENV)/bin/zizmor --offline .github
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yaml
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-actions .github/actions/*/action.yml

## dvc-remote: CI: the DVC remote from $DVC_REMOTE_URL (s3://, ssh://, a folder), credentials from env
## (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for S3; DVC_SSH_KEY, a private key, for SSH). Written to
## .dvc/config.local, never committed. Unset: keep the remote of .dvc/config, if any.
dvc-remote: dvc-plugin
	@if [ -z "$$DVC_REMOTE_URL" ]; then \
	  echo "DVC_REMOTE_URL not set: using the remote in .dvc/config, if any"; \
	else \
	  dvc remote add --local --force --default storage "$$DVC_REMOTE_URL" && \
	  if [ -n "$$DVC_SSH_KEY" ]; then \
	    mkdir -p .dvc/tmp && (umask 077 && printf '%s\n' "$$DVC_SSH_KEY" > .dvc/tmp/ssh_key) && \
	    dvc remote modify --local storage keyfile "$(CURDIR)/.dvc/tmp/ssh_key"; \
	  fi && echo "DVC remote 'storage' configured from DVC_REMOTE_URL"; \
	fi

## dvc-plugin: the DVC plugin DVC_REMOTE_URL's scheme needs (dvc-s3, dvc-ssh), into .venv
dvc-plugin: install
	@case "$$DVC_REMOTE_URL" in \
	  s3://*) $(VENV)/bin/uv pip install -q --python $(PY) "dvc-s3>=3.2,<4" ;; \
	  ssh://*) $(VENV)/bin/uv pip install -q --python $(PY) "dvc-ssh>=4.2,<5" ;; \
	esac

## dvc-pull: what the DVC remote has for this commit (outputs not pushed yet are tolerated)
dvc-pull: install
	@if [ -n "$$(dvc remote list)" ]; then dvc pull --allow-missing; \
	else echo "no DVC remote configured: nothing to pull"; fi

## dvc-push: the reproduced outputs to the DVC remote (never the bundled read-only example remote)
dvc-push: install
	@if [ "$$(dvc config core.remote 2>/dev/null)" = example ]; then \
	  echo "error: the default DVC remote is the bundled read-only example remote (.dvc/example-remote): set your own (DVC_REMOTE_URL for \`make dvc-remote\`, or \`dvc remote add --local -d storage URL\`)" >&2; exit 2; fi
	dvc push

## monitor: score the production model on the batches since its training window: alerts, triggers,
## retrospective A/B (reports/monitoring/, metrics.prom). MONITOR_REV=<rev> (default: the registry's
## prod stage), FORCE_RETRAIN=true to decide retrain whatever the triggers say.
monitor: install
	$(PY) -m pipeline monitor $${MONITOR_REV:+--rev "$$MONITOR_REV"} --prometheus reports/monitoring/metrics.prom \
	  $$( [ "$${FORCE_RETRAIN:-false}" = true ] && echo --force-retrain )

## changes: CI: does the pull request touch what the pipeline or its environment is made of? Writes
## pipeline=true|false to $GITHUB_OUTPUT (BASE=<sha> of the base branch). A workflow-level `paths:`
## filter would leave the required check "expected" forever on every other PR: decide in a job instead.
PIPELINE_INPUTS := ^(data/|expectations/|pipeline/|params\.yaml$$|dvc\.yaml$$|dvc\.lock$$|pyproject\.toml$$|uv\.lock$$|Makefile$$|\.dvc/config$$)
changes:
	@test -n "$$BASE" || { echo "error: make changes: BASE (the base commit) is not set" >&2; exit 2; }
	@files=$$(git diff --name-only "$$BASE...HEAD") && \
	if printf '%s\n' "$$files" | grep -qE '$(PIPELINE_INPUTS)'; then pipeline=true; else pipeline=false; fi && \
	echo "pipeline inputs changed: $$pipeline ($$(printf '%s\n' "$$files" | grep -c .) files changed)" && \
	echo "pipeline=$$pipeline" >> "$${GITHUB_OUTPUT:-/dev/null}"

## monitoring-restore / monitoring-publish: CI: the monitoring history lives on its own branch
## (MONITORING_BRANCH), never on the protected main: restore it before `make monitor`, then commit
## reports/monitoring on top of it (a branch holding only that folder) and push. Writes sha=<commit>
## and changed=true|false (false: the same files as the branch's tip, nothing pushed).
MONITORING_BRANCH ?= monitoring
monitoring-restore:
	@if git fetch -q origin "+refs/heads/$(MONITORING_BRANCH):refs/remotes/origin/$(MONITORING_BRANCH)" 2>/dev/null; then \
	  git checkout "origin/$(MONITORING_BRANCH)" -- reports/monitoring && \
	  echo "monitoring history restored from $(MONITORING_BRANCH)"; \
	else echo "no $(MONITORING_BRANCH) branch yet: starting the monitoring history"; fi

monitoring-publish:
	@parent=$$(git rev-parse -q --verify "refs/remotes/origin/$(MONITORING_BRANCH)^{commit}" || true); \
	index=$$(mktemp -u) && \
	tree=$$(GIT_INDEX_FILE=$$index git add reports/monitoring && GIT_INDEX_FILE=$$index git write-tree) && \
	rm -f "$$index" && \
	if [ -n "$$parent" ] && [ "$$tree" = "$$(git rev-parse "$$parent^{tree}")" ]; then \
	  sha=$$parent changed=false; echo "monitoring history unchanged ($${sha:0:7})"; \
	else \
	  changed=true && \
	  sha=$$(git commit-tree "$$tree" $${parent:+-p "$$parent"} \
	    -m "Monitoring $${PERIOD:-?}: $${DECISION:-?} (production model from $$(git rev-parse --short HEAD))") && \
	  git push -q origin "$$sha:refs/heads/$(MONITORING_BRANCH)" && \
	  echo "monitoring history $${sha:0:7} pushed to $(MONITORING_BRANCH)"; \
	fi && printf 'sha=%s\nchanged=%s\n' "$$sha" "$$changed" >> "$${GITHUB_OUTPUT:-/dev/null}"

## site: the static site in site/ (registry, monitoring, data contract, GX Data Docs); open site/index.html.
## SITE_MONITORING_REF=<rev>: read reports/monitoring/ from that git revision instead of the work tree.
site: install
	$(PY) -m pipeline site -o site $${SITE_MONITORING_REF:+--monitoring-ref "$$SITE_MONITORING_REF"}

## bench: the benchmarks (figures and ratios against a baseline run beside them; several minutes)
bench: install
	$(PY) -m benchmarks.train
	$(PY) -m benchmarks.validate
	$(PY) -m benchmarks.drift
	$(PY) -m benchmarks.compare
	$(PY) -m benchmarks.memory
	$(PY) -m benchmarks.scaling
	$(PY) -m benchmarks.gate_power
	$(PY) -m benchmarks.label_free

clean:
	rm -rf $(VENV) .pytest_cache
