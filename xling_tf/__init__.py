"""xling_tf: cross-lingual sentence encoders trained with the multi-task dual-encoder method.

Model Garden and `hub.KerasLayer` are Keras 2 code, so the package selects tf_keras before
TensorFlow first loads Keras. Import `xling_tf` (or any submodule) before `tensorflow` to get
this for free; setting `TF_USE_LEGACY_KERAS=1` yourself works too. Imported before NumPy,
it also points OpenBLAS at the CPU's vector kernels where a virtual CPU misleads it
(`xling_tf.blas`).
"""

import os

from xling_tf.blas import set_openblas_core_type

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ INFO lines (CUDA probing, oneDNN notes) drown the step logs on CPU hosts.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
set_openblas_core_type()

__version__ = "0.1.0"
