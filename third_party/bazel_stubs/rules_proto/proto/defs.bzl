"""Offline stub of @rules_proto//proto:defs.bzl: forwards to Bazel 4.2.3's native proto rules."""

def proto_lang_toolchain(**attrs):
    native.proto_lang_toolchain(**attrs)

def proto_library(**attrs):
    native.proto_library(**attrs)
