"""Learning from an existing sentence encoder (Reimers & Gurevych 2020).

* `teachers`: load a teacher (a TF Hub-style SavedModel or a Python `module:function`) as a
  checked `list[str] -> float32 [n, d]` function.
* `teacher_cache`: the teacher's vectors for a training corpus, computed once into a
  memory-mapped file and reused on resume and by later runs.

The task that trains on them is `xling_tf.tasks.distillation`.
"""
