"""Quick-Thought model: a sentence against its previous and next sentences."""

from __future__ import annotations

from typing import Any

from xling_tf.modeling.dual_encoder import SharedEncoderModel, encode_sides
from xling_tf.modeling.encoder import SentenceEncoder
from xling_tf.modeling.heads import DenseTower
from xling_tf.modeling.normalization import l2_normalization

import tf_keras


@tf_keras.utils.register_keras_serializable(package="xling_tf")
class QuickThoughtModel(SharedEncoderModel):
    """u = g(current); v_prev = tower_prev(g(previous)); v_next = tower_next(g(next)).

    The two context towers are separate (the paper, Figure 1): "what came before" and "what
    comes next" are different relations, so one shared tower would blur them.

    Call:
      inputs: {"current", "previous", "next": side dicts, int32 [B, T] each}.
    Returns:
      {"current": float32 [B, D], "previous": float32 [B, D'], "next": float32 [B, D']},
      L2-normalised when `normalize` is set.
    """

    def __init__(
        self,
        encoder: SentenceEncoder,
        previous_tower: DenseTower,
        next_tower: DenseTower,
        normalize: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.previous_tower = previous_tower
        self.next_tower = next_tower
        self.normalize = normalize
        self._l2_normalize = l2_normalization()

    def call(self, inputs: dict[str, Any], training: bool | None = None):
        current, previous, following = encode_sides(
            self.encoder, [inputs["current"], inputs["previous"], inputs["next"]], training=training
        )
        outputs = {
            "current": current,
            "previous": self.previous_tower(previous),
            "next": self.next_tower(following),
        }
        if self.normalize:
            outputs = {name: self._l2_normalize(x) for name, x in outputs.items()}
        return outputs

    _serialized_layers = ("encoder", "previous_tower", "next_tower")

    def get_config(self) -> dict[str, Any]:
        return {
            "encoder": tf_keras.layers.serialize(self.encoder),
            "previous_tower": tf_keras.layers.serialize(self.previous_tower),
            "next_tower": tf_keras.layers.serialize(self.next_tower),
            "normalize": self.normalize,
            "name": self.name,
        }
