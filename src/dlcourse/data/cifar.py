"""CIFAR-10 for GPU mode: downloaded once, checked against its MD5 sum, cached, read without torchvision.

The archive ``cifar-10-python.tar.gz`` (Krizhevsky 2009) holds five training batches and one test
batch, each a pickled dict with b"data" (10,000 x 3,072 uint8, channel-major) and b"labels".
There is no offline subset: without a network and without the cached file the loader says so.
"""
from __future__ import annotations

import os
import pickle
import tarfile
from pathlib import Path
from typing import Sequence

import numpy as np

from ..validation import check_choice
from .mnist import DatasetUnavailableError, default_root, fetch, md5sum

MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
ARCHIVE = ("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")
BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _read_batches(archive: Path, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            for name in names:
                if name not in members:
                    raise ValueError(f"{archive}: no member {name!r} (found {sorted(members)})")
                batch = pickle.load(tar.extractfile(members[name]), encoding="bytes")  # checksum verified
                images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
                labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    except (tarfile.TarError, EOFError, OSError, pickle.UnpicklingError, KeyError) as err:
        raise ValueError(f"{archive}: not a readable CIFAR-10 archive ({type(err).__name__}: {err})") from None
    return np.concatenate(images).transpose(0, 2, 3, 1).copy(), np.concatenate(labels)


def load_cifar10(split: str = "train", root: str | Path | None = None, download: bool = True,
                 mirrors: Sequence[str] = MIRRORS, archive: tuple[str, str] = ARCHIVE):
    """The CIFAR-10 ``split`` ("train": 50,000 images, "test": 10,000) as (images, labels).

    images: (N, 32, 32, 3) uint8 (height, width, RGB), labels: (N,) int64 in 0..9 (see ``CLASSES``).
    The archive (163 MB) is cached under ``root`` (default ``default_root() / "cifar10"``); with
    ``download=False`` a missing or corrupt file is an error.
    """
    check_choice(split, "split", sorted(BATCHES))
    if not isinstance(download, bool):
        raise ValueError(f"download must be True or False, got {download!r}")
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise ValueError(f"root must be None, a str or a pathlib.Path, got {type(root).__name__} {root!r}")
    root = Path(root) if root is not None else default_root() / "cifar10"
    filename, md5 = archive
    if download:
        try:
            path = fetch(filename, md5, root, mirrors)
        except DatasetUnavailableError as err:  # fetch's advice names the MNIST subset: CIFAR-10 has none
            tried = str(err).split("\nDownload it by hand")[0]
            raise DatasetUnavailableError(
                f"{tried}\nDownload {filename} by hand from {mirrors[0] if mirrors else 'a mirror'} into {root} "
                "(or set DLCOURSE_DATA to a folder whose cifar10/ has it). CIFAR-10 has no offline subset: "
                "benchmarks/gpu_sections.py --offline times the recipe on random images instead.") from None
    elif (root / filename).exists() and md5sum(root / filename) == md5:
        path = root / filename
    else:
        raise DatasetUnavailableError(f"{root / filename} is missing or corrupt and download=False")
    images, labels = _read_batches(path, BATCHES[split])
    if len(images) != len(labels) or (labels.size and (labels.min() < 0 or labels.max() > 9)):
        raise ValueError(f"CIFAR-10 batches disagree: {len(images)} images, {len(labels)} labels in "
                         f"{labels.min(initial=0)}..{labels.max(initial=0)}")
    return images, labels
