"""TF Serving layout: `<base>/<version>/` SavedModels with warmup requests.

TF Serving watches a base folder and serves its highest all-digit sub-folder, so the export
writes `<base>/<version>/` and leaves other versions alone (rolling back is deleting a
folder). Temporary folders of an in-progress export are named `<version>.tmp-*`, which TF
Serving ignores because the name is not a number.

`assets.extra/tf_serving_warmup_requests` is a TFRecord file of `PredictionLog` protos that TF
Serving replays once at load time, so the first real request does not pay for graph
warm-up. There is one request per batch size the server's batching allows (below), each a mix
of short and long sentences in several scripts, because kernels are prepared per shape and
the tokenizer pads to the longest row of a batch: those shapes are what a live server sees.

`<base>/batching_parameters.txt` (beside the version folders, since it configures the server,
not one version) holds TF Serving's `BatchingParameters` in text format, for
`tensorflow_model_server --enable_batching --batching_parameters_file=...`: the server then
merges concurrent requests into batches of up to `max_batch_size` sentences, waiting at most
`batch_timeout_micros` for a batch to fill, and pads each batch up to the next of
`allowed_batch_sizes` (powers of two up to the maximum: at most half of a batch is padding,
and the warmup requests cover every size).

The protos come from `tensorflow-serving-api` (`pip install 'xling_tf[serving]'`), which is
imported only when warmup requests are written or read, so every other export works without it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING

from xling_tf.data.pairs import write_bytes_atomically
from xling_tf.evaluation.embedding import DEFAULT_MODEL_BATCH_SIZE

import tensorflow as tf

if TYPE_CHECKING:
    from tensorflow_serving.apis import prediction_log_pb2

WARMUP_FILE = "tf_serving_warmup_requests"
SIGNATURE = "serving_default"
INPUT_KEY = "inputs"
OUTPUT_KEY = "outputs"

BATCHING_FILE = "batching_parameters.txt"

# Realistic traffic: short and long sentences, several scripts; batches take them in turn.
WARMUP_SENTENCES: tuple[str, ...] = (
    "How do I reset my password?",
    "Où se trouve la gare la plus proche ?",
    "The weather is lovely today.",
    "Il fait très beau aujourd'hui.",
    "Hoy hace muy buen tiempo.",
    "Heute ist das Wetter wunderschön.",
    "今天天气很好。",
    "الطقس جميل اليوم.",
    "Сегодня прекрасная погода.",
    "I would like to book a table for two people tomorrow evening, preferably near the "
    "window, and I have a nut allergy.",
    "hello",
    "bonjour",
    "hola",
    "hallo",
    "你好",
    "مرحبا",
    "привет",
    "こんにちは",
)


@dataclasses.dataclass(frozen=True)
class ServerBatching:
    """TF Serving's server-side batching for this model (its `BatchingParameters` proto).

    Attributes:
      max_batch_size: most sentences in one model call (default: the batch size the
        project embeds with, `DEFAULT_MODEL_BATCH_SIZE`: bigger batches were slower on a CPU).
      batch_timeout_micros: longest wait for a batch to fill (adds at most this latency).
      num_batch_threads: batches run in parallel; TF Serving advises the number of cores of
        the serving machine.
      max_enqueued_batches: queue length in batches; beyond it requests fail fast
        (UNAVAILABLE) instead of waiting seconds.
    """

    max_batch_size: int = DEFAULT_MODEL_BATCH_SIZE
    batch_timeout_micros: int = 2000
    num_batch_threads: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)
    max_enqueued_batches: int = 16

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            minimum = 0 if field.name == "batch_timeout_micros" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{field.name} must be an integer >= {minimum}, got {value!r}")

    @property
    def allowed_batch_sizes(self) -> tuple[int, ...]:
        """1, 2, 4, ... up to max_batch_size (always the last entry, as TF Serving requires)."""
        sizes = [1 << i for i in range(self.max_batch_size.bit_length())]
        if sizes[-1] != self.max_batch_size:
            sizes.append(self.max_batch_size)
        return tuple(sizes)

    def to_text(self) -> str:
        """The `tensorflow.serving.BatchingParameters` text proto for --batching_parameters_file."""
        lines = [
            f"max_batch_size {{ value: {self.max_batch_size} }}",
            f"batch_timeout_micros {{ value: {self.batch_timeout_micros} }}",
            f"max_enqueued_batches {{ value: {self.max_enqueued_batches} }}",
            f"num_batch_threads {{ value: {self.num_batch_threads} }}",
            *(f"allowed_batch_sizes: {size}" for size in self.allowed_batch_sizes),
            # Inputs are one string per sentence: nothing of variable length to pad.
            "pad_variable_length_inputs: false",
        ]
        return "\n".join(lines) + "\n"


def warmup_batches(batch_sizes: Sequence[int]) -> list[tuple[str, ...]]:
    """One batch per size in `batch_sizes`, WARMUP_SENTENCES taken in turn."""
    batches = []
    start = 0
    for size in batch_sizes:
        batches.append(
            tuple(WARMUP_SENTENCES[(start + i) % len(WARMUP_SENTENCES)] for i in range(size))
        )
        start += size
    return batches


WARMUP_BATCHES: tuple[tuple[str, ...], ...] = tuple(
    warmup_batches(ServerBatching(num_batch_threads=1).allowed_batch_sizes)
)
"""The default warmup: one request per allowed batch size of the default ServerBatching."""


def write_batching_parameters(base_dir: str, batching: ServerBatching) -> str:
    """Writes `<base_dir>/batching_parameters.txt` (replacing it atomically); returns its path."""
    return write_bytes_atomically(
        os.path.join(base_dir, BATCHING_FILE), batching.to_text().encode("utf-8")
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
    if tf.io.gfile.isdir(path):
        path = os.path.join(path, "assets.extra", WARMUP_FILE)
    prediction_log_pb2 = serving_apis()[2]
    return [
        prediction_log_pb2.PredictionLog.FromString(record.numpy())
        for record in tf.data.TFRecordDataset(path)
    ]
