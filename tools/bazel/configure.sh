#!/usr/bin/env bash
# Pre-flight for `bazel test //...` (run by `make bazel-test`; safe to run any number of times).
#
#  1. Installs Bazel 4.2.3 from Debian (`bazel-bootstrap`) if no `bazel` is on PATH.
#  2. Checks that the project's venv (made by `make setup`) has what the tests import.
#  3. Re-generates the @xling_venv_python toolchain repository (tools/bazel/venv_python.bzl),
#     which records the venv interpreter's ABSOLUTE path, and prints that path.
#
# Env: XLING_VENV_PYTHON=/abs/python to use another interpreter (also pass it to bazel with
# --repo_env=XLING_VENV_PYTHON=..., or put that line in .bazelrc.user).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"
python="${XLING_VENV_PYTHON:-$root/.venv/bin/python}"

if ! command -v bazel >/dev/null 2>&1; then
  echo "configure: bazel not found; installing Debian's bazel-bootstrap (Bazel 4.2.3)" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "configure: need root (or sudo) to apt-get install bazel-bootstrap" >&2; exit 1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq bazel-bootstrap >/dev/null
fi
# Debian's build reports "bazel no_version"; that is expected.
echo "configure: $(bazel --version 2>/dev/null) at $(command -v bazel)"

if [ ! -x "$python" ]; then
  echo "configure: $python not found; run \`make setup\` first" >&2
  exit 1
fi
# find_spec, not import: importing TensorFlow alone takes ~10 s.
if ! "$python" -c "import importlib.util as u, sys
sys.exit(any(u.find_spec(m) is None for m in
             ('pytest', 'tensorflow', 'tensorflow_text', 'sentencepiece', 'official')))"; then
  echo "configure: $python lacks the test requirements; run \`make setup\`" >&2
  exit 1
fi

# Fetching the repository runs the checks in venv_python.bzl and writes its BUILD file.
repo_env=()
if [ -n "${XLING_VENV_PYTHON:-}" ]; then repo_env=("--repo_env=XLING_VENV_PYTHON=$python"); fi
bazel sync --only=xling_venv_python "${repo_env[@]}" >/dev/null 2>&1 ||
  bazel sync --only=xling_venv_python "${repo_env[@]}"
generated="$(bazel info output_base 2>/dev/null)/external/xling_venv_python/interpreter_path.txt"
echo "configure: Bazel's Python toolchain: $(cat "$generated")"
