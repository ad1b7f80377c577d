"""OPENBLAS_CORETYPE from the CPU flags (xling_tf/blas.py)."""

from __future__ import annotations

import sys

from xling_tf import blas

SKYLAKE_X_FLAGS = {"sse3", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512cd", "avx512dq"}


def test_core_type_is_the_best_one_the_flags_allow():
    assert blas.core_type_for(SKYLAKE_X_FLAGS) == "SkylakeX"
    assert blas.core_type_for(SKYLAKE_X_FLAGS - {"avx512bw"}) == "Haswell"
    assert blas.core_type_for({"sse3", "avx", "avx2"}) is None  # AVX2 kernels need FMA too
    assert blas.core_type_for(set()) is None


def test_cpu_flags_reads_the_first_flags_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse3 avx2 fma\nflags\t: other\n")
    assert blas.cpu_flags(str(cpuinfo)) == {"fpu", "sse3", "avx2", "fma"}
    assert blas.cpu_flags(str(tmp_path / "missing")) == set()


def test_a_user_setting_or_an_imported_numpy_is_left_alone(monkeypatch):
    monkeypatch.setattr(blas, "cpu_flags", lambda: SKYLAKE_X_FLAGS)
    monkeypatch.setattr(blas.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(blas.sys, "platform", "linux")
    # Once NumPy is imported, OpenBLAS has chosen: nothing to set.
    monkeypatch.setitem(sys.modules, "numpy", sys.modules.get("numpy", object()))
    environ: dict[str, str] = {}
    assert blas.set_openblas_core_type(environ) is None and environ == {}
    monkeypatch.delitem(sys.modules, "numpy")
    environ = {"OPENBLAS_CORETYPE": "Haswell"}
    assert blas.set_openblas_core_type(environ) is None
    assert environ == {"OPENBLAS_CORETYPE": "Haswell"}
    environ = {}
    assert blas.set_openblas_core_type(environ) == "SkylakeX"
    assert environ == {"OPENBLAS_CORETYPE": "SkylakeX"}
