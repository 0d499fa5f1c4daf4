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


@pytest.mark.parametrize("kwargs, message", [({"n": 1}, "n must be"), ({"noise": -0.1}, "noise must be")])
def test_synthetic_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthetic.make_moons(**{"n": 10, **kwargs})
