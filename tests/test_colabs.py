"""Runs every colabs/ notebook top to bottom (tiny configuration) with this venv's kernel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

COLABS = os.path.join(REPO, "colabs")
KERNEL_NAME = "xling-tf-test"


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """A kernelspec that launches exactly this interpreter, found through JUPYTER_PATH.

    A stock "python3" spec could resolve to another Python on the machine (a user-level
    kernelspec, a system Jupyter); installing our own into a temporary prefix rules that out.
    """
    prefix = tmp_path_factory.mktemp("jupyter")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ipykernel",
            "install",
            "--prefix",
            str(prefix),
            "--name",
            KERNEL_NAME,
        ],
        check=True,
        capture_output=True,
    )
    env = {
        "JUPYTER_PATH": str(prefix / "share" / "jupyter"),
        "XLING_TF_TEST": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "MPLBACKEND": "Agg",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        yield env


def run_notebook(name: str, workdir: str) -> list[str]:
    """Executes colabs/<name> in `workdir`; returns every cell's text output, in order."""
    notebook = nbformat.read(os.path.join(COLABS, name), as_version=4)
    client = nbclient.NotebookClient(
        notebook, kernel_name=KERNEL_NAME, timeout=300, resources={"metadata": {"path": workdir}}
    )  # the kernel's working directory
    client.execute()
    outputs = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                outputs.append(output["text"])
            elif "data" in output and "text/plain" in output["data"]:
                outputs.append(output["data"]["text/plain"])
    return outputs


def check_venv_kernel(text: str) -> None:
    # The setup cell prints "python: <sys.executable> | prefix: <sys.prefix>".
    assert f"| prefix: {sys.prefix}\n" in text, text[:500]


def test_notebooks_have_parameters_cell_and_no_absolute_paths():
    names = sorted(n for n in os.listdir(COLABS) if n.endswith(".ipynb"))
    assert names == ["fine_tune.ipynb", "train_your_own.ipynb", "use_exported_model.ipynb"]
    for name in names:
        notebook = nbformat.read(os.path.join(COLABS, name), as_version=4)
        nbformat.validate(notebook)
        tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, name
        code = [c.source for c in notebook.cells if c.cell_type == "code"]
        assert "google.colab" in code[0], name  # the Colab install cell comes first
        assert code[1] == tagged[0].source, name  # then the parameters
        assert all("/work/" not in src and "/tmp/" not in src for src in code), name
        assert not any(c.get("outputs") for c in notebook.cells if c.cell_type == "code"), name


def test_train_your_own(kernel_env, tmp_path):
    text = "".join(run_notebook("train_your_own.ipynb", str(tmp_path)))
    check_venv_kernel(text)
    assert "600 training pairs" in text
    assert "P@1 full pool: " in text
    p_at_1 = float(text.split("P@1 full pool: ")[1].split()[0])
    assert 0.0 <= p_at_1 <= 1.0
    assert os.path.isfile(tmp_path / "my_encoder" / "export" / "tiny" / "saved_model.pb")


def test_use_exported_model_and_fine_tune(kernel_env, tmp_path, exported_model):
    # The notebooks' default MODEL_PATH, relative to the working directory.
    shutil.copytree(exported_model, tmp_path / "exports" / "demo_distill")

    text = "".join(run_notebook("use_exported_model.ipynb", str(tmp_path)))
    check_venv_kernel(text)
    png = tmp_path / "similarity_heatmap.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "en -> en 1.00" in text  # every sentence is its own nearest neighbour
    assert "mean cosine en-x: translations" in text

    text = "".join(run_notebook("fine_tune.ipynb", str(tmp_path)))
    check_venv_kernel(text)
    assert "frozen encoder:" in text
    assert "fr (zero-shot)" in text and "-> fine-tuned" in text
    assert "translation margin" in text
