#!/usr/bin/env bash
# Placeholder for Bazel's coverage tools, see third_party/bazel_stubs/README.md.
echo "bazel coverage is not supported offline (remote_coverage_tools is a local stub)." >&2
exit 1
