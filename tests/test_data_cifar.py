"""CIFAR-10 loader on small archives the tests write: checksum, cache, layout, clear offline errors."""
from __future__ import annotations

import io
import pickle
import tarfile

import numpy as np
import pytest

from dlcourse.data import DatasetUnavailableError, load_cifar10
from dlcourse.data.mnist import md5sum


def _write_archive(path, n=4, seed=0, corrupt_member=None):
    rng = np.random.default_rng(seed)
    batches = {}
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
            labels = rng.integers(0, 10, n).tolist()
            batches[name] = (data, labels)
            raw = b"not a pickle" if name == corrupt_member else pickle.dumps({b"data": data, b"labels": labels})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return batches


def test_reads_train_and_test_in_height_width_channel_layout(tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    batches = _write_archive(archive)
    spec = (archive.name, md5sum(archive))
    images, labels = load_cifar10("train", root=tmp_path, download=False, archive=spec)
    assert images.shape == (20, 32, 32, 3) and images.dtype == np.uint8 and labels.dtype == np.int64
    first = batches["data_batch_1"][0][0]
    np.testing.assert_array_equal(images[0, :, :, 0].reshape(-1), first[:1024])   # red plane first
    np.testing.assert_array_equal(images[0, 2, 5, 1], first[1024 + 2 * 32 + 5])  # green at row 2, column 5
    np.testing.assert_array_equal(labels[:4], batches["data_batch_1"][1])
    test_images, test_labels = load_cifar10("test", root=tmp_path, download=False, archive=spec)
    assert test_images.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(test_labels, batches["test_batch"][1])


def test_cached_file_is_used_without_any_network(tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    _write_archive(archive)
    spec = (archive.name, md5sum(archive))
    images, _ = load_cifar10("test", root=tmp_path, download=True, mirrors=("http://127.0.0.1:9/",), archive=spec)
    assert len(images) == 4


def test_offline_without_a_cache_says_what_to_do(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="no offline subset") as info:
        load_cifar10("train", root=tmp_path, mirrors=("http://127.0.0.1:9/",))
    assert "by hand" in str(info.value) and "load_mnist_5k" not in str(info.value)


def test_wrong_checksum_and_missing_file_are_errors(tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    _write_archive(archive)
    with pytest.raises(DatasetUnavailableError, match="missing or corrupt"):
        load_cifar10("train", root=tmp_path, download=False, archive=(archive.name, "0" * 32))
    with pytest.raises(DatasetUnavailableError, match="missing or corrupt"):
        load_cifar10("train", root=tmp_path / "elsewhere", download=False)


def test_a_corrupt_member_is_a_value_error(tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    _write_archive(archive, corrupt_member="test_batch")
    with pytest.raises(ValueError, match="not a readable CIFAR-10 archive"):
        load_cifar10("test", root=tmp_path, download=False, archive=(archive.name, md5sum(archive)))


@pytest.mark.parametrize("kwargs, words", [({"split": "val"}, "split"), ({"download": 1}, "download"),
                                           ({"root": 3}, "root")])
def test_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        load_cifar10(**kwargs)
