"""Property-based tests for dlcourse.data: balance and determinism of the synthetic sets, the exact
proportions of the stratified split, and IDX files that round-trip or fail with a clear error."""
from __future__ import annotations

import gzip
import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcourse.data import mnist, synthetic

FAST = settings(max_examples=40, deadline=None)
MAKERS = {"blobs": (synthetic.make_blobs, 2), "moons": (synthetic.make_moons, 2),
          "circles": (synthetic.make_circles, 2), "xor": (synthetic.make_xor, 4),
          "spirals": (synthetic.make_spirals, 2)}


@FAST
@given(name=st.sampled_from(sorted(MAKERS)), data=st.data())
def test_synthetic_sets_are_typed_balanced_complete_and_seeded(name, data):
    maker, min_n = MAKERS[name]
    n = data.draw(st.integers(min_n, 300))
    spread = data.draw(st.floats(0.0, 1.0))
    seed = data.draw(st.integers(0, 2**31))
    kwargs = {"std": spread} if name == "blobs" else {"noise": spread}
    X, y = maker(n, seed=seed, **kwargs)
    assert X.shape == (n, 2) and X.dtype == np.float64 and y.shape == (n,) and y.dtype == np.int64
    assert np.all(np.isfinite(X))
    counts = np.bincount(y)
    assert counts.min() >= 1 and counts.max() - counts.min() <= 1
    X2, y2 = maker(n, seed=seed, **kwargs)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


@FAST
@given(n=st.integers(1, 60), k=st.integers(1, 6), data=st.data())
def test_make_blobs_gives_every_centre_its_share(n, k, data):
    if n < max(2, k):
        with pytest.raises(ValueError, match="n must be"):
            synthetic.make_blobs(n, centers=k)
        return
    _, y = synthetic.make_blobs(n, centers=k, seed=data.draw(st.integers(0, 100)))
    np.testing.assert_array_equal(np.bincount(y, minlength=k), [n // k + (i < n % k) for i in range(k)])


@FAST
@given(n=st.integers(4, 200))
def test_noise_free_xor_labels_follow_the_signs(n):
    X, y = synthetic.make_xor(n, noise=0.0)
    np.testing.assert_array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(np.int64))


@st.composite
def label_sets(draw):
    k = draw(st.integers(1, 5))
    y = np.array(draw(st.lists(st.integers(0, k - 1), min_size=2, max_size=80)))
    return y, draw(st.integers(1, len(y) - 1)), draw(st.integers(0, 1000))


@FAST
@given(problem=label_sets(), layout=st.sampled_from(["array", "list", "strided", "reversed", "int8"]))
def test_stratified_split_is_a_partition_with_exact_shares(problem, layout):
    y, test_size, seed = problem
    given_y = {"array": y, "list": y.tolist(), "int8": y.astype(np.int8),
               "strided": np.repeat(y, 2)[::2], "reversed": np.flip(y[::-1].copy())}[layout]
    train, test = mnist.stratified_split(given_y, test_size, seed)
    assert len(test) == test_size and len(train) == len(y) - test_size
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(y)))
    for c in np.unique(y):
        share = np.sum(y == c) * test_size / len(y)
        assert math.floor(share) <= np.sum(y[test] == c) <= math.ceil(share)
    again = mnist.stratified_split(y, test_size, seed)
    np.testing.assert_array_equal(again[0], train)
    np.testing.assert_array_equal(again[1], test)


_CODES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32, 0x0E: np.float64}


def _idx_bytes(values: np.ndarray, code: int) -> bytes:
    header = struct.pack(">BBBB", 0, 0, code, values.ndim) + b"".join(struct.pack(">I", d) for d in values.shape)
    return header + values.astype(values.dtype.newbyteorder(">")).tobytes()


@FAST
@given(code=st.sampled_from(sorted(_CODES)), shape=st.lists(st.integers(0, 4), min_size=1, max_size=3),
       zipped=st.booleans(), seed=st.integers(0, 1000))
def test_read_idx_round_trips_every_type_and_shape(tmp_path_factory, code, shape, zipped, seed):
    values = (np.random.default_rng(seed).normal(size=shape) * 50).astype(_CODES[code])
    payload = _idx_bytes(values, code)
    path = tmp_path_factory.mktemp("idx") / "x"
    path.write_bytes(gzip.compress(payload) if zipped else payload)
    got = mnist.read_idx(path)
    assert got.shape == tuple(shape) and got.dtype == np.dtype(_CODES[code]).newbyteorder("=")
    np.testing.assert_array_equal(got, values)


@FAST
@given(zipped=st.booleans(), cut=st.floats(0.0, 0.999), seed=st.integers(0, 1000))
def test_read_idx_refuses_a_file_cut_anywhere(tmp_path_factory, zipped, cut, seed):
    values = np.random.default_rng(seed).integers(0, 256, size=(3, 5, 5)).astype(np.uint8)
    payload = _idx_bytes(values, 0x08)
    data = gzip.compress(payload) if zipped else payload
    path = tmp_path_factory.mktemp("idx") / "cut"
    path.write_bytes(data[: int(cut * len(data))])
    with pytest.raises(ValueError, match="IDX|gzip|header promises"):
        mnist.read_idx(path)
