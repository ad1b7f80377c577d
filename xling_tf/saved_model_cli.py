"""TensorFlow's `saved_model_cli`, with tensorflow_text's ops registered first.

Stock `saved_model_cli run` cannot execute a SavedModel whose graph holds tensorflow_text ops
(SentencepieceOp): the CLI never imports tensorflow_text, so the op is "not registered".
`python -m xling_tf.saved_model_cli <same arguments>` is the same CLI with the ops loaded.
"""

import xling_tf  # noqa: F401

import tensorflow_text  # noqa: F401  (registers the ops before any graph is loaded)
from tensorflow.python.tools import saved_model_cli

if __name__ == "__main__":
    saved_model_cli.main()
