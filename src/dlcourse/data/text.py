"""Text for the sequence chapters: an offline English corpus, a tokenizer and a vocabulary.

CPU mode reads the help texts that ship with CPython (``pydoc_data.topics``: about 80 documents,
some 460,000 characters of English prose with code examples), so it never touches the network. The
split is by document, so validation and test text is never seen in training. GPU mode downloads
WikiText-2 (Merity et al. 2016, about 2 million words of Wikipedia), checks its MD5 sum and caches it.
The help texts change a little between Python versions: counts measured on one version are not
guaranteed on another.
"""
from __future__ import annotations

import os
import re
import zipfile
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..validation import as_int_array, as_rng, check_choice, check_float, check_int
from .mnist import DatasetUnavailableError, default_root, fetch

SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
SPLITS = ("train", "validation", "test")
WIKITEXT2_MIRRORS = (
    "https://s3.amazonaws.com/research.metamind.io/wikitext/",
    "https://web.archive.org/web/2019id_/https://s3.amazonaws.com/research.metamind.io/wikitext/",
)
WIKITEXT2 = ("wikitext-2-v1.zip", "542ccefacc6c27f945fb54453812b3cd")
_WIKITEXT2_MEMBERS = {"train": "wiki.train.tokens", "validation": "wiki.valid.tokens", "test": "wiki.test.tokens"}
_WORD = re.compile(r"[^\W\d]\w*(?:'\w+)?|\d+|([^\w\s])\1*")  # names, numbers, runs of one symbol


def python_docs() -> dict[str, str]:
    """The CPython help texts (``pydoc_data.topics``) as {topic: text}, sorted by topic."""
    try:
        from pydoc_data.topics import topics
    except ImportError as err:  # some distributions strip it; the course then needs WikiText-2
        raise DatasetUnavailableError(f"this Python has no pydoc_data.topics ({err}); use load_wikitext2()") from None
    return {name: topics[name] for name in sorted(topics)}


def split_documents(lengths: Sequence[int], validation: float = 0.1, test: float = 0.1,
                    seed: int | np.random.Generator = 0) -> dict[str, np.ndarray]:
    """Assign whole documents to train / validation / test so that each part holds about its share of text.

    Documents are shuffled with ``seed``; test then validation take documents in that order until they
    hold at least ``test`` / ``validation`` of all characters, and the rest is train. Returns sorted
    document indices per split; every split gets at least one document.
    """
    lengths = as_int_array(lengths, "lengths", ndim=1)
    if len(lengths) < 3 or (lengths < 0).any():
        raise ValueError(f"lengths must hold at least 3 non-negative document lengths, got {lengths.tolist()[:10]}")
    validation = check_float(validation, "validation", minimum=0.0, maximum=0.5)
    test = check_float(test, "test", minimum=0.0, maximum=0.5)
    order, total = as_rng(seed).permutation(len(lengths)), max(int(lengths.sum()), 1)
    parts, start = {}, 0
    for name, share, reserve in (("test", test, 2), ("validation", validation, 1)):  # reserve: later parts
        stop, held = start + 1, int(lengths[order[start]])
        while held < share * total and stop < len(order) - reserve:
            held += int(lengths[order[stop]])
            stop += 1
        parts[name], start = np.sort(order[start:stop]), stop
    parts["train"] = np.sort(order[start:])
    return {name: parts[name] for name in SPLITS}


def load_python_docs(split: str = "train", validation: float = 0.1, test: float = 0.1,
                     seed: int = 0) -> str:
    """The text of one split of the CPython help texts: its documents joined by blank lines."""
    split = check_choice(split, "split", SPLITS)
    docs = list(python_docs().values())
    parts = split_documents([len(d) for d in docs], validation, test, seed)
    return "\n\n".join(docs[i].strip() for i in parts[split])


def tokenize(text: str, level: str = "word") -> list[str]:
    """Split ``text`` into tokens: characters (``level="char"``), or lower-cased words.

    Words: names (a letter or underscore, then letters, digits, underscores: "__init__" and "utf8" stay
    whole; one inner apostrophe, "don't"), runs of digits, and every other non-space character on its own, a run of the
    same one as one token ("x[0]" -> "x", "[", "0", "]"; "*****" -> "*****"). Whitespace is dropped, so
    the word level does not round-trip exactly; the character level does.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    level = check_choice(level, "level", ("word", "char"))
    return list(text) if level == "char" else [m.group(0) for m in _WORD.finditer(text.lower())]


class Vocabulary:
    """A token <-> id map: the special tokens first, then tokens by falling count (ties alphabetical).

    ``min_count`` drops rarer tokens and ``max_size`` caps the total size (specials included); a token
    outside the vocabulary encodes to ``<unk>``. ``specials`` must contain "<unk>".
    """

    def __init__(self, tokens: Iterable[str], min_count: int = 1, max_size: int | None = None,
                 specials: Sequence[str] = SPECIALS) -> None:
        specials = _check_tokens(specials, "specials")
        if "<unk>" not in specials or len(set(specials)) != len(specials):
            raise ValueError(f"specials must be distinct strings including '<unk>', got {specials}")
        counts = Counter(_check_tokens(tokens, "tokens"))
        min_count = check_int(min_count, "min_count", minimum=1)
        if max_size is not None:
            max_size = check_int(max_size, "max_size", minimum=len(specials))
        kept = sorted((t for t, c in counts.items() if c >= min_count and t not in specials),
                      key=lambda t: (-counts[t], t))
        self.specials: tuple[str, ...] = tuple(specials)  # ids 0 .. len(specials) - 1
        self.itos: tuple[str, ...] = tuple(specials) + tuple(kept[: None if max_size is None
                                                                   else max_size - len(specials)])
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        self.counts: dict[str, int] = {t: counts.get(t, 0) for t in self.itos}
        self.unk_id = self.stoi["<unk>"]

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens: {', '.join(self.itos[:8])}{', ...' if len(self) > 8 else ''})"

    def id(self, name: str) -> int:
        """The id of a special or ordinary token (an error, not <unk>, for a token that is missing)."""
        if name not in self.stoi:
            raise ValueError(f"{name!r} is not in this vocabulary")
        return self.stoi[name]

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """The ids of ``tokens`` (unknown ones -> the id of "<unk>"), as an (L,) int64 array."""
        tokens = _check_tokens(tokens, "tokens")
        return np.array([self.stoi.get(t, self.unk_id) for t in tokens], dtype=np.int64)

    def decode(self, ids) -> list[str]:
        """The tokens of integer ``ids`` (any shape, flattened), each in 0..len(self)-1."""
        if isinstance(ids, (list, tuple)) and not ids:  # NumPy reads [] as float64
            return []
        ids = as_int_array(ids, "ids").ravel()
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"ids must lie in 0..{len(self) - 1}, got values from {ids.min()} to {ids.max()}")
        return [self.itos[i] for i in ids]


def _check_tokens(tokens: Iterable[str], name: str) -> list[str]:
    if isinstance(tokens, str):
        raise ValueError(f"{name} must be a sequence of strings (tokens), not one str: tokenize() it first")
    try:
        tokens = list(tokens)
    except TypeError:
        raise ValueError(f"{name} must be an iterable of strings, got {type(tokens).__name__}") from None
    bad = [t for t in tokens if not isinstance(t, str)]
    if bad:
        raise ValueError(f"{name} must hold strings only, got a {type(bad[0]).__name__} ({bad[0]!r})")
    return tokens


def load_wikitext2(split: str = "train", root: str | Path | None = None, download: bool = True,
                   mirrors: Sequence[str] = WIKITEXT2_MIRRORS, archive: tuple[str, str] = WIKITEXT2) -> str:
    """One split of WikiText-2 (the tokenised v1 release, rare words already ``<unk>``) as a str.

    The 4.5 MB archive is downloaded once, checked against its MD5 sum and cached under ``root``
    (default ``default_root() / "wikitext2"``); with ``download=False`` a missing file is an error.
    """
    split = check_choice(split, "split", SPLITS)
    if not isinstance(download, bool):
        raise ValueError(f"download must be True or False, got {download!r}")
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise ValueError(f"root must be None, a str or a pathlib.Path, got {type(root).__name__} {root!r}")
    root = Path(root) if root is not None else default_root() / "wikitext2"
    filename, md5 = archive
    try:
        path = fetch(filename, md5, root, mirrors) if download else _cached(root / filename, md5)
    except DatasetUnavailableError as err:  # fetch's advice names the MNIST subset: say what text CPU mode uses
        raise DatasetUnavailableError(str(err).split("\nDownload it by hand")[0]
                                      + f"\nDownload it by hand into {root}, or use the offline corpus "
                                        "dlcourse.data.load_python_docs().") from None
    try:
        with zipfile.ZipFile(path) as zf:
            names = {Path(n).name: n for n in zf.namelist()}
            member = _WIKITEXT2_MEMBERS[split]
            if member not in names:
                raise ValueError(f"{path}: no member {member!r} (found {sorted(names)})")
            return zf.read(names[member]).decode("utf-8")
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable WikiText-2 archive ({type(err).__name__}: {err})") from None


def _cached(path: Path, md5: str) -> Path:
    from .mnist import md5sum

    if path.exists() and md5sum(path) == md5:
        return path
    raise DatasetUnavailableError(f"{path} is missing or corrupt and download=False")
