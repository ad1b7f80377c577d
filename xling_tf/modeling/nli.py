"""NLI model: premise and hypothesis through the shared encoder, then a 3-way classifier."""

from __future__ import annotations

from typing import Any

from xling_tf.modeling.dual_encoder import encode_sides
from xling_tf.modeling.encoder import SentenceEncoder
from xling_tf.modeling.heads import NliClassifier

import tf_keras


class NliModel(tf_keras.Model):
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

    @property
    def checkpoint_items(self) -> dict[str, Any]:
        return {"encoder": self.encoder}
