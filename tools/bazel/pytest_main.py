"""Bazel py_test entry point: runs pytest on the test files given as arguments.

Used by the `pytest_test` macro (tools/bazel/pytest.bzl). Runs from the runfiles tree, where
Bazel's test runner sets the working directory to the workspace root, so `tests/conftest.py`
is found and pytest puts `tests/` on sys.path (the tests do `from conftest import ...`).
"""

from __future__ import annotations

import os
import sys

import pytest


def main(argv: list[str]) -> int:
    args = [
        "-p",
        "no:cacheprovider",  # the runfiles tree is read-only: no .pytest_cache
        "-c",
        "pyproject.toml",  # [tool.pytest.ini_options]: markers, warning filters
        "--rootdir",
        os.getcwd(),
        "-q",
    ]
    # Bazel's XML_OUTPUT_FILE lets `bazel test` show per-test-case results.
    xml = os.environ.get("XML_OUTPUT_FILE")
    if xml:
        args.append(f"--junitxml={xml}")
    # --test_filter=<pytest -k expression> narrows a target down, e.g. to one test.
    test_filter = os.environ.get("TESTBRIDGE_TEST_ONLY")
    if test_filter:
        args += ["-k", test_filter]
    code = int(pytest.main(args + argv))
    if code == pytest.ExitCode.NO_TESTS_COLLECTED and "-m" in argv:
        # Every test in the file was deselected by the marker filter (e.g. `-m "not slow"`).
        print("pytest_main: all tests deselected by the marker filter; nothing to run")
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
