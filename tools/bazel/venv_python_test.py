"""Proves that Bazel runs Python tests with the project's virtualenv interpreter.

Bazel 4.2.3 silently ignores --python_path while Python toolchains are enabled; without the
generated @xling_venv_python toolchain the tests would run under whichever `python3` is on
PATH. This test fails loudly if that ever happens again.
"""

from __future__ import annotations

import os
import sys
import unittest


def _runfile(path: str) -> str:
    return os.path.join(os.environ["TEST_SRCDIR"], os.environ["TEST_WORKSPACE"], path)


class VenvPythonTest(unittest.TestCase):
    def test_interpreter_is_the_generated_venv_python(self):
        with open(_runfile("external/xling_venv_python/interpreter_path.txt")) as f:
            expected = f.read().strip()
        self.assertEqual(os.path.abspath(sys.executable), os.path.abspath(expected))
        self.assertTrue(os.path.isabs(expected))

    def test_running_inside_a_virtualenv(self):
        self.assertNotEqual(sys.prefix, sys.base_prefix, "not a venv interpreter")
        self.assertEqual(sys.version_info[:2], (3, 11))

    def test_third_party_packages_come_from_the_venv(self):
        import pytest
        import tensorflow as tf

        for module in (tf, pytest):
            self.assertTrue(
                os.path.realpath(module.__file__).startswith(os.path.realpath(sys.prefix)),
                f"{module.__name__} imported from {module.__file__}, not from {sys.prefix}",
            )
        self.assertTrue(tf.__version__.startswith("2.20."), tf.__version__)

    def test_project_code_comes_from_the_runfiles_tree(self):
        # The venv also has an editable install of xling_tf; Bazel's runfiles must win, or
        # BUILD dependencies would go unchecked.
        import xling_tf
        import xling_tf.export.export_hub

        runfiles = os.path.abspath(os.environ["TEST_SRCDIR"])
        for module in (xling_tf, xling_tf.export.export_hub):
            self.assertTrue(
                os.path.abspath(module.__file__).startswith(runfiles + os.sep),
                f"{module.__name__} imported from {module.__file__}, not from {runfiles}",
            )


if __name__ == "__main__":
    unittest.main()
