"""`pytest_test`: a py_test that runs one pytest file through //tools/bazel:pytest_main.py."""

def pytest_test(name, src = None, deps = [], data = [], args = [], tags = [], **kwargs):
    """Declares a py_test that runs `src` (default: `<name>.py`) under pytest.

    Args:
      name: target name, by convention the test file name without `.py`.
      src: the test file; defaults to `name + ".py"`.
      deps: py_library dependencies (the code under test, conftest helpers).
      data: files the test reads at run time (they appear in the runfiles tree).
      args: extra pytest arguments (e.g. ["-m", "not slow"]).
      tags: Bazel tags (e.g. "manual" to keep a target out of `bazel test //...`).
      **kwargs: passed to py_test (size, timeout, shard_count, ...).
    """
    src = src or (name + ".py")
    native.py_test(
        name = name,
        srcs = [src, "//tools/bazel:pytest_main.py"],
        main = "//tools/bazel:pytest_main.py",
        args = args + ["$(rootpath %s)" % src],
        deps = deps,
        data = data + ["//:pyproject.toml"],
        python_version = "PY3",
        srcs_version = "PY3",
        tags = tags,
        **kwargs
    )
