"""Inputs and expectations shared by the tests of exported models (tests/test_export_*.py).

The fixtures that produce results from these live in export_fixtures.py (a pytest plugin);
the export they read is conftest.export_dir.
"""

from __future__ import annotations

import json
import os

import numpy as np
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    text_format,
    wrappers_pb2,
)

# The tiny experiment's tokenizer limits (TokenizerConfig defaults except max_seq_length);
# test_export_text_api checks that the exported metadata agrees.
MAX_INPUT_CHARS = 2048
SEQ_LENGTH = 16
OUTPUT_DIM = 24
HIDDEN_SIZE = 32
SERVING_VERSION = 2  # exported next to a pre-existing version 1, which must survive

_LONG = ("le grand chat dort 😀 مرحبا بالعالم 你好世界 the red bird sings ") * 250
_CAT = "the big cat"

# name -> text (str, or bytes for invalid UTF-8). Order matters only for reading results.
BAD_INPUTS: dict[str, str | bytes] = {
    "empty": "",
    "whitespace": " \t\n   ",
    "long_10k": _LONG[:10_000],
    "long_10k_cut": _LONG[:MAX_INPUT_CHARS],
    # Everything after the cut is dropped, so this must embed like the empty string.
    "spaces_then_text": " " * (10_000 - len(_CAT)) + _CAT,
    "text": _CAT,
    "emoji": "😀🎉👍🏽",
    "rtl": "مرحبا بالعالم שלום עולם",
    "mixed_scripts": "the cat 猫 кошка قطة 😀 chat",
    "nul_bytes": "le\x00chat\x00",
    "invalid_utf8": b"\xffle chat \xfe",
    # What the tokenizer turns invalid_utf8 into (one U+FFFD per bad byte).
    "invalid_utf8_replaced": "\ufffdle chat \ufffd",
}

# Realistic text for comparing consumers with each other.
TEXTS = [
    "the big cat",
    "le grand chat",
    "the red bird sings",
    "oiseau rouge chante",
    "",
    "😀 مرحبا 你好 mixed",
]


def read_metadata(saved_model_dir: str) -> dict:
    with open(os.path.join(saved_model_dir, "assets.extra", "xling_tf.json")) as f:
        return json.load(f)


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows L2-normalised (what the end-to-end model does to pooled_output)."""
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def batching_parameters_class():
    """tensorflow.serving.BatchingParameters, fields 1-7 of TF Serving's
    tensorflow_serving/servables/tensorflow/session_bundle_config.proto, rebuilt from its
    field list (the tensorflow-serving-api wheel does not ship that message)."""
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="xling_test/session_bundle_config.proto",
        package="tensorflow.serving",
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )
    message = file_proto.message_type.add(name="BatchingParameters")
    field = descriptor_pb2.FieldDescriptorProto
    for number, name, wrapper in [
        (1, "max_batch_size", "Int64Value"),
        (2, "batch_timeout_micros", "Int64Value"),
        (3, "max_enqueued_batches", "Int64Value"),
        (4, "num_batch_threads", "Int64Value"),
        (5, "thread_pool_name", "StringValue"),
    ]:
        message.field.add(
            name=name,
            number=number,
            type=field.TYPE_MESSAGE,
            type_name=f".google.protobuf.{wrapper}",
            label=field.LABEL_OPTIONAL,
        )
    message.field.add(
        name="allowed_batch_sizes", number=6, type=field.TYPE_INT64, label=field.LABEL_REPEATED
    )
    message.field.add(
        name="pad_variable_length_inputs",
        number=7,
        type=field.TYPE_BOOL,
        label=field.LABEL_OPTIONAL,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(file_proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters")
    )


def parse_batching_parameters(text: str):
    """A `batching_parameters.txt` parsed as TF Serving parses it (raises on any bad field)."""
    message = batching_parameters_class()()
    text_format.Parse(text, message)
    return message
