"""Conversational response ranking (input -> reply), a native monolingual task.

u = g(input), v = tower(g(reply)), in-batch softmax over the replies of the batch. Unlike the
translation bridge the relation is not symmetric, so only input -> reply is ranked.
"""

from __future__ import annotations

import dataclasses

from xling_tf.modeling.dual_encoder import DualEncoder
from xling_tf.modeling.encoder import SentenceEncoder
from xling_tf.modeling.heads import DenseTower
from xling_tf.tasks.translation_ranking import TranslationRankingConfig, TranslationRankingTask

import tf_keras
from official.core import task_factory


@dataclasses.dataclass
class ResponseRankingConfig(TranslationRankingConfig):
    """Rows: `input \\t reply`.

    The response tower is dense layers of `response_tower_hidden_widths` then one of the
    encoder's output size (the paper: 320 then 512, tanh), so u and v share a space.
    """

    bidirectional: bool = False
    response_tower_hidden_widths: tuple[int, ...] = (320,)


@task_factory.register_task_cls(ResponseRankingConfig)
class ResponseRankingTask(TranslationRankingTask):
    """Translation ranking's loss and metrics with a response tower on the reply side."""

    def build_task_model(self, encoder: SentenceEncoder) -> tf_keras.Model:
        return DualEncoder(
            encoder,
            normalize=self.model_config.normalize,
            right_head=DenseTower(
                tuple(self.task_config.response_tower_hidden_widths)
                + (self.model_config.encoder.output_dim,),
                name="response_tower",
            ),
            name="response_ranking",
        )
