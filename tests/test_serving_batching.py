"""TF Serving server-side batching: `batching_parameters.txt` and the warmup batch sizes.

No TF Serving binary can be installed here, so the file is parsed with TF Serving's own
`BatchingParameters` message (`export_cases.parse_batching_parameters`): a misspelt field or a
wrong type fails the parse as it would fail the server's start.
"""

from __future__ import annotations

from xling_tf.export import serving

import pytest
from export_cases import parse_batching_parameters


def test_batching_parameters_parse_as_tf_serving_reads_them():
    batching = serving.ServerBatching(
        max_batch_size=48, batch_timeout_micros=500, num_batch_threads=3, max_enqueued_batches=8
    )
    parsed = parse_batching_parameters(batching.to_text())
    assert parsed.max_batch_size.value == 48
    assert parsed.batch_timeout_micros.value == 500
    assert parsed.num_batch_threads.value == 3
    assert parsed.max_enqueued_batches.value == 8
    # TF Serving's rules: increasing, and the last one equals max_batch_size.
    assert list(parsed.allowed_batch_sizes) == [1, 2, 4, 8, 16, 32, 48]
    assert parsed.pad_variable_length_inputs is False


def test_defaults_and_power_of_two_maximum():
    batching = serving.ServerBatching()
    assert batching.allowed_batch_sizes == (1, 2, 4, 8, 16, 32, 64)
    assert batching.num_batch_threads >= 1
    assert serving.ServerBatching(max_batch_size=1).allowed_batch_sizes == (1,)


@pytest.mark.parametrize(
    "bad",
    [
        {"max_batch_size": 0},
        {"num_batch_threads": 0},
        {"batch_timeout_micros": -1},
        {"max_batch_size": 2.5},
    ],
)
def test_bad_batching_values_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        serving.ServerBatching(**bad)


def test_warmup_batches_cover_every_allowed_size_with_real_sentences():
    sizes = serving.ServerBatching(max_batch_size=32).allowed_batch_sizes
    batches = serving.warmup_batches(sizes)
    assert [len(batch) for batch in batches] == list(sizes)
    assert all(text for batch in batches for text in batch)
    # Long and short sentences, several scripts: the shapes a live server sees.
    lengths = {len(text) for batch in batches for text in batch}
    assert min(lengths) <= 5 and max(lengths) >= 80
    assert [len(batch) for batch in serving.WARMUP_BATCHES] == [1, 2, 4, 8, 16, 32, 64]


def test_write_batching_parameters_replaces_the_file(tmp_path):
    path = serving.write_batching_parameters(str(tmp_path), serving.ServerBatching(8))
    assert path == str(tmp_path / "batching_parameters.txt")
    assert parse_batching_parameters(open(path).read()).max_batch_size.value == 8
    serving.write_batching_parameters(str(tmp_path), serving.ServerBatching(16))
    assert parse_batching_parameters(open(path).read()).max_batch_size.value == 16
    assert sorted(p.name for p in tmp_path.iterdir()) == ["batching_parameters.txt"]
