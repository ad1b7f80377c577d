"""Fresh Python processes for the suite without paying TensorFlow's import each time.

Starting the project's Python costs about 6 s of CPU here, nearly all of it `import
tensorflow` and the libraries built on it, and the suite starts some seventy such processes
(a tiny training run or an exported model loaded the way users load it). `ForkServer` keeps
one process that has imported TensorFlow, NumPy and the libraries of PRELOADED and done
nothing else: no op has run, so TensorFlow's runtime, devices and thread pools do not exist
yet. For each run it forks; the child takes the request's argv, environment, working
directory and output files and then runs `-m module` or `-c code` as `python` would. To the
code under test the child is a new process whose first lines imported those libraries: our
package and tensorflow_text (tests check that core-ops exports load without it) are imported
by the child itself, and nothing of the test process is shared.

What a fork cannot change is what TensorFlow reads while it is imported, chiefly
TF_CPP_MIN_LOG_LEVEL (the C++ log level is fixed by the first log line, which the import
writes): the suite keeps one server per value of IMPORT_TIME_ENV, and starts a real process
for a run that must see another start-up (Keras 3: TF_USE_LEGACY_KERAS=0).

Protocol (newline-delimited JSON on the server's stdin / stdout): a request {"argv", "env",
"cwd", "stdout", "stderr"} (stderr None: into stdout) is answered at once with {"pid"}; when
any child ends the server sends {"pid", "status"} (a `subprocess`-style return code: negative
for a signal). Children run concurrently (the multi-worker tests start two at once).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time

# Read by TensorFlow (or the interpreter) at import: a server serves one value of each.
IMPORT_TIME_ENV = ("TF_CPP_MIN_LOG_LEVEL", "TF_CPP_MAX_VLOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")

# What nearly every child imports after TensorFlow (about 0.8 s of CPU each): Keras 2 (the
# server runs with the suite's TF_USE_LEGACY_KERAS=1; a run that sets it gets a real
# process), TF Hub and Model Garden's core.
PRELOADED = (
    "tf_keras",
    "tensorflow_hub",
    "official.core.base_task",
    "official.core.base_trainer",
    "official.modeling.multitask.interleaving_trainer",
)


def _run_child(request: dict) -> None:
    """In the forked child: become the requested process, run it and exit (never returns)."""
    os.setsid()  # its own process group, so a timeout kills whatever it starts too
    write = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for target, path, mode in (
        (0, os.devnull, os.O_RDONLY),
        (1, request["stdout"], write),
        (2, request["stderr"], write),
    ):
        if path is None:  # stderr into stdout
            os.dup2(1, target)
            continue
        fd = os.open(path, mode)
        os.dup2(fd, target)
        os.close(fd)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None  # re-read TMPDIR (the import may have cached the server's)
    argv = request["argv"]
    # sys.path as `python -c` / `python -m` would build it: cwd first, then PYTHONPATH.
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = ["" if argv[0] == "-c" else os.getcwd(), *extra] + [
        p for p in sys.path[1:] if p not in extra
    ]
    import runpy
    import types

    code = 0
    try:
        if argv[0] == "-c":
            sys.argv = ["-c", *argv[2:]]
            main = types.ModuleType("__main__")
            sys.modules["__main__"] = main
            exec(compile(argv[1], "<string>", "exec"), main.__dict__)
        elif argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = list(argv)
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if not isinstance(exit_.code, int | None):
            print(exit_.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001  (as the interpreter would: traceback, exit 1)
        import traceback

        traceback.print_exc()
        code = 1
    # The interpreter's own shutdown (atexit handlers, flushing), as at the end of a script.
    sys.exit(code)


def serve() -> None:
    """The server loop (`python forkserver.py`): imports TensorFlow once, then forks."""
    import importlib

    import numpy  # noqa: F401
    import tensorflow  # noqa: F401

    if os.environ.get("TF_USE_LEGACY_KERAS") == "1":  # else a child may want Keras 3
        for name in PRELOADED:
            importlib.import_module(name)

    channel_in = sys.stdin.fileno()
    channel_out = os.fdopen(os.dup(1), "w")

    def send(message: dict) -> None:
        print(json.dumps(message), file=channel_out, flush=True)

    send({"ready": os.getpid()})
    pending, children = b"", 0
    while True:
        ready, _, _ = select.select([channel_in], [], [], 0.05 if children else None)
        if ready:
            chunk = os.read(channel_in, 1 << 16)
            if not chunk:
                break  # the client has gone: leave the children to finish on their own
            pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                channel_out.close()
                _run_child(json.loads(line))
            children += 1
            send({"pid": pid})
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            children -= 1
            send({"pid": pid, "status": os.waitstatus_to_exitcode(status)})


class ForkedProcess:
    """A child of a fork server, with the `subprocess.Popen` methods the suite uses."""

    def __init__(self, server: ForkServer, pid: int, args: list[str]):
        self._server, self.pid, self.args = server, pid, args
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._server.status(self.pid, timeout=0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self._server.status(self.pid, timeout)
            if self.returncode is None:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Kills the child and everything it started (its process group)."""
        if self.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:  # forked, but not yet the leader of its group
                os.kill(self.pid, signal.SIGKILL)


class ForkServer:
    """A client of one server process: `start` is `subprocess.Popen`, `run` is
    `subprocess.run`, for `python ARGS`."""

    def __init__(self, env: dict[str, str], cwd: str):
        self._process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__)],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._lock = threading.RLock()
        self._pending = b""
        self._statuses: dict[int, int] = {}
        self._children: list[ForkedProcess] = []
        self.import_env = {k: env.get(k) for k in IMPORT_TIME_ENV}
        if self._read(timeout=600) is None:
            raise RuntimeError("the fork server did not start in 600 s")

    def _read(self, timeout: float | None) -> dict | None:
        """The server's next message, or None if none came within `timeout` seconds."""
        assert self._process.stdout is not None
        fd = self._process.stdout.fileno()
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._pending:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise RuntimeError(f"fork server {self._process.pid} died")
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return json.loads(line)

    def _next(self, timeout: float | None) -> dict | None:
        """The next message that is not a child's exit (those are kept in `_statuses`)."""
        while (message := self._read(timeout)) is not None and "status" in message:
            self._statuses[message["pid"]] = message["status"]
        return message

    def status(self, pid: int, timeout: float | None) -> int | None:
        """Child `pid`'s return code once it has ended within `timeout` s, else None."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while pid not in self._statuses:
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                message = self._read(wait)
                if message is None:
                    return None
                self._statuses[message["pid"]] = message["status"]
            return self._statuses.pop(pid)

    def start(
        self, args: list[str], env: dict[str, str], cwd: str, stdout: str, stderr: str | None
    ) -> ForkedProcess:
        """Runs `python ARGS` in a child writing to the files `stdout` and `stderr` (None:
        into stdout)."""
        assert {k: env.get(k) for k in IMPORT_TIME_ENV} == self.import_env
        assert self._process.stdin is not None
        request = {"argv": args, "env": env, "cwd": cwd, "stdout": stdout, "stderr": stderr}
        for path in filter(None, (stdout, stderr)):
            open(path, "w").close()  # there on return, as with Popen
        with self._lock:
            self._process.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            self._process.stdin.flush()
            reply = self._next(timeout=60)
        if reply is None:
            raise RuntimeError("the fork server did not answer in 60 s")
        process = ForkedProcess(self, reply["pid"], [sys.executable, *args])
        self._children.append(process)
        return process

    def run(
        self, args: list[str], env: dict[str, str], cwd: str, timeout: float
    ) -> subprocess.CompletedProcess:
        with tempfile.TemporaryDirectory(prefix="forkserver") as folder:
            out, err = os.path.join(folder, "stdout"), os.path.join(folder, "stderr")
            process = self.start(args, env, cwd, out, err)
            try:
                process.wait(timeout)
            finally:
                process.kill()
                process.wait(60)
            with open(out, encoding="utf-8", errors="replace") as f:
                stdout = f.read()
            with open(err, encoding="utf-8", errors="replace") as f:
                stderr = f.read()
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    def close(self) -> None:
        """Kills the children still running (a failed test's background training, say),
        then stops the server."""
        for child in self._children:
            try:
                child.kill()
            except (RuntimeError, ProcessLookupError):
                pass  # the server or the child is gone already
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            self._process.wait(timeout=60)


if __name__ == "__main__":
    serve()
