"""Helpers every benchmark script shares: result files, the Bible corpus, the host, timing.

The scripts in benchmarks/ are run as `python benchmarks/<name>.py`, so Python puts this
folder first on sys.path and `import bench_common` finds this module.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_DIR = os.path.join(REPO, "benchmarks", "results")
DEFAULT_MODEL = os.path.join("exports", "demo_distill")
# The Bible corpus is rebuilt deterministically (a few seconds per pair) outside the repo.
DEFAULT_DATA_DIR = os.path.join("/tmp", "xling_bench_data")
# Other jobs on a shared machine change every number here; results record the load.
START_LOAD = os.getloadavg()


def command_line() -> str:
    """The command that is running, as a user would type it from the repository root."""
    script = os.path.relpath(os.path.abspath(sys.argv[0]), REPO)
    return " ".join(["python", script, *sys.argv[1:]])


def host_description() -> str:
    """One line: CPU model, logical cores, bfloat16 support, Python and TensorFlow versions."""
    model = platform.processor() or platform.machine()
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = line
                    break
    except OSError:
        pass
    bf16 = "AVX512_BF16" if "avx512_bf16" in flags else "no native bfloat16"
    versions = f"Python {platform.python_version()}"
    if "tensorflow" in sys.modules:
        versions += f", TensorFlow {sys.modules['tensorflow'].__version__}"
    return f"{model}, {os.cpu_count()} logical cores, {bf16}; {versions}"


def write_result(name: str, title: str, body: str, notes: str = "") -> str:
    """Writes benchmarks/results/<name>.md: title, command, host, date, `body`, `notes`.

    Returns the path written.
    """
    os.makedirs(RESULTS_DIR, exist_ok=True)
    path = os.path.join(RESULTS_DIR, f"{name}.md")
    parts = [
        f"# {title}",
        "",
        f"Command: `{command_line()}`",
        "",
        f"Host: {host_description()}. Measured {time.strftime('%Y-%m-%d %H:%M %Z')}; load "
        f"average (1 min) {START_LOAD[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
        f"(the machine is shared: a load above {os.cpu_count()} means other jobs took CPU).",
        "",
        body.rstrip(),
    ]
    if notes:
        parts += ["", notes.rstrip()]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts) + "\n")
    return path


def bible_pair_dir(data_dir: str, source_lang: str, target_lang: str) -> str:
    """`data_dir/<src>-<tgt>/` with train/dev/test.tsv and their refs, built if missing.

    Uses `xling_tf.data.bible.build_translation_corpus` (deterministic; NT and the development
    chapters held out), so every script and every model sees exactly the same pairs. It reuses
    a complete corpus built with the same arguments and rebuilds an older or partial one.
    """
    from xling_tf.data import bible

    summary = bible.build_translation_corpus(data_dir, source_lang, target_lang)
    return os.path.dirname(summary.train_path)


def read_tsv_pairs(path: str, limit: int | None = None) -> tuple[list[str], list[str]]:
    """First `limit` (all if None) rows of a `source<TAB>target` file as two aligned lists."""
    sources: list[str] = []
    targets: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line_number, line in enumerate(f, 1):
            if limit is not None and len(sources) >= limit:
                break
            columns = line.rstrip("\n").split("\t")
            if len(columns) < 2:
                raise ValueError(f"{path}:{line_number}: expected source<TAB>target")
            sources.append(columns[0])
            targets.append(columns[1])
    return sources, targets


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Smallest wall time in seconds of `repeats` calls of `fn` (the least-disturbed run)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def format_value(value: Any, spec: str = ".3f") -> str:
    """A table cell: `value` formatted with `spec` if a float, as is otherwise; "" for None."""
    if value is None:
        return ""
    return format(value, spec) if isinstance(value, float) else str(value)
