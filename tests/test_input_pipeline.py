"""The index-based training input: seqio's packed layout, O(1) resume, per-epoch order and re-draws,
per-process rows that equal slices of the global batch."""

import dataclasses
from collections import Counter

import numpy as np
import pytest

from snitk.errors import ConfigError
from snitk.training.data import InputPipeline, local_rows, to_global_arrays
from snitk.training.data_order import DataOrder, cursors_from_state, position_state
from snitk.training.packing import PACKED_KEYS, UNPACKED_KEYS
from snitk.training.sources import ArraySource, SelectionSource
from snitk.vocab import get_vocabulary

LENGTHS = {"inputs": 256, "targets": 32}


@pytest.fixture(scope="module")
def demo_source() -> SelectionSource:
    return SelectionSource.from_corpus("tasks", "default", "tk_mix", get_vocabulary(), LENGTHS, max_train_per_task=8)


def _random_examples(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = np.append(rng.integers(3, 100, size=int(rng.integers(1, 14))), 1)
        y = np.append(rng.integers(3, 100, size=int(rng.integers(1, 7))), 1)
        out.append({"inputs": x.astype(np.int32), "targets": y.astype(np.int32)})
    return out


class _Counting:
    """A source that counts the examples it builds."""

    def __init__(self, source):
        self.source, self.calls = source, 0

    def __len__(self):
        return len(self.source)

    def example(self, index, epoch, seed):
        self.calls += 1
        return self.source.example(index, epoch, seed)


@pytest.mark.parametrize("pack", [True, False])
def test_rows_match_seqio_feature_converter(pack):
    """One row stream, packed or not, is what seqio's EncDecFeatureConverter makes of the same examples."""
    import seqio
    import tensorflow as tf

    examples = _random_examples(40)
    lengths = {"inputs": 24, "targets": 12}
    pipe = InputPipeline(ArraySource(examples), lengths, 1, shuffle=False, pack=pack)
    ours = [next(pipe) for _ in range(6)]
    ds = tf.data.Dataset.from_generator(lambda: iter(examples), output_signature={
        k: tf.TensorSpec([None], tf.int32) for k in ("inputs", "targets")})
    ref = list(seqio.EncDecFeatureConverter(pack=pack)(ds, lengths).take(6).as_numpy_iterator())
    assert set(ours[0]) == set(PACKED_KEYS if pack else UNPACKED_KEYS) == set(ref[0])
    for a, b in zip(ours, ref):
        for k in b:
            np.testing.assert_array_equal(a[k][0], b[k], err_msg=k)
    if pack:
        assert max(int(r["encoder_segment_ids"].max()) for r in ours) > 1  # rows really hold several examples


@pytest.mark.parametrize("pack", [True, False])
def test_resume_from_saved_position_continues_and_builds_nothing_twice(demo_source, pack):
    ref = InputPipeline(demo_source, LENGTHS, 6, seed=3, pack=pack)
    for _ in range(5):
        next(ref)
    saved = position_state(ref.global_cursors())
    expected = [next(ref) for _ in range(3)]

    counting = _Counting(demo_source)
    resumed = InputPipeline(counting, LENGTHS, 6, seed=3, pack=pack,
                            cursors=cursors_from_state(saved, 6, step=5))
    got = [next(resumed) for _ in range(3)]
    for a, b in zip(got, expected):
        for k in b:
            np.testing.assert_array_equal(a[k], b[k])
    # restoring costs what starting does: the same number of examples is built for 3 steps either way
    fresh = _Counting(demo_source)
    start = InputPipeline(fresh, LENGTHS, 6, seed=3, pack=pack)
    for _ in range(3):
        next(start)
    assert abs(counting.calls - fresh.calls) <= 6


def test_rows_of_a_process_are_slices_of_the_global_batch(demo_source):
    full = InputPipeline(demo_source, LENGTHS, 8, seed=1)
    parts = [InputPipeline(demo_source, LENGTHS, 8, seed=1, rows=rows) for rows in ([0, 1, 2], [3, 4], [5, 6, 7])]
    for _ in range(3):
        whole = next(full)
        pieces = [next(p) for p in parts]
        for k in whole:
            np.testing.assert_array_equal(np.concatenate([p[k] for p in pieces]), whole[k])


def test_each_epoch_is_a_fresh_permutation_of_every_example():
    order = DataOrder(50, seed=7)
    epochs = [order.permutation(e) for e in range(3)]
    for perm in epochs:
        assert sorted(perm.tolist()) == list(range(50))
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    np.testing.assert_array_equal(DataOrder(50, seed=7).permutation(1), epochs[1])  # a function of (seed, epoch)
    with pytest.raises(ConfigError, match="no examples"):
        DataOrder(0, seed=7)
    assert not np.array_equal(DataOrder(50, seed=8).permutation(0), epochs[0])
    # unpacked rows read every example exactly once per epoch
    examples = _random_examples(48)
    for i, ex in enumerate(examples):
        ex["inputs"][0] = 200 + i  # the example's index, readable from the batch
    pipe = InputPipeline(ArraySource(examples), {"inputs": 16, "targets": 8}, 8, seed=7, pack=False)
    seen = np.concatenate([next(pipe)["encoder_input_tokens"][:, 0] for _ in range(12)]) - 200
    assert Counter(seen[:48].tolist()) == Counter(range(48)) == Counter(seen[48:].tolist())
    assert seen[:48].tolist() != seen[48:].tolist()


def test_encoding_and_reference_are_redrawn_per_epoch_and_seeded(demo_source):
    task, inst = demo_source.entries[0]
    multi = dataclasses.replace(inst, output=["alpha", "beta", "gamma", "delta"])
    src = SelectionSource([(task, multi)] + demo_source.entries[1:], "tk_mix", demo_source.vocab, LENGTHS)
    draws = [src.draw(0, epoch, seed=0) for epoch in range(30)]
    assert len({enc.name for enc, _ in draws}) > 1
    assert {t for _, t in draws} == {"alpha", "beta", "gamma", "delta"}
    assert [src.draw(0, e, seed=0) for e in range(30)] == draws  # reproducible, hence resumable
    assert [src.draw(0, e, seed=1) for e in range(30)] != draws
    test_src = SelectionSource([(task, multi)], "tk_mix", demo_source.vocab, LENGTHS, redraw=False)
    assert {test_src.draw(0, e, seed=0) for e in range(5)} == {test_src.draw(0, 0, seed=0)}  # evaluation: fixed


def test_selection_source_reads_the_registered_selection():
    """Same examples, order and texts as the seqio task of that name (stable draws on the test split)."""
    import snitk.tasks as tasks
    from snitk.training.data import make_source

    name = tasks.register("default", "def_pos2", max_train_per_task=3)
    sel = tasks.registered_selection(name)
    for split in ("train", "test"):
        src = make_source(name, LENGTHS, split=split)
        rows = list(tasks.iter_examples(sel, split))
        assert [(t.name, i.id) for t, i in src.entries] == [(r["task"], r["id"]) for r in rows]
    assert [src.text(i, 0, 0)["inputs"] for i in range(20)] == [r["inputs"] for r in rows[:20]]
    assert [src.text(i, 0, 0)["targets"] for i in range(20)] == [r["targets"] for r in rows[:20]]
    seq_vocab = tasks.vocabulary()
    ex = src.example(4, 0, 0)
    assert ex["inputs"].tolist() == (list(seq_vocab.encode(rows[4]["inputs"]))[:255] + [1])


def test_mixture_reads_its_tasks_back_to_back_and_rejects_other_rates():
    import seqio

    import snitk.tasks as tasks
    from snitk.training.data import make_source

    a = tasks.register("default", "def", max_train_per_task=2)
    b = tasks.register("default", "pos2", max_train_per_task=2)
    for name, rates in (("poddata_mix_equal", [(a, 1.0), (b, 1.0)]), ("poddata_mix_skewed", [(a, 1.0), (b, 3.0)])):
        if name not in seqio.MixtureRegistry.names():
            seqio.MixtureRegistry.add(name, rates)
    src = make_source("poddata_mix_equal", LENGTHS)
    assert len(src) == 2 * len(make_source(a, LENGTHS))
    with pytest.raises(ConfigError, match="not proportional"):
        make_source("poddata_mix_skewed", LENGTHS)


def test_saved_positions_map_back_to_cursors():
    assert cursors_from_state(position_state([3, 4, 5]), 3, step=9) == [3, 4, 5]
    assert cursors_from_state(7, 3, step=9) == [7, 7, 7]  # older checkpoints: steps consumed
    assert cursors_from_state(position_state([3, 4, 5]), 4, step=9) == [3, 3, 3, 3]  # batch size changed
    from snitk.errors import CheckpointError

    with pytest.raises(CheckpointError, match="row_cursors"):
        cursors_from_state({"version": 1}, 3, step=9)


def test_local_rows_place_onto_the_mesh():
    import jax
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.array(jax.devices()).reshape(4, 2), ("data", "model"))
    sharding = NamedSharding(mesh, PartitionSpec("data"))
    rows = local_rows(sharding, 8)
    assert rows == list(range(8))  # one process holds every row
    batch = {"x": np.arange(8 * 3).reshape(8, 3)}
    placed = to_global_arrays({"x": batch["x"][rows]}, sharding, rows, 8)["x"]
    np.testing.assert_array_equal(np.asarray(placed), batch["x"])
    with pytest.raises(KeyError):  # every local device needs its rows: a process must build them all
        to_global_arrays({"x": batch["x"][[2, 3]]}, sharding, [2, 3], 8)
