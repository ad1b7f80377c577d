"""Exports to a remote filesystem: TensorFlow's in-memory `ram://` stands in for gs://.

Object stores have no folder rename, so save_atomically uploads the whole model before
swapping it in file by file (export_hub._save_remotely). The local path is covered by
test_export.py (re-export, failed export).
"""

from __future__ import annotations

from xling_tf.export.export_hub import copy_tree, save_atomically

import pytest
import tensorflow as tf

ROOT = "ram://test_export_storage"


class Scale(tf.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = tf.Variable(factor)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def __call__(self, x):
        return x * self.factor


def _saver(factor: float):
    return lambda folder: tf.saved_model.save(Scale(factor), folder)


def _fresh(name: str) -> str:
    folder = f"{ROOT}/{name}"
    if tf.io.gfile.exists(folder):
        tf.io.gfile.rmtree(folder)
    return folder


def _served(path: str) -> float:
    return float(tf.saved_model.load(path)(tf.constant([1.0]))[0])


def test_export_to_a_remote_path_is_loadable_and_replaced_whole():
    folder = _fresh("replace")
    path = f"{folder}/exports/encoder"
    assert save_atomically(_saver(2.0), path) == path
    assert _served(path) == 2.0
    save_atomically(_saver(3.0), path)
    assert _served(path) == 3.0
    # No staging (.tmp-*) or previous (.old-*) folder is left beside the model.
    assert tf.io.gfile.listdir(f"{folder}/exports") in (["encoder"], ["encoder/"])


def test_failed_remote_export_keeps_the_previous_model():
    folder = _fresh("failed")
    path = f"{folder}/encoder"
    save_atomically(_saver(2.0), path)

    def fails_midway(staging: str) -> None:
        _saver(5.0)(staging)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_atomically(fails_midway, path)
    assert _served(path) == 2.0
    assert tf.io.gfile.listdir(folder) in (["encoder"], ["encoder/"])


def test_copy_tree_between_filesystems(tmp_path):
    local = tmp_path / "model"
    _saver(4.0)(str(local))
    remote = _fresh("copy")
    copy_tree(str(local), remote)
    assert _served(remote) == 4.0
    back = tmp_path / "back"
    copy_tree(remote, str(back))
    assert _served(str(back)) == 4.0
