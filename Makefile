# Every target sets up what it needs; all are safe to run twice.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast clean-runs

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

## The main job: Bible en-fr pairs -> train the demo model -> export -> held-out P@1 table.
demo: setup
	$(VENV)/bin/xling-tf demo

## The whole test suite (unit + end-to-end: training, export, fresh-process loading).
test: setup
	$(PY) -m pytest -q tests

## Unit tests only (seconds).
test-fast: setup
	$(PY) -m pytest -q -m "not slow" tests

clean-runs:
	rm -rf runs exports results
