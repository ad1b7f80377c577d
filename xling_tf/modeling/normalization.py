"""L2 normalisation of sentence vectors: Keras' own `UnitNormalization`, computed in float32."""

from __future__ import annotations

import tf_keras


def l2_normalization(name: str = "l2_normalize") -> tf_keras.layers.UnitNormalization:
    """A layer mapping float [batch, dim] -> float32 [batch, dim] rows of unit L2 norm.

    A zero row stays zero. The layer's dtype policy is float32 whatever the global mixed
    precision policy: it casts its input up first, so the norm of a bfloat16/float16 vector is
    computed in float32 and every consumer (scores, exports) gets float32 vectors.
    """
    return tf_keras.layers.UnitNormalization(axis=-1, dtype="float32", name=name)
