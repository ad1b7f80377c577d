"""NLI model: premise and hypothesis through the shared encoder, then a 3-way classifier."""

from __future__ import annotations

from typing import Any

from xling_tf.modeling.dual_encoder import SharedEncoderModel, encode_sides
from xling_tf.modeling.encoder import SentenceEncoder
from xling_tf.modeling.heads import NliClassifier

import tf_keras


@tf_keras.utils.register_keras_serializable(package="xling_tf")
class NliModel(SharedEncoderModel):
    """logits = classifier(g(premise), g(hypothesis)).

    Call:
      inputs: {"premise", "hypothesis": side dicts, int32 [B, T] each}.
    Returns:
      {"logits": float32 [B, num_classes]}.
    """

    def __init__(self, encoder: SentenceEncoder, classifier: NliClassifier, **kwargs: Any):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.classifier = classifier

    def call(self, inputs: dict[str, Any], training: bool | None = None):
        premise, hypothesis = encode_sides(
            self.encoder, [inputs["premise"], inputs["hypothesis"]], training=training
        )
        return {"logits": self.classifier((premise, hypothesis), training=training)}

    _serialized_layers = ("encoder", "classifier")

    def get_config(self) -> dict[str, Any]:
        return {
            "encoder": tf_keras.layers.serialize(self.encoder),
            "classifier": tf_keras.layers.serialize(self.classifier),
            "name": self.name,
        }
