"""What every xling task shares: TSV rows tokenized in tf.data, one shared sentence encoder.

A task config holds only what is per task (data, loss weight, heads, loss direction); the
model (tokenizer, encoder, scoring) is the experiment's one `task.model`, handed to every task
as `model_config` when it is built (multitask.build_multi_task).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from xling_tf.configs.model import XlingModelConfig
from xling_tf.data.pair_dataset import make_pair_dataset
from xling_tf.modeling.encoder import SentenceEncoder
from xling_tf.modeling.factory import build_sentence_encoder, build_tokenizer
from xling_tf.modeling.ngram_cnn_encoder import NgramCnnEncoder
from xling_tf.modeling.ranking_loss import same_example_mask, without_margin

import numpy as np
import tensorflow as tf
import tf_keras
from official.core import base_task
from official.core import config_definitions as cfg

# Prefix of the `model_outputs` keys under which `build_losses` keeps ranking logits.
RANKING_LOGITS = "ranking_logits"


@dataclasses.dataclass
class PairDataConfig(cfg.DataConfig):
    """TSV rows of sentences (see data/pair_dataset.py).

    Attributes:
      input_path: comma-separated files or globs.
      num_hard_negatives: extra columns per row used as hard negatives (paper: 5).
      on_malformed: "raise" stops at the first bad row with its file and line; "skip" drops
        and counts bad rows.
      length_bucketing: batch rows of similar token length together (less padding).
      seed: shuffle seed (None: pair_dataset.DEFAULT_SHUFFLE_SEED; the order is reproducible).
      static_shapes: fixed batch shapes (padded to max_seq_length, no bucketing, partial
        batches dropped), as TPUs need; None: on under TPU and multi-worker strategies (train.py).
      pad_to_bucket_boundary: pad each length bucket's batches to the bucket's upper bound
        (a handful of shapes, each compiled once by XLA); None: on when `runtime.enable_xla`.
      batch_per_file: every batch holds rows of one input file (give one file per language and
        source translation); False mixes the lines of all files (shards of one corpus).
    """

    input_path: str = ""
    global_batch_size: int = 128
    is_training: bool = True
    drop_remainder: bool = True
    shuffle_buffer_size: int = 100_000
    num_hard_negatives: int = 0
    on_malformed: str = "raise"
    length_bucketing: bool = True
    seed: int | None = None
    static_shapes: bool | None = None
    batch_per_file: bool = True
    pad_to_bucket_boundary: bool | None = None


@dataclasses.dataclass
class XlingTaskConfig(cfg.TaskConfig):
    """Fields every task has; the model is not one of them (it is the experiment's `task.model`).

    Attributes:
      loss_weight: multiplies this task's loss (interleaved multi-task training applies each
        task's own weight on its own steps).
    """

    train_data: PairDataConfig = dataclasses.field(default_factory=PairDataConfig)
    validation_data: PairDataConfig = dataclasses.field(
        default_factory=lambda: PairDataConfig(is_training=False)
    )
    loss_weight: float = 1.0


def same_example_in_batch(
    features, column_names: Sequence[str], cross_replica: bool = False
) -> tf.Tensor | None:
    """bool [B, G] `same_example_mask` over the `input_word_ids` of the named text columns.

    `features` is the batch as the pipeline gives it (Model Garden passes it to the loss and
    metrics as `labels`); None (e.g. a loss computed from embeddings alone) gives None: no mask.
    """
    if features is None:
        return None
    return same_example_mask(
        *(features[name]["input_word_ids"] for name in column_names), cross_replica=cross_replica
    )


class XlingTask(base_task.Task):
    """Base task: input pipeline over named TSV columns and the shared encoder.

    Subclasses set `column_names` (and `label_names` for classification) and implement
    `build_task_model(encoder)`, `build_losses`, `build_metrics` and `process_metrics`.

    Args:
      params: the task's config.
      logging_dir, name: as for `base_task.Task`.
      model_config: the experiment's model (`task.model`); defaults to `params.model` for a
        single-task config that carries it (`TranslationExperimentTaskConfig`).
    """

    column_names: Sequence[str] = ("left", "right")
    label_names: Sequence[str] | None = None
    # A float32 .npy [lines, d] of one vector per input line, read into "row_vectors".
    row_vectors_path: str | None = None

    def __init__(
        self,
        params: cfg.TaskConfig,
        logging_dir: str | None = None,
        name: str | None = None,
        model_config: XlingModelConfig | None = None,
    ):
        super().__init__(params, logging_dir=logging_dir, name=name)
        if model_config is None:
            model_config = getattr(params, "model", None)
        if model_config is None:
            raise ValueError(
                f"task {name or type(self).__name__} was built without a model config: pass "
                "model_config=params.task.model (the experiment's one model config)"
            )
        self.model_config: XlingModelConfig = model_config

    def keep_ranking_logits(
        self, model_outputs: dict[str, Any], logits: dict[str, tf.Tensor], name: str = ""
    ) -> None:
        """Keeps a ranking's margin-penalised logits in `model_outputs` for `process_metrics`.

        Model Garden's `train_step` and `validation_step` (and the XLA step, which returns
        the outputs) call `build_losses` and then `process_metrics` on the same outputs dict,
        so the metrics reuse the loss's similarity matrices instead of computing them (and,
        with cross-replica negatives, all-gathering the other replicas' embeddings) again.
        """
        model_outputs[f"{RANKING_LOGITS}/{name}"] = logits

    def ranking_logits_for_metrics(
        self,
        model_outputs: dict[str, Any],
        gold: tf.Tensor,
        recompute: Callable[[], dict[str, tf.Tensor]],
        name: str = "",
    ) -> dict[str, tf.Tensor]:
        """Direction -> float32 [B, C] logits without the training margin, for accuracies.

        The ones `build_losses` kept (`keep_ranking_logits`) with the margin added back
        (accuracy on penalised logits would under-report); `recompute()` (a ranking with
        margin 0) when process_metrics runs on outputs build_losses did not see.
        """
        kept = model_outputs.get(f"{RANKING_LOGITS}/{name}")
        if kept is None:
            return recompute()
        scale, margin = self.model_config.logit_scale, self.model_config.logit_margin
        return {
            direction: without_margin(logits, gold, scale, margin)
            for direction, logits in kept.items()
        }

    def build_model(self, encoder: SentenceEncoder | None = None) -> tf_keras.Model:
        """The task's model around `encoder` (a new one unless shared by a multi-task model)."""
        return self.build_task_model(encoder or build_sentence_encoder(self.model_config))

    def example_features(self, batch_size: int = 2) -> dict[str, dict[str, tf.Tensor]]:
        """A batch shaped like the model's inputs, from placeholder text, not from the data.

        Calling the task's model on it creates every variable without reading a file: each
        column is a string tensor [batch_size] through the model's tokenizer, so the sides have
        the pipeline's structure and dtypes ({"input_word_ids", "input_mask": int32 [B, T],
        ...}).
        """
        tokenizer = build_tokenizer(self.model_config.tokenizer)
        text = tf.constant(["build"] * batch_size)
        return {name: tokenizer(text) for name in self.column_names}

    def build_task_model(self, encoder: SentenceEncoder) -> tf_keras.Model:
        raise NotImplementedError

    def build_inputs(
        self, params: PairDataConfig, input_context: tf.distribute.InputContext | None = None
    ) -> tf.data.Dataset:
        batch_size = (
            input_context.get_per_replica_batch_size(params.global_batch_size)
            if input_context
            else params.global_batch_size
        )
        return make_pair_dataset(
            params.input_path,
            tokenizer=build_tokenizer(self.model_config.tokenizer),
            batch_size=batch_size,
            num_hard_negatives=params.num_hard_negatives,
            column_names=self.column_names,
            label_names=self.label_names,
            is_training=params.is_training,
            shuffle_buffer_size=params.shuffle_buffer_size,
            seed=params.seed,
            drop_remainder=params.drop_remainder,
            on_malformed=params.on_malformed,
            length_bucketing=params.length_bucketing,
            input_context=input_context,
            static_shapes=bool(params.static_shapes),
            row_vectors_path=self.row_vectors_path,
            batch_per_file=params.batch_per_file,
            pad_to_bucket_boundary=bool(params.pad_to_bucket_boundary),
        )

    def weighted(self, loss: tf.Tensor, aux_losses=None) -> tf.Tensor:
        """Adds regularisation losses and applies the task's loss weight."""
        if aux_losses:
            loss += tf.add_n(aux_losses)
        return self.task_config.loss_weight * loss

    def initialize(self, model: tf_keras.Model):
        """Starts a fresh run from what the config names (a resumed run restores instead).

        `task.model.encoder.token_embeddings_file`: the token table (e.g. a teacher's), and
        `initial_weights_from`: the encoder's other weights (e.g. the teacher's). Then
        `init_checkpoint`, a training model_dir or one of its checkpoints: only the shared
        encoder is restored, so any task can start from any trained model.
        """
        encoder_config = self.model_config.encoder
        if encoder_config.token_embeddings_file or encoder_config.initial_weights_from:
            if not model.encoder.built:  # variables are created on the first call
                model.encoder(dummy_encoder_inputs(model.encoder), training=False)
        if encoder_config.token_embeddings_file:
            model.encoder.load_token_embeddings(np.load(encoder_config.token_embeddings_file))
        if encoder_config.initial_weights_from:
            from xling_tf.inference import import_entry_point

            source = encoder_config.initial_weights_from
            if not hasattr(model.encoder, "assign_named_weights"):
                raise ValueError(
                    f"encoder.initial_weights_from={source!r} needs encoder.type ngram_cnn"
                )
            model.encoder.assign_named_weights(import_entry_point(source)(), source=source)
        path = self.task_config.init_checkpoint
        if not path:
            return
        if tf.io.gfile.isdir(path):
            path = tf.train.latest_checkpoint(path)
        tf.train.Checkpoint(encoder=model.encoder).read(path).expect_partial()


def dummy_encoder_inputs(encoder: SentenceEncoder | NgramCnnEncoder) -> dict[str, tf.Tensor]:
    """A one-sentence batch of padding that builds `encoder`'s variables when called."""
    inputs = {
        "input_word_ids": tf.zeros([1, 2], tf.int32),
        "input_mask": tf.ones([1, 2], tf.int32),
    }
    if encoder.get_config().get("ngram_buckets"):
        inputs["input_ngram_ids"] = tf.zeros([1, 2, 1], tf.int32)
    return inputs
