import gzip
import hashlib
import struct

import numpy as np
import pytest

from dlcourse import data
from dlcourse.data import mnist, synthetic


def test_mnist_5k_split_is_stratified_and_scaled():
    X_train, y_train, X_test, y_test = data.load_mnist_5k(test_size=1000, seed=0)
    assert X_train.shape == (4000, 784) and X_test.shape == (1000, 784)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0.0 <= X_train.min() and X_train.max() == pytest.approx(1.0)
    assert np.bincount(y_test, minlength=10).tolist() == [100] * 10
    assert np.bincount(y_train, minlength=10).tolist() == [400] * 10


def test_mnist_5k_train_and_test_do_not_overlap_and_depend_on_seed():
    X_train, _, X_test, _ = data.load_mnist_5k(seed=0)
    train_rows = {row.tobytes() for row in X_train}
    assert sum(row.tobytes() in train_rows for row in X_test) <= 5  # MNIST has a few exact duplicates
    _, _, X_test_other, _ = data.load_mnist_5k(seed=1)
    assert not np.array_equal(X_test, X_test_other)


def test_stratified_split_rejects_bad_test_size():
    with pytest.raises(ValueError, match="test_size"):
        mnist.stratified_split(np.arange(10) % 2, test_size=10)


def _write_idx(path, array, type_code):
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    with gzip.open(path, "wb") as handle:
        handle.write(payload)
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def tiny_mnist(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    labels = np.arange(6, dtype=np.uint8)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    files = {"train": (("img.gz", _write_idx(mirror / "img.gz", images, 0x08)),
                       ("lab.gz", _write_idx(mirror / "lab.gz", labels, 0x08)))}
    return images, labels, mirror, files


def test_read_idx_round_trips_other_dtypes(tmp_path):
    values = np.arange(12, dtype=np.int32).reshape(3, 4) - 5
    _write_idx(tmp_path / "x.gz", values, 0x0C)
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / "x.gz"), values)


def test_read_idx_rejects_a_truncated_file(tmp_path):
    path = tmp_path / "bad.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(struct.pack(">BBBBI", 0, 0, 8, 1, 10) + b"\x00" * 3)
    with pytest.raises(ValueError, match="header promises shape"):
        mnist.read_idx(path)
    (tmp_path / "text").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not an IDX file"):
        mnist.read_idx(tmp_path / "text")


def test_load_mnist_downloads_checks_and_caches(tiny_mnist, tmp_path):
    images, labels, mirror, files = tiny_mnist
    root = tmp_path / "cache"
    got_images, got_labels = data.load_mnist("train", root=root, mirrors=[mirror.as_uri() + "/"], files=files)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert got_labels.dtype == np.int64
    # Second call reads the cache: the mirror is gone.
    for f in mirror.iterdir():
        f.unlink()
    again, _ = data.load_mnist("train", root=root, mirrors=[mirror.as_uri() + "/"], files=files, download=False)
    np.testing.assert_array_equal(again, images)
    assert not [p for p in root.iterdir() if p.name.startswith(".")], "temporary files were left behind"


def test_load_mnist_rejects_a_corrupt_download(tiny_mnist, tmp_path):
    _, _, mirror, files = tiny_mnist
    wrong = {"train": (("img.gz", "0" * 32), files["train"][1])}
    with pytest.raises(data.DatasetUnavailableError, match="checksum mismatch"):
        data.load_mnist("train", root=tmp_path / "c", mirrors=[mirror.as_uri() + "/"], files=wrong)
    assert not (tmp_path / "c" / "img.gz").exists()


def test_load_mnist_offline_error_says_what_to_do(tmp_path):
    with pytest.raises(data.DatasetUnavailableError, match=r"offline.*load_mnist_5k"):
        data.load_mnist("test", root=tmp_path, mirrors=["http://127.0.0.1:9/"])
    with pytest.raises(data.DatasetUnavailableError, match="download=False"):
        data.load_mnist("test", root=tmp_path, download=False)
    with pytest.raises(ValueError, match="split must be one of"):
        data.load_mnist("validation", root=tmp_path)


@pytest.mark.parametrize("maker", [synthetic.make_blobs, synthetic.make_moons, synthetic.make_circles,
                                   synthetic.make_xor, synthetic.make_spirals])
def test_synthetic_sets_are_seeded_balanced_and_typed(maker):
    X, y = maker(101, seed=3)
    X2, y2 = maker(101, seed=3)
    assert X.shape == (101, 2) and X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(X, X2)
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1
    assert not np.array_equal(X, maker(101, seed=4)[0])


def test_xor_labels_follow_the_sign_rule_without_noise():
    X, y = synthetic.make_xor(40, noise=0.0)
    np.testing.assert_array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(int))


def test_circles_radii_without_noise():
    X, y = synthetic.make_circles(50, noise=0.0, factor=0.3)
    radius = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(radius[y == 0], 1.0)
    np.testing.assert_allclose(radius[y == 1], 0.3)


# ------------------------------------------------------------------ regressions: each failed on the old code


@pytest.mark.parametrize("n", [6, 10, 14, 102])
def test_make_xor_is_balanced_for_every_n(n):
    _, y = synthetic.make_xor(n)
    assert abs(int(np.sum(y == 0)) - int(np.sum(y == 1))) <= 1  # the old code gave 4 / 2 for n = 6


def test_make_xor_keeps_its_output_where_it_was_balanced():
    # Only n = 4k + 2 changed; the default n = 200 used by the chapters is the same draw as before.
    X, y = synthetic.make_xor(8, noise=0.0)
    np.testing.assert_array_equal(X, [[-1, -1], [-1, -1], [1, 1], [1, 1], [-1, 1], [-1, 1], [1, -1], [1, -1]])
    np.testing.assert_array_equal(y, [0, 0, 0, 0, 1, 1, 1, 1])


def test_make_blobs_error_names_std():
    with pytest.raises(ValueError, match="^std must be"):
        synthetic.make_blobs(10, std=-1.0)  # the old message said "noise must be"


def test_make_blobs_gives_every_centre_a_point():
    with pytest.raises(ValueError, match="n must be an integer >= 5"):
        synthetic.make_blobs(3, centers=5)  # the old code returned classes 3 and 4 empty
    with pytest.raises(ValueError, match="centers must be a count"):
        synthetic.make_blobs(10, centers=2.0)
    with pytest.raises(ValueError, match="centers must be finite"):
        synthetic.make_blobs(10, centers=[[0.0, 0.0], [np.nan, 1.0]])  # old: NaN points
    with pytest.raises(ValueError, match="centers must hold real numbers"):
        synthetic.make_blobs(10, centers=np.ones((2, 2), dtype=bool))


def test_stratified_split_refuses_fractions_float_labels_and_matrices():
    y = np.arange(20) % 4
    with pytest.raises(ValueError, match="not a fraction"):
        mnist.stratified_split(y, 0.25)  # old: TypeError from slicing with a float
    with pytest.raises(ValueError, match="y must hold integers"):
        mnist.stratified_split(y.astype(float), 5)
    with pytest.raises(ValueError, match="y must be 1-dimensional"):
        mnist.stratified_split(y[:, None], 5)
    with pytest.raises(ValueError, match="test_size"):
        mnist.stratified_split(y, True)  # old: a split with one test example
    with pytest.raises(ValueError, match="seed must be"):
        mnist.stratified_split(y, 5, seed=1.5)  # old: numpy's TypeError


def _idx_payload(values, type_code):
    header = struct.pack(">BBBB", 0, 0, type_code, values.ndim) + b"".join(struct.pack(">I", d) for d in values.shape)
    return header + values.astype(values.dtype.newbyteorder(">")).tobytes()


def test_read_idx_says_the_header_is_truncated(tmp_path):
    path = tmp_path / "short.idx"
    path.write_bytes(struct.pack(">BBBB", 0, 0, 8, 3) + b"\x00\x00\x00\x02")  # 3 dims, one size given
    with pytest.raises(ValueError, match="truncated IDX header"):
        mnist.read_idx(path)  # old: "header promises shape (2, 0, 0) (0 bytes), file has -4"


def test_read_idx_turns_a_broken_gzip_stream_into_a_value_error(tmp_path):
    good = gzip.compress(_idx_payload(np.arange(100, dtype=np.uint8), 0x08))
    (tmp_path / "cut.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        mnist.read_idx(tmp_path / "cut.gz")  # old: EOFError
    (tmp_path / "bad.gz").write_bytes(good[:10] + b"\xff" * 20 + good[30:])
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        mnist.read_idx(tmp_path / "bad.gz")  # old: zlib.error or BadGzipFile


def test_read_idx_reads_the_content_not_the_file_name(tmp_path):
    values = np.arange(6, dtype=np.uint8).reshape(2, 3)
    (tmp_path / "zipped").write_bytes(gzip.compress(_idx_payload(values, 0x08)))
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / "zipped"), values)  # old: "not an IDX file"
    (tmp_path / "plain.gz").write_bytes(_idx_payload(values, 0x08))
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / "plain.gz"), values)  # old: BadGzipFile
    with pytest.raises(ValueError, match="path must be a str"):
        mnist.read_idx(3)


def test_load_mnist_refuses_images_that_are_not_bytes(tmp_path):
    images = np.full((2, 28, 28), 300, dtype=np.int32)
    labels = np.arange(2, dtype=np.uint8)
    files = {"train": (("img.gz", _write_idx(tmp_path / "img.gz", images, 0x0C)),
                       ("lab.gz", _write_idx(tmp_path / "lab.gz", labels, 0x08)))}
    with pytest.raises(ValueError, match="unsigned bytes"):
        data.load_mnist("train", root=tmp_path, download=False, files=files)  # old: 300 wrapped to 44


_BAD_CALLS = [
    (lambda: synthetic.make_moons(1), "n must be an integer >= 2"),
    (lambda: synthetic.make_moons(10.0), "n must be an integer"),
    (lambda: synthetic.make_moons(True), "n must be an integer"),
    (lambda: synthetic.make_moons(10, noise=-0.1), "noise must be"),
    (lambda: synthetic.make_moons(10, noise=np.nan), "noise must be"),
    (lambda: synthetic.make_moons(10, noise="0.1"), "noise must be"),
    (lambda: synthetic.make_moons(10, seed=-1), "seed must be"),
    (lambda: synthetic.make_circles(10, factor=1.0), "factor must be"),
    (lambda: synthetic.make_circles(10, factor="half"), "factor must be"),
    (lambda: synthetic.make_circles(10, noise=np.inf), "noise must be"),
    (lambda: synthetic.make_xor(3), "n must be an integer >= 4"),
    (lambda: synthetic.make_xor(10, seed="a"), "seed must be"),
    (lambda: synthetic.make_spirals(10, turns=0.0), "turns must be"),
    (lambda: synthetic.make_spirals(10, turns=np.nan), "turns must be"),
    (lambda: synthetic.make_blobs(10, centers=0), "centers must be an integer >= 1"),
    (lambda: synthetic.make_blobs(10, centers=True), "centers must be a count"),
    (lambda: synthetic.make_blobs(10, centers=np.zeros((2, 3))), "centers must have shape"),
    (lambda: synthetic.make_blobs(10, std=np.nan), "std must be"),
    (lambda: mnist.stratified_split(np.arange(10) % 2, test_size=10), "test_size"),
    (lambda: mnist.stratified_split(np.arange(10) % 2, test_size=0), "test_size"),
    (lambda: mnist.stratified_split([1], test_size=1), "at least 2 labels"),
    (lambda: mnist.stratified_split(["a", "b", "a"], test_size=1), "y must"),
    (lambda: data.load_mnist_5k(test_size=5000), "test_size"),
    (lambda: data.load_mnist_5k(test_size=0.2), "not a fraction"),
    (lambda: data.load_mnist_5k(seed=-1), "seed must be"),
    (lambda: data.load_mnist(["train"]), "split must be one of"),
    (lambda: data.load_mnist("train", download="no"), "download must be"),
    (lambda: data.load_mnist("train", root=5, download=False), "root must be"),
    (lambda: data.read_idx(None), "path must be"),
]


@pytest.mark.parametrize("call, message", _BAD_CALLS)
def test_invalid_inputs_raise_value_errors_naming_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()
