r"""Exports a trained encoder as TF2 SavedModels for every consumer (TF Hub conventions).

One model (unchanged since the first release):

  python -m xling_tf.export.export_hub --model_dir runs/demo --export_path exports/demo

Every artifact from one restore of the checkpoint:

  python -m xling_tf.export.export_hub --model_dir runs/demo --export_dir exports/demo \
      --text_api --serving [--serving_version 1] [--serving_dtype bfloat16]

  exports/demo/text_encoder/   end-to-end text -> vector (always written with --export_dir)
  exports/demo/preprocessor/   --text_api: strings -> BERT-style int32 inputs (text_api.py)
  exports/demo/encoder/        --text_api: inputs dict -> pooled/sequence outputs
  exports/demo/serving/1/      --serving: text_encoder + TF Serving warmup requests
                               (serving.py); other versions in serving/ are kept
  exports/demo/serving/batching_parameters.txt
                               --serving: for TF Serving's --enable_batching

The end-to-end model maps a 1-D string tensor to L2-normalised float32 [batch, output_dim]
embeddings (--nonormalize: raw pooled vectors), with tokenization in the graph (a SentencePiece
.model file is under assets/). It is a Keras SavedModel, so it has `variables`,
`trainable_variables` and `__call__(inputs, training)`: `hub.KerasLayer(path, trainable=True)`
fine-tunes it, and `keras.layers.TFSMLayer(path, call_endpoint="serving_default")` loads it in
Keras 3. The `serving_default` signature takes `inputs` (tf.string [batch]; any other rank is
an InvalidArgumentError) and returns {"outputs": float32 [batch, output_dim]}. Files are 0644
and folders 0755 (under umask 022), so a server running as another user can read them; the
supported loaders are listed in docs/reliability.md.

Every folder gets `assets.extra/xling_tf.json` (what it is, output_dim, the checkpoint, the
serving dtype, and the custom ops its graph needs, e.g. tensorflow_text's for SentencePiece).

`--serving_dtype` (float32 by default) is what every exported graph computes in, independent
of the precision the model trained in: bfloat16 / float16 build the layers under Keras mixed
precision (float32 weights; inputs and outputs unchanged).

Each model is written to a temporary folder next to its destination and moved into place only
once complete, so an interrupted export never replaces a good model with a broken one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import xling_tf  # noqa: F401  (selects tf_keras before TensorFlow loads Keras)
from xling_tf.data.pairs import is_local
from xling_tf.export import serving as serving_lib
from xling_tf.export import text_api as text_api_lib
from xling_tf.faults import UnreadableCheckpointError, checkpoint_problem
from xling_tf.modeling.dual_encoder import DualEncoder
from xling_tf.modeling.factory import build_sentence_encoder, build_tokenizer
from xling_tf.modeling.normalization import l2_normalization
from xling_tf.precision import SERVING_POLICIES, float32_outputs, global_policy
from xling_tf.tasks.translation_ranking import TranslationExperimentTaskConfig
from xling_tf.tokenization.vocabulary import VOCAB_FILENAME, VOCAB_SUBDIR

import tensorflow as tf
import tf_keras
from absl import app, flags, logging
from official.core import config_definitions as cfg
from official.modeling import hyperparams

METADATA_FILE = "xling_tf.json"


def load_experiment_params(model_dir: str) -> cfg.ExperimentConfig:
    """The shared model config of a training run, read from its `<model_dir>/params.yaml`.

    Only `task.model` (tokenizer + encoder) matters to an export, and every experiment,
    single- or multi-task, has it, so the run comes back as a translation-ranking config
    holding that model config. The vocabulary path is fixed up if the run has moved.
    """
    yaml_path = os.path.join(model_dir, "params.yaml")
    if not tf.io.gfile.exists(yaml_path):
        raise FileNotFoundError(f"{yaml_path} not found: is {model_dir!r} a training model_dir?")
    model_config = hyperparams.read_yaml_to_params_dict(yaml_path).as_dict()["task"]["model"]
    params = cfg.ExperimentConfig(task=TranslationExperimentTaskConfig())
    params.override({"task": {"model": model_config}}, is_strict=False)
    from xling_tf.tokenization.vocabulary import WORD_VOCAB_FILENAME

    field, filename = (
        ("word_vocab_file", WORD_VOCAB_FILENAME)
        if params.task.model.tokenizer.type == "hashed_ngrams"
        else ("sentencepiece_model_file", VOCAB_FILENAME)
    )
    vocab = getattr(params.task.model.tokenizer, field)
    if not vocab or not tf.io.gfile.exists(vocab):
        # The run may have moved since training: the vocabulary travels inside model_dir.
        params.override(
            {
                "task": {
                    "model": {"tokenizer": {field: os.path.join(model_dir, VOCAB_SUBDIR, filename)}}
                }
            }
        )
    return params


def restore_trained_model(
    params: cfg.ExperimentConfig, model_dir: str, checkpoint_path: str | None = None
):
    """Builds a dual encoder and restores the shared encoder from the newest checkpoint.

    Every xling model (single task, or the multi-task model) checkpoints its shared encoder
    under the name "encoder", so any run exports the same way.
    """
    checkpoint_path = checkpoint_path or tf.train.latest_checkpoint(model_dir)
    if not checkpoint_path:
        raise FileNotFoundError(f"no checkpoint in {model_dir}: train first")
    model_config = params.task.model
    model = DualEncoder(
        build_sentence_encoder(model_config), normalize=model_config.normalize, name="dual_encoder"
    )
    tokenizer = build_tokenizer(params.task.model.tokenizer)
    # Build the variables before restoring so a mismatch is an error, not a silent no-op.
    model.embed(tokenizer(tf.constant(["warm up"])))
    problem = checkpoint_problem(checkpoint_path)
    if problem:
        # Reading it anyway fails with e.g. "IndexError: Read less bytes than requested".
        raise UnreadableCheckpointError(
            f"checkpoint {checkpoint_path} cannot be read ({problem}); export an older one "
            "with --checkpoint_path (a new training run falls back to the newest that reads)"
        )
    status = tf.train.Checkpoint(encoder=model.encoder).read(checkpoint_path)
    status.expect_partial().assert_existing_objects_matched()
    logging.info("restored %s", checkpoint_path)
    return model, checkpoint_path


def build_text_encoder(tokenizer, encoder, normalize: bool = True) -> tf_keras.Model:
    """strings [batch] -> float32 [batch, output_dim]: tokenizer, encoder, L2 normalisation.

    The encoder computes in its own dtype policy (the serving dtype); the output is float32.
    """
    text = tf_keras.layers.Input(shape=(), dtype=tf.string, name="inputs")
    pooled = encoder(tokenizer(text_api_lib.batch_of_strings(text)))["pooled_output"]
    if normalize:
        outputs = l2_normalization()(pooled)  # casts to float32 first
    else:
        outputs = float32_outputs(pooled, "float32_outputs")
    return tf_keras.Model(text, outputs, name="text_encoder")


def give_usual_permissions(folder: str) -> None:
    """Gives `folder` and everything in it the permissions of new files and folders (0644 and
    0755 under the usual umask 022).

    mkdtemp makes the folder private (0700), and a file copied in keeps its mode: a
    vocabulary made with tempfile.mkstemp, or a user's private one, would be 0600 in
    assets/. A model server running as another user (TF Serving in a container) must read
    them all.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    for root, folders, files in os.walk(folder):
        for name in folders:
            os.chmod(os.path.join(root, name), 0o777 & ~umask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~umask)


def save_atomically(save_fn: Callable[[str], None], export_path: str) -> str:
    """Runs `save_fn(tmp_dir)` on a local folder, then swaps it into `export_path`.

    `export_path` may be on any `tf.io.gfile` filesystem (`gs://...`). A crash before the swap
    leaves the previous export untouched (and a `.tmp-*` folder to delete). On a local
    filesystem the swap is two renames of one folder each; elsewhere (object stores have no
    folder rename) the model is first uploaded whole to `.<name>.tmp-*` beside it, and the
    swap moves the old files to `.<name>.old-*`, then the new ones in, one by one. That swap
    is not atomic: a crash inside it can leave `export_path` incomplete, but nothing is
    deleted before the new model is complete in place, so both versions stay recoverable.
    """
    if not is_local(export_path):
        return _save_remotely(save_fn, export_path)
    export_path = os.path.abspath(export_path.removeprefix("file://"))
    parent = os.path.dirname(export_path)
    os.makedirs(parent, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=os.path.basename(export_path) + ".tmp-", dir=parent)
    try:
        save_fn(tmp_dir)
        give_usual_permissions(tmp_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    old_dir = None
    if os.path.exists(export_path):
        old_dir = export_path + f".old-{os.getpid()}"
        os.replace(export_path, old_dir)
    os.replace(tmp_dir, export_path)
    if old_dir:
        shutil.rmtree(old_dir, ignore_errors=True)
    return export_path


def _save_remotely(save_fn: Callable[[str], None], export_path: str) -> str:
    """save_atomically for a path on a filesystem without folder renames (`gs://`, `ram://`)."""
    export_path = export_path.rstrip("/")
    parent, name = os.path.split(export_path)
    # Hidden names that do not start with `name`: prefix listings (ram://, some object
    # stores) would count `<name>.tmp-*` as part of `<name>`.
    tmp_path = f"{parent}/.{name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with tempfile.TemporaryDirectory() as staging:
            save_fn(staging)
            copy_tree(staging, tmp_path)
    except BaseException:
        if tf.io.gfile.exists(tmp_path):
            tf.io.gfile.rmtree(tmp_path)
        raise
    old_path = None
    if tf.io.gfile.exists(export_path):
        old_path = f"{parent}/.{name}.old-{os.getpid()}"
        _move_tree(export_path, old_path)
    _move_tree(tmp_path, export_path)
    if old_path:
        tf.io.gfile.rmtree(old_path)
    return export_path


def _tree_files(folder: str) -> list[str]:
    """Every file under `folder` (any filesystem), as paths relative to it."""
    return [
        os.path.relpath(os.path.join(parent, name), folder)
        for parent, _, names in tf.io.gfile.walk(folder)
        for name in names
    ]


def _transfer_tree(source: str, destination: str, transfer: Callable[[str, str], None]) -> None:
    """`transfer(source file, destination file)` for every file under `source`, creating the
    folders it needs under `destination`."""
    tf.io.gfile.makedirs(destination)
    for relative in _tree_files(source):
        target = os.path.join(destination, relative)
        tf.io.gfile.makedirs(os.path.dirname(target))
        transfer(os.path.join(source, relative), target)


def copy_tree(source: str, destination: str) -> None:
    """Copies the folder `source` to `destination` (created; existing files are overwritten),
    each on any `tf.io.gfile` filesystem."""
    _transfer_tree(source, destination, lambda src, dst: tf.io.gfile.copy(src, dst, overwrite=True))


def _move_tree(source: str, destination: str) -> None:
    """Moves the folder `source` to `destination` a file at a time (object stores and
    `ram://` rename files, not folders), then removes what is left of `source`."""
    _transfer_tree(
        source, destination, lambda src, dst: tf.io.gfile.rename(src, dst, overwrite=True)
    )
    tf.io.gfile.rmtree(source)


# Folder names under --export_dir (TF Hub's names for the text API split).
TEXT_ENCODER = "text_encoder"
PREPROCESSOR = "preprocessor"
ENCODER = "encoder"
SERVING = "serving"


@dataclasses.dataclass
class RestoredModel:
    """A training model_dir restored once; every exported artifact is built from it.

    Attributes:
      params: the run's experiment config.
      model: the task's DualEncoder, with the checkpoint's weights.
      tokenizer: a fresh tokenizer layer built from `params` (whatever type it configures).
      checkpoint_path: the restored checkpoint.
      serving_dtype: what the exported graphs compute in (a key of SERVING_POLICIES).
    """

    params: cfg.ExperimentConfig
    model: tf_keras.Model
    tokenizer: tf_keras.layers.Layer
    checkpoint_path: str
    serving_dtype: str = "float32"

    @property
    def encoder(self) -> tf_keras.layers.Layer:
        return self.model.encoder

    def metadata(self, kind: str) -> dict[str, Any]:
        """The assets.extra/xling_tf.json fields every artifact shares."""
        tokenizer_config = self.params.task.model.tokenizer
        return {
            "format": f"xling_tf {kind}",
            "output_dim": int(self.encoder.output_dim),
            "max_seq_length": tokenizer_config.max_seq_length,
            # Longer inputs are cut to this many characters before tokenization.
            "max_input_chars": getattr(tokenizer_config, "max_input_chars", None),
            "tokenizer": getattr(tokenizer_config, "type", "sentencepiece"),
            "checkpoint": os.path.basename(self.checkpoint_path),
            # The dtype the graph computes in; inputs and outputs are the same for all.
            "serving_dtype": self.serving_dtype,
        }


def check_serving_dtype(serving_dtype: str) -> str:
    if serving_dtype not in SERVING_POLICIES:
        raise ValueError(
            f"serving_dtype must be one of {sorted(SERVING_POLICIES)}, got {serving_dtype!r}"
        )
    return serving_dtype


def restore(
    model_dir: str, checkpoint_path: str | None = None, serving_dtype: str = "float32"
) -> RestoredModel:
    """Reads params.yaml and restores the newest (or the given) checkpoint of `model_dir`.

    The model's layers are built to compute in `serving_dtype` ("float32", "bfloat16" or
    "float16", Keras mixed precision: float32 variables), independent of the precision the
    run trained in and of the global policy of this process (which is left as it was).
    """
    check_serving_dtype(serving_dtype)
    params = load_experiment_params(model_dir)
    with global_policy(SERVING_POLICIES[serving_dtype]):
        model, checkpoint_path = restore_trained_model(params, model_dir, checkpoint_path)
        tokenizer = build_tokenizer(params.task.model.tokenizer)
    return RestoredModel(params, model, tokenizer, checkpoint_path, serving_dtype)


def graph_custom_ops(saved_model_dir: str) -> list[str]:
    """Op types in a SavedModel's graphs that core TensorFlow lacks (e.g. SentencepieceOp).

    A consumer must load their library (`import tensorflow_text`) before loading the model;
    an empty list means plain TensorFlow, stock TF Serving included, can run it.
    """
    from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=g-direct-tensorflow-import

    with tf.io.gfile.GFile(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        saved_model = saved_model_pb2.SavedModel.FromString(f.read())
    ops: set[str] = set()
    functions: set[str] = set()
    for meta_graph in saved_model.meta_graphs:
        library = meta_graph.graph_def.library
        functions.update(function.signature.name for function in library.function)
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in library.function:
            ops.update(node.op for node in function.node_def)
    # tf.raw_ops lists exactly the ops compiled into TensorFlow; calls of graph functions
    # also appear as ops, named after the function.
    return sorted(op for op in ops - functions if not hasattr(tf.raw_ops, op))


def write_metadata(saved_model_dir: str, metadata: dict[str, Any]) -> None:
    """Writes `<saved_model_dir>/assets.extra/xling_tf.json`, adding the graph's custom ops."""
    custom_ops = graph_custom_ops(saved_model_dir)
    # tensorflow_text is the only custom-op library our tokenizers use.
    metadata = {
        **metadata,
        "custom_ops": custom_ops,
        "requires": ["tensorflow_text"] if custom_ops else [],
    }
    os.makedirs(os.path.join(saved_model_dir, "assets.extra"), exist_ok=True)
    with open(os.path.join(saved_model_dir, "assets.extra", METADATA_FILE), "w") as f:
        json.dump(metadata, f, indent=2)


def read_metadata(saved_model_dir: str) -> dict[str, Any] | None:
    """`<saved_model_dir>/assets.extra/xling_tf.json`, or None when there is none."""
    path = os.path.join(saved_model_dir, "assets.extra", METADATA_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


# What tf_keras.models.load_model reads to rebuild the Keras model (hub.load, hub.KerasLayer,
# TFSMLayer and TF Serving do not use it).
KERAS_METADATA_FILE = "keras_metadata.pb"


def keras_saver(
    model: tf_keras.Model,
    metadata: dict[str, Any],
    signatures: dict[str, Any] | None = None,
    keras_loadable: bool = True,
) -> Callable[[str], None]:
    """A `save_fn` for save_atomically: Keras SavedModel (reusable by hub.KerasLayer) + metadata.

    Args:
      keras_loadable: keep KERAS_METADATA_FILE; without it tf_keras.models.load_model fails at
        once ("lacks the TF-Keras metadata file ... load this SavedModel with
        tf.saved_model.load") instead of rebuilding the model.
    """

    def save(tmp_dir: str) -> None:
        model.save(tmp_dir, include_optimizer=False, save_format="tf", signatures=signatures)
        if not keras_loadable:
            os.remove(os.path.join(tmp_dir, KERAS_METADATA_FILE))
        write_metadata(tmp_dir, metadata)

    return save


def save_text_encoder(restored: RestoredModel, export_path: str, normalize: bool = True) -> str:
    """Writes the end-to-end strings [batch] -> float32 [batch, output_dim] SavedModel."""
    text_encoder = build_text_encoder(restored.tokenizer, restored.encoder, normalize=normalize)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def serving_default(inputs):
        return {"outputs": text_encoder(inputs, training=False)}

    metadata = {**restored.metadata("text encoder"), "normalized": normalize}
    return save_atomically(
        keras_saver(text_encoder, metadata, {"serving_default": serving_default}), export_path
    )


def save_preprocessor(restored: RestoredModel, export_path: str) -> str:
    """Writes the TF Hub preprocessor (SentencePiece tokenizers only, see export/text_api.py)."""
    preprocessor = text_api_lib.build_preprocessor(restored.tokenizer)
    metadata = {
        **restored.metadata("preprocessor"),
        "seq_length": restored.params.task.model.tokenizer.max_seq_length,
        "special_tokens": {k: int(v) for k, v in restored.tokenizer.special_tokens.items()},
    }
    # tf_keras.models.load_model loops forever rebuilding this model (its layers are shared
    # with the `.tokenize` model), so it is made to fail at once instead.
    return save_atomically(keras_saver(preprocessor, metadata, keras_loadable=False), export_path)


def save_encoder(restored: RestoredModel, export_path: str) -> str:
    """Writes the TF Hub encoder: features dict -> pooled (unnormalised) / sequence outputs."""
    encoder = text_api_lib.build_encoder_model(restored.tokenizer, restored.encoder)
    metadata = {
        **restored.metadata("encoder"),
        "normalized": False,
        "inputs": sorted(encoder.input.keys()),
    }
    return save_atomically(keras_saver(encoder, metadata), export_path)


def save_serving(
    text_encoder_path: str,
    serving_dir: str,
    version: int,
    batching: serving_lib.ServerBatching | None = None,
) -> str:
    """Writes `<serving_dir>/<version>/`: the text encoder plus TF Serving warmup requests,
    and `<serving_dir>/batching_parameters.txt` for server-side batching.

    A copy of the exported text encoder rather than a second save: byte-identical graph and
    weights, so the served vectors are the tested ones, and no second round of tracing. The
    warmup requests have one batch of each size `batching` allows (default ServerBatching()).
    """
    batching = batching or serving_lib.ServerBatching()
    warmup = serving_lib.warmup_batches(batching.allowed_batch_sizes)

    def save(tmp_dir: str) -> None:
        copy_tree(text_encoder_path, tmp_dir)
        serving_lib.write_warmup_requests(tmp_dir, warmup)
        metadata_path = os.path.join(tmp_dir, "assets.extra", METADATA_FILE)
        with open(metadata_path) as f:
            metadata = json.load(f)
        metadata.update(
            {
                "format": "xling_tf serving",
                "serving_version": version,
                "warmup_requests": len(warmup),
                "warmup_batch_sizes": [len(batch) for batch in warmup],
                "batching_parameters": {
                    **dataclasses.asdict(batching),
                    "allowed_batch_sizes": list(batching.allowed_batch_sizes),
                },
            }
        )
        with open(metadata_path, "w") as f:
            json.dump(metadata, f, indent=2)

    path = save_atomically(save, serving_lib.version_dir(serving_dir, version))
    serving_lib.write_batching_parameters(serving_dir, batching)
    return path


def export_text_encoder(
    model_dir: str,
    export_path: str,
    checkpoint_path: str | None = None,
    normalize: bool = True,
    serving_dtype: str = "float32",
) -> str:
    """Restores the trained encoder and writes the text -> vector SavedModel.

    `serving_dtype`: what the graph computes in (see `restore`); recorded in the metadata.
    """
    started = time.time()
    restored = restore(model_dir, checkpoint_path, serving_dtype)
    save_text_encoder(restored, export_path, normalize=normalize)
    logging.info(
        "exported %s to %s in %.1fs", restored.checkpoint_path, export_path, time.time() - started
    )
    return export_path


def export_layout(
    export_dir: str, text_api: bool = False, serving: bool = False, serving_version: int = 1
) -> dict[str, str]:
    """Artifact name -> folder under `export_dir` (see the module docstring)."""
    paths = {TEXT_ENCODER: os.path.join(export_dir, TEXT_ENCODER)}
    if text_api:
        paths[PREPROCESSOR] = os.path.join(export_dir, PREPROCESSOR)
        paths[ENCODER] = os.path.join(export_dir, ENCODER)
    if serving:
        paths[SERVING] = serving_lib.version_dir(os.path.join(export_dir, SERVING), serving_version)
    return paths


def export_all(
    model_dir: str,
    export_dir: str,
    checkpoint_path: str | None = None,
    normalize: bool = True,
    text_api: bool = False,
    serving: bool = False,
    serving_version: int = 1,
    serving_dtype: str = "float32",
    batching: serving_lib.ServerBatching | None = None,
) -> dict[str, str]:
    """Restores the checkpoint once and writes every requested artifact under `export_dir`.

    Each artifact is swapped in atomically on its own; the end-to-end text encoder is
    always written (the serving copy is made from it). Every artifact computes in
    `serving_dtype` (see `restore`); `batching` configures TF Serving's server-side batching
    and the warmup batch sizes (see serving.py).

    Returns:
      export_layout(...): artifact name -> absolute folder.
    """
    started = time.time()
    paths = export_layout(export_dir, text_api, serving, serving_version)
    # Fail before anything is written, not after the text encoder is replaced.
    if serving:
        serving_lib.serving_apis()  # the optional tensorflow-serving-api ([serving] extra)
    restored = restore(model_dir, checkpoint_path, serving_dtype)
    if text_api:
        text_api_lib.check_supports_preprocessor(restored.tokenizer)
    paths[TEXT_ENCODER] = save_text_encoder(restored, paths[TEXT_ENCODER], normalize)
    if text_api:
        paths[PREPROCESSOR] = save_preprocessor(restored, paths[PREPROCESSOR])
        paths[ENCODER] = save_encoder(restored, paths[ENCODER])
    if serving:
        paths[SERVING] = save_serving(
            paths[TEXT_ENCODER], os.path.dirname(paths[SERVING]), serving_version, batching
        )
    logging.info(
        "exported %s to %s in %.1fs",
        restored.checkpoint_path,
        ", ".join(paths.values()),
        time.time() - started,
    )
    return paths


FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("model_dir", None, "Training model_dir (params.yaml + checkpoints).")
    flags.DEFINE_string(
        "export_path", None, "Where the end-to-end SavedModel goes (one model; see --export_dir)."
    )
    flags.DEFINE_string(
        "export_dir",
        None,
        "Folder for every artifact: text_encoder/, plus preprocessor/ and "
        "encoder/ with --text_api, serving/<version>/ with --serving.",
    )
    flags.DEFINE_string("checkpoint_path", None, "A specific checkpoint (default: newest).")
    flags.DEFINE_bool("normalize", True, "L2-normalise the end-to-end output vectors.")
    flags.DEFINE_bool(
        "text_api", False, "Also write the TF Hub preprocessor/ and encoder/ (SentencePiece only)."
    )
    flags.DEFINE_bool(
        "serving",
        False,
        "Also write serving/<serving_version>/ for TF Serving, with warmup "
        "requests; other versions already there are kept.",
    )
    flags.DEFINE_integer("serving_version", 1, "TF Serving version folder (an integer >= 0).")
    flags.DEFINE_enum(
        "serving_dtype",
        "float32",
        sorted(SERVING_POLICIES),
        "What the exported graphs compute in, whatever the training precision: float32, or "
        "bfloat16 / float16 (mixed precision, float32 weights and outputs; faster on CPUs "
        "with native bfloat16 / on GPUs). Recorded as serving_dtype in the metadata.",
    )
    defaults = serving_lib.ServerBatching()
    flags.DEFINE_integer(
        "serving_max_batch_size",
        defaults.max_batch_size,
        "--serving: TF Serving batching, most sentences per model call; the allowed batch "
        "sizes (and the warmup requests) are the powers of two up to it.",
    )
    flags.DEFINE_integer(
        "serving_batch_timeout_micros",
        defaults.batch_timeout_micros,
        "--serving: TF Serving batching, longest wait for a batch to fill.",
    )
    flags.DEFINE_integer(
        "serving_batch_threads",
        None,
        "--serving: TF Serving batching, batches run in parallel (default: this machine's "
        "cores; set the serving machine's).",
    )


def main(_) -> None:
    if bool(FLAGS.export_path) == bool(FLAGS.export_dir):
        raise app.UsageError(
            "pass exactly one of --export_path (the end-to-end model) or "
            "--export_dir (every artifact)"
        )
    if FLAGS.export_path:
        if FLAGS.text_api or FLAGS.serving:
            raise app.UsageError(
                "--text_api and --serving write several models: use "
                "--export_dir instead of --export_path"
            )
        export_text_encoder(
            FLAGS.model_dir,
            FLAGS.export_path,
            FLAGS.checkpoint_path,
            normalize=FLAGS.normalize,
            serving_dtype=FLAGS.serving_dtype,
        )
        return
    try:
        batching = serving_lib.ServerBatching(
            max_batch_size=FLAGS.serving_max_batch_size,
            batch_timeout_micros=FLAGS.serving_batch_timeout_micros,
            **(
                {"num_batch_threads": FLAGS.serving_batch_threads}
                if FLAGS.serving_batch_threads is not None
                else {}
            ),
        )
    except ValueError as error:
        raise app.UsageError(str(error)) from error
    paths = export_all(
        FLAGS.model_dir,
        FLAGS.export_dir,
        FLAGS.checkpoint_path,
        normalize=FLAGS.normalize,
        text_api=FLAGS.text_api,
        serving=FLAGS.serving,
        serving_version=FLAGS.serving_version,
        serving_dtype=FLAGS.serving_dtype,
        batching=batching,
    )
    for name, path in paths.items():
        print(f"{name}: {path}")


def run() -> None:
    """Command-line entry point: defines the flags and runs `main` under absl."""
    define_flags()
    flags.mark_flags_as_required(["model_dir"])
    app.run(main)


if __name__ == "__main__":
    run()
