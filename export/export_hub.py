r"""Exports a trained encoder as a reusable TF2 SavedModel (TF Hub conventions).

  python -m export.export_hub --model_dir runs/demo --export_path exports/demo

The SavedModel maps a 1-D string tensor to L2-normalised float32 [batch, output_dim]
embeddings, with SentencePiece tokenization in the graph (the .model file is under assets/).
It is a Keras SavedModel, so it has `variables`, `trainable_variables` and
`__call__(inputs, training)`: `hub.KerasLayer(path, trainable=True)` fine-tunes it. The
`serving_default` signature takes `inputs` (tf.string [batch]) and returns
{"outputs": float32 [batch, output_dim]}.

The model is written to a temporary folder next to `export_path` and moved into place only
once complete, so an interrupted export never replaces a good model with a broken one.
"""

from __future__ import annotations

import xling_tf  # noqa: F401  (selects tf_keras before TensorFlow loads Keras)

import json
import os
import shutil
import tempfile
import time

import tensorflow as tf
import tf_keras
from absl import app, flags, logging
from official.core import config_definitions as cfg
from official.core import task_factory
from official.modeling import hyperparams

from xling_tf.modeling.factory import build_tokenizer
from xling_tf.modeling.normalization import L2Normalization
from xling_tf.tasks.translation_ranking import TranslationRankingConfig
from xling_tf.tokenization.vocabulary import VOCAB_FILENAME, VOCAB_SUBDIR

METADATA_FILE = "xling_tf.json"


def load_experiment_params(model_dir: str) -> cfg.ExperimentConfig:
    """Reads `<model_dir>/params.yaml` written by training, fixing up the vocabulary path."""
    yaml_path = os.path.join(model_dir, "params.yaml")
    if not os.path.exists(yaml_path):
        raise FileNotFoundError(f"{yaml_path} not found: is {model_dir!r} a training model_dir?")
    params = cfg.ExperimentConfig(task=TranslationRankingConfig())
    params = hyperparams.override_params_dict(params, yaml_path, is_strict=False)
    vocab = params.task.model.tokenizer.sentencepiece_model_file
    if not vocab or not os.path.exists(vocab):
        # The run may have moved since training: the vocabulary travels inside model_dir.
        params.override({"task": {"model": {"tokenizer": {"sentencepiece_model_file":
                                                          os.path.join(model_dir, VOCAB_SUBDIR,
                                                                       VOCAB_FILENAME)}}}})
    return params


def restore_trained_model(params: cfg.ExperimentConfig, model_dir: str,
                          checkpoint_path: str | None = None):
    """Builds the task's model and restores the newest (or the given) checkpoint into it."""
    checkpoint_path = checkpoint_path or tf.train.latest_checkpoint(model_dir)
    if not checkpoint_path:
        raise FileNotFoundError(f"no checkpoint in {model_dir}: train first")
    task = task_factory.get_task(params.task, logging_dir=model_dir)
    model = task.build_model()
    tokenizer = build_tokenizer(params.task.model.tokenizer)
    # Build the variables before restoring so a mismatch is an error, not a silent no-op.
    model.embed(tokenizer(tf.constant(["warm up"])))
    status = tf.train.Checkpoint(model=model).read(checkpoint_path)
    status.expect_partial().assert_existing_objects_matched()
    logging.info("restored %s", checkpoint_path)
    return model, checkpoint_path


def build_text_encoder(tokenizer, encoder, normalize: bool = True) -> tf_keras.Model:
    """strings [batch] -> float32 [batch, output_dim]: tokenizer, encoder, L2 normalisation."""
    text = tf_keras.layers.Input(shape=(), dtype=tf.string, name="inputs")
    pooled = encoder(tokenizer(text))["pooled_output"]
    outputs = L2Normalization(name="l2_normalize")(pooled) if normalize else pooled
    return tf_keras.Model(text, outputs, name="text_encoder")


def save_atomically(save_fn, export_path: str) -> str:
    """Runs `save_fn(tmp_dir)`, then swaps tmp_dir into `export_path`.

    A crash before the swap leaves the previous export untouched (and a `.tmp-*` folder to
    delete); the swap itself is two renames on one filesystem.
    """
    export_path = os.path.abspath(export_path)
    parent = os.path.dirname(export_path)
    os.makedirs(parent, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=os.path.basename(export_path) + ".tmp-", dir=parent)
    try:
        save_fn(tmp_dir)
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


def export_text_encoder(model_dir: str, export_path: str, checkpoint_path: str | None = None,
                        normalize: bool = True) -> str:
    """Restores the trained encoder and writes the text -> vector SavedModel."""
    started = time.time()
    params = load_experiment_params(model_dir)
    model, checkpoint_path = restore_trained_model(params, model_dir, checkpoint_path)
    tokenizer = build_tokenizer(params.task.model.tokenizer)
    text_encoder = build_text_encoder(tokenizer, model.encoder, normalize=normalize)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def serving_default(inputs):
        return {"outputs": text_encoder(inputs, training=False)}

    metadata = {
        "format": "xling_tf text encoder",
        "output_dim": int(model.encoder.output_dim),
        "normalized": normalize,
        "max_seq_length": params.task.model.tokenizer.max_seq_length,
        "checkpoint": os.path.basename(checkpoint_path),
        "requires": ["tensorflow_text"],
    }

    def save(tmp_dir: str) -> None:
        text_encoder.save(tmp_dir, include_optimizer=False, save_format="tf",
                          signatures={"serving_default": serving_default})
        os.makedirs(os.path.join(tmp_dir, "assets.extra"), exist_ok=True)
        with open(os.path.join(tmp_dir, "assets.extra", METADATA_FILE), "w") as f:
            json.dump(metadata, f, indent=2)

    save_atomically(save, export_path)
    logging.info("exported %s to %s in %.1fs", checkpoint_path, export_path,
                 time.time() - started)
    return export_path


FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("model_dir", None, "Training model_dir (params.yaml + checkpoints).")
    flags.DEFINE_string("export_path", None, "Where the SavedModel goes.")
    flags.DEFINE_string("checkpoint_path", None, "A specific checkpoint (default: newest).")
    flags.DEFINE_bool("normalize", True, "L2-normalise the output vectors.")


def main(_) -> None:
    export_text_encoder(FLAGS.model_dir, FLAGS.export_path, FLAGS.checkpoint_path,
                        normalize=FLAGS.normalize)


if __name__ == "__main__":
    define_flags()
    flags.mark_flags_as_required(["model_dir", "export_path"])
    app.run(main)
