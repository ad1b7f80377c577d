"""OpenBLAS's kernels on virtual machines whose CPU model it does not recognise.

NumPy's OpenBLAS picks its matmul kernels from the CPU model number. On a virtual machine
with a model it does not know it falls back to "Prescott" (SSE3): on the 2-core reference VM
a float32 2048^2 matmul ran at 36 GFLOP/s instead of 213 with the AVX-512 kernels, and the
numpy mUSE v3 teacher embedded 213 instead of 606 Bible verses/s (RESULTS.md, section 1).
`OPENBLAS_CORETYPE` overrides the choice, but only before NumPy is first imported, so
`import xling_tf` sets it from the CPU's instruction-set flags, which the VM does report. A
value the user set is never changed.
"""

from __future__ import annotations

import os
import platform
import sys

# OpenBLAS core type -> the /proc/cpuinfo flags its kernels need (best first).
CORE_TYPE_FLAGS: tuple[tuple[str, frozenset[str]], ...] = (
    ("SkylakeX", frozenset({"avx512f", "avx512bw", "avx512vl", "avx512cd", "avx512dq"})),
    ("Haswell", frozenset({"avx2", "fma"})),
)


def core_type_for(flags: set[str]) -> str | None:
    """The best OpenBLAS core type whose instructions are all in `flags`, or None."""
    for core_type, needed in CORE_TYPE_FLAGS:
        if needed <= flags:
            return core_type
    return None


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The instruction-set flags of the first CPU in `cpuinfo` (empty if unreadable)."""
    try:
        with open(cpuinfo, encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def set_openblas_core_type(environ=os.environ) -> str | None:
    """Sets OPENBLAS_CORETYPE from the CPU flags on x86-64 Linux when it is unset and NumPy
    is not imported yet; returns the value set, or None when it left things alone."""
    if "OPENBLAS_CORETYPE" in environ or "numpy" in sys.modules:
        return None
    if sys.platform != "linux" or platform.machine() != "x86_64":
        return None
    core_type = core_type_for(cpu_flags())
    if core_type is not None:
        environ["OPENBLAS_CORETYPE"] = core_type
    return core_type
