r"""Export entry point: `python export/export_hub.py --model_dir ... --export_dir ...`.

Also `bazel run //export:export_hub -- ...`, `python -m xling_tf.export.export_hub ...` and
`xling-tf export ...` (same flags). This file is only a launcher: the library code lives in the
installed package, `xling_tf.export` (see xling_tf/export/export_hub.py for the flags and the
layout of what is written).
"""

from xling_tf.export import export_hub

if __name__ == "__main__":
    export_hub.run()
