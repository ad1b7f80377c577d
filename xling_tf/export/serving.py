"""TF Serving layout: `<base>/<version>/` SavedModels with warmup requests.

TF Serving watches a base folder and serves its highest all-digit sub-folder, so the export
writes `<base>/<version>/` and leaves other versions alone (rolling back is deleting a
folder). Temporary folders of an in-progress export are named `<version>.tmp-*`, which TF
Serving ignores because the name is not a number.

`assets.extra/tf_serving_warmup_requests` is a TFRecord file of `PredictionLog` protos that TF
Serving replays once at load time, so the first real request does not pay for graph
warm-up. Requests use batch sizes 1 and 8 because the tokenizer pads to the longest row of a
batch: different batch shapes are what a live server sees.

The protos come from `tensorflow-serving-api` (`pip install 'xling_tf[serving]'`), which is
imported only when warmup requests are written or read, so every other export works without it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING

import tensorflow as tf

if TYPE_CHECKING:
    from tensorflow_serving.apis import prediction_log_pb2

WARMUP_FILE = "tf_serving_warmup_requests"
SIGNATURE = "serving_default"
INPUT_KEY = "inputs"
OUTPUT_KEY = "outputs"

# Realistic traffic: short and long sentences, several scripts, batch sizes 1 and 8.
WARMUP_BATCHES: tuple[tuple[str, ...], ...] = (
    ("How do I reset my password?",),
    ("Où se trouve la gare la plus proche ?",),
    (
        "The weather is lovely today.",
        "Il fait très beau aujourd'hui.",
        "Hoy hace muy buen tiempo.",
        "Heute ist das Wetter wunderschön.",
        "今天天气很好。",
        "الطقس جميل اليوم.",
        "Сегодня прекрасная погода.",
        "I would like to book a table for two people tomorrow evening, preferably near the "
        "window, and I have a nut allergy.",
    ),
    ("hello", "bonjour", "hola", "hallo", "你好", "مرحبا", "привет", "こんにちは"),
)


def serving_apis() -> tuple[ModuleType, ModuleType, ModuleType]:
    """`tensorflow_serving.apis` (model_pb2, predict_pb2, prediction_log_pb2), imported now.

    Raises:
      ImportError: tensorflow-serving-api is not installed (the `[serving]` extra).
    """
    try:
        from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
    except ImportError as error:
        raise ImportError(
            "TF Serving warmup requests need tensorflow-serving-api: "
            "pip install 'xling_tf[serving]'"
        ) from error
    return model_pb2, predict_pb2, prediction_log_pb2


def version_dir(base_dir: str, version: int) -> str:
    """`<base_dir>/<version>`, validating that TF Serving will recognise the version."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(f"TF Serving versions are non-negative integers, got {version!r}")
    return os.path.join(base_dir, str(version))


def warmup_records(
    batches: Sequence[Sequence[str]] = WARMUP_BATCHES, model_name: str = ""
) -> list[prediction_log_pb2.PredictionLog]:
    """One PredictLog per batch, addressed to the `serving_default` signature.

    Args:
      batches: each a list of sentences, sent as one tf.string [len(batch)] tensor `inputs`.
      model_name: TF Serving ignores the name during warmup (the server's model is implied),
        so it is empty by default; set it to mirror client requests exactly.
    """
    model_pb2, predict_pb2, prediction_log_pb2 = serving_apis()
    records = []
    for batch in batches:
        request = predict_pb2.PredictRequest(
            model_spec=model_pb2.ModelSpec(name=model_name, signature_name=SIGNATURE)
        )
        request.inputs[INPUT_KEY].CopyFrom(
            tf.make_tensor_proto(
                [text.encode("utf-8") for text in batch], dtype=tf.string, shape=[len(batch)]
            )
        )
        records.append(
            prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
        )
    return records


def write_warmup_requests(
    saved_model_dir: str, batches: Sequence[Sequence[str]] = WARMUP_BATCHES
) -> str:
    """Writes `<saved_model_dir>/assets.extra/tf_serving_warmup_requests`; returns its path."""
    folder = os.path.join(saved_model_dir, "assets.extra")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for record in warmup_records(batches):
            writer.write(record.SerializeToString())
    return path


def read_warmup_requests(path: str) -> list[prediction_log_pb2.PredictionLog]:
    """Decodes a warmup file (or a SavedModel folder holding one) back into PredictionLogs."""
    if os.path.isdir(path):
        path = os.path.join(path, "assets.extra", WARMUP_FILE)
    prediction_log_pb2 = serving_apis()[2]
    return [
        prediction_log_pb2.PredictionLog.FromString(record.numpy())
        for record in tf.data.TFRecordDataset(path)
    ]
