"""Translation ranking: the bridge task that pulls a sentence and its translation together.

Given a batch of aligned pairs, the shared encoder embeds both sides and an in-batch softmax
ranks each translation above every other target in the batch (plus optional hard negatives),
in both directions. This task has no head: the score is the dot product of g(x) and g(y).
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf
import tf_keras
from official.core import base_task, config_definitions as cfg, task_factory

from xling_tf.configs.model import DualEncoderConfig
from xling_tf.data.pair_dataset import make_pair_dataset
from xling_tf.modeling.dual_encoder import DualEncoder
from xling_tf.modeling.factory import build_encoder, build_tokenizer
from xling_tf.modeling.ranking_loss import in_batch_softmax_loss


@dataclasses.dataclass
class PairDataConfig(cfg.DataConfig):
    """TSV pairs `source \\t target [\\t negative ...]`; see data/pair_dataset.py.

    Attributes:
      input_path: comma-separated files or globs.
      num_hard_negatives: extra columns per row used as hard negatives (paper: 5).
      on_malformed: "raise" stops at the first bad row with its file and line; "skip" drops
        and counts bad rows.
      length_bucketing: batch rows of similar token length together (less padding).
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


@dataclasses.dataclass
class TranslationRankingConfig(cfg.TaskConfig):
    """Task config: the dual encoder and its train / validation pair files."""

    model: DualEncoderConfig = dataclasses.field(default_factory=DualEncoderConfig)
    train_data: PairDataConfig = dataclasses.field(default_factory=PairDataConfig)
    validation_data: PairDataConfig = dataclasses.field(
        default_factory=lambda: PairDataConfig(is_training=False, drop_remainder=True))


@task_factory.register_task_cls(TranslationRankingConfig)
class TranslationRankingTask(base_task.Task):
    """In-batch softmax translation ranking over one shared sentence encoder."""

    def build_model(self) -> DualEncoder:
        model_config = self.task_config.model
        tokenizer = build_tokenizer(model_config.tokenizer)
        encoder = build_encoder(model_config.encoder, vocab_size=tokenizer.vocab_size,
                                max_sequence_length=model_config.tokenizer.max_seq_length)
        return DualEncoder(encoder, normalize=model_config.normalize, name="dual_encoder")

    def build_inputs(self, params: PairDataConfig,
                     input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        batch_size = (input_context.get_per_replica_batch_size(params.global_batch_size)
                      if input_context else params.global_batch_size)
        return make_pair_dataset(
            params.input_path,
            tokenizer=build_tokenizer(self.task_config.model.tokenizer),
            batch_size=batch_size,
            num_hard_negatives=params.num_hard_negatives,
            is_training=params.is_training,
            shuffle_buffer_size=params.shuffle_buffer_size,
            seed=params.seed,
            drop_remainder=params.drop_remainder,
            on_malformed=params.on_malformed,
            length_bucketing=params.length_bucketing,
            input_context=input_context)

    def _ranking(self, model_outputs: dict[str, tf.Tensor]):
        model_config = self.task_config.model
        return in_batch_softmax_loss(
            model_outputs["left"], model_outputs["right"],
            hard_negatives=model_outputs.get("negatives"),
            scale=model_config.logit_scale, margin=model_config.logit_margin,
            bidirectional=model_config.bidirectional)

    def build_losses(self, labels, model_outputs, aux_losses=None) -> tf.Tensor:
        loss, _ = self._ranking(model_outputs)
        if aux_losses:
            loss += tf.add_n(aux_losses)
        return loss

    def build_metrics(self, training: bool | None = None):
        del training
        return [
            tf_keras.metrics.SparseCategoricalAccuracy(name="left_to_right_accuracy"),
            tf_keras.metrics.SparseCategoricalAccuracy(name="right_to_left_accuracy"),
        ]

    def process_metrics(self, metrics, labels, model_outputs, **kwargs):
        del labels, kwargs
        _, logits = self._ranking(model_outputs)
        gold = tf.range(tf.shape(model_outputs["left"])[0])
        for metric in metrics:
            direction = metric.name.replace("_accuracy", "")
            if direction in logits:
                metric.update_state(gold, logits[direction])

    def initialize(self, model: tf_keras.Model):
        """Warm-starts from `init_checkpoint`: a training model_dir or one of its checkpoints."""
        path = self.task_config.init_checkpoint
        if not path:
            return
        if tf.io.gfile.isdir(path):
            path = tf.train.latest_checkpoint(path)
        tf.train.Checkpoint(model=model).read(path).expect_partial()
