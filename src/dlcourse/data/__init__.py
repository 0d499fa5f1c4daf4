"""Datasets: offline ones for CPU mode, real downloads (with checksums and a cache) for GPU mode."""
from .cifar import load_cifar10
from .mnist import DatasetUnavailableError, load_mnist, load_mnist_5k, read_idx, stratified_split
from .scenes import SCENE_CLASSES, Scenes, boxes_from_instances, make_scenes
from .synthetic import make_blobs, make_circles, make_moons, make_spirals, make_xor
from .text import Vocabulary, load_python_docs, load_wikitext2, python_docs, tokenize

__all__ = [
    "DatasetUnavailableError", "load_cifar10", "load_mnist", "load_mnist_5k", "read_idx", "stratified_split",
    "make_blobs", "make_circles", "make_moons", "make_spirals", "make_xor",
    "SCENE_CLASSES", "Scenes", "boxes_from_instances", "make_scenes",
    "Vocabulary", "load_python_docs", "load_wikitext2", "python_docs", "tokenize",
]
