"""The offline text corpus, the tokenizer, the vocabulary and the WikiText-2 download."""
from __future__ import annotations

import hashlib
import zipfile
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bad_input_table import table_tests
from dlcourse import data
from dlcourse.data import text
from dlcourse.data.text import SPECIALS, Vocabulary, load_python_docs, python_docs, split_documents, tokenize


# ----------------------------------------------------------------------------- the corpus
def test_the_python_docs_are_english_prose_of_tens_of_documents():
    docs = python_docs()
    assert len(docs) > 50 and sum(map(len, docs.values())) > 300_000
    assert list(docs) == sorted(docs)
    words = Counter(tokenize(" ".join(docs.values())))
    assert {"the", "is", "of", "statement", "function"} <= {w for w, _ in words.most_common(60)}


def test_the_splits_are_disjoint_whole_documents_with_about_their_share_of_text():
    docs = python_docs()
    parts = split_documents([len(d) for d in docs.values()], 0.1, 0.1, seed=0)
    indices = np.concatenate(list(parts.values()))
    assert sorted(indices.tolist()) == list(range(len(docs)))  # each document in exactly one split
    total = sum(map(len, docs.values()))
    lengths = np.array([len(d) for d in docs.values()])
    for name in ("validation", "test"):
        share = lengths[parts[name]].sum() / total
        # greedy: at least the share, and over it by less than one document
        assert 0.1 <= share < 0.1 + lengths[parts[name]].max() / total
    texts = {name: load_python_docs(name) for name in text.SPLITS}
    for name, idx in parts.items():
        first = list(docs.values())[idx[0]].strip()
        assert texts[name].startswith(first)
        assert all(first not in texts[other] for other in text.SPLITS if other != name)


def test_the_split_depends_on_the_seed_and_is_deterministic():
    lengths = list(range(10, 110, 5))
    a, b, c = (split_documents(lengths, 0.2, 0.2, seed=s) for s in (0, 0, 1))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=3, max_size=30), st.floats(0, 0.5), st.floats(0, 0.5),
       st.integers(0, 2**31))
def test_every_split_gets_a_document_and_none_is_lost(lengths, validation, test, seed):
    parts = split_documents(lengths, validation, test, seed)
    assert all(len(parts[k]) >= 1 for k in text.SPLITS)
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(len(lengths)))


# ----------------------------------------------------------------------------- the tokenizer
@pytest.mark.parametrize("sentence, tokens", [
    ("The if statement", ["the", "if", "statement"]),
    ("x[0] = __init__(self)", ["x", "[", "0", "]", "=", "__init__", "(", "self", ")"]),
    ("Don't stop; utf8 3.14", ["don't", "stop", ";", "utf8", "3", ".", "14"]),
    ("*****  ::= ...", ["*****", "::", "=", "..."]),
    ("naïve café – ok", ["naïve", "café", "–", "ok"]),
    ("", []),
    ("  \n\t ", []),
])
def test_words_are_names_numbers_and_symbol_runs(sentence, tokens):
    assert tokenize(sentence) == tokens


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_no_character_is_lost_or_invented(sentence):
    words = tokenize(sentence)
    assert "".join(words) == "".join(sentence.lower().split())  # only whitespace is dropped
    assert tokenize(sentence, "char") == list(sentence)


# ----------------------------------------------------------------------------- the vocabulary
def test_specials_come_first_then_tokens_by_count_ties_alphabetical():
    vocab = Vocabulary("b a c a b a d".split())
    assert vocab.itos == SPECIALS + ("a", "b", "c", "d")
    assert [vocab.id(s) for s in SPECIALS] == [0, 1, 2, 3] and vocab.unk_id == 1
    assert vocab.counts["a"] == 3 and vocab.counts["<pad>"] == 0


def test_min_count_and_max_size_drop_the_rare_tokens():
    tokens = "a a a b b c".split()
    assert Vocabulary(tokens, min_count=2).itos[4:] == ("a", "b")
    assert Vocabulary(tokens, max_size=5).itos == SPECIALS + ("a",)
    assert Vocabulary(tokens, max_size=4).itos == SPECIALS


def test_unknown_tokens_encode_to_unk_and_a_special_in_the_text_is_not_doubled():
    vocab = Vocabulary(["<unk>", "hello", "world"], specials=("<unk>", "<eos>"))
    assert vocab.itos == ("<unk>", "<eos>", "hello", "world")
    ids = vocab.encode(["hello", "there", "<eos>"])
    assert ids.dtype == np.int64 and ids.tolist() == [2, 0, 1]
    assert vocab.decode(ids) == ["hello", "<unk>", "<eos>"]
    assert "hello" in vocab and "there" not in vocab and len(vocab) == 4
    with pytest.raises(ValueError, match="not in this vocabulary"):
        vocab.id("<pad>")


def test_the_corpus_round_trips_at_both_levels():
    train = load_python_docs("train")
    for level in ("char", "word"):
        tokens = tokenize(train, level)
        vocab = Vocabulary(tokens)
        assert vocab.decode(vocab.encode(tokens)) == tokens
    chars = Vocabulary(tokenize(train, "char"))
    assert "".join(chars.decode(chars.encode(list(train)))) == train


def test_held_out_words_outside_a_min_count_vocabulary_become_unk():
    vocab = Vocabulary(tokenize(load_python_docs("train")), min_count=3)
    held_out = tokenize(load_python_docs("validation"))
    ids = vocab.encode(held_out)
    unknown = np.array([t not in vocab for t in held_out])
    assert unknown.any() and not unknown.all()
    np.testing.assert_array_equal(ids == vocab.unk_id, unknown)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=3), max_size=50), st.integers(1, 3))
def test_decode_inverts_encode_for_every_kept_token(tokens, min_count):
    vocab = Vocabulary(tokens, min_count=min_count)
    counts = Counter(tokens)
    expected = [t if counts[t] >= min_count or t in SPECIALS else "<unk>" for t in tokens]
    assert vocab.decode(vocab.encode(tokens)) == expected
    assert len(vocab) == len(SPECIALS) + len({t for t in tokens if counts[t] >= min_count} - set(SPECIALS))


def test_decode_takes_any_integer_layout():
    vocab = Vocabulary(list("abcdef"))
    ids = np.arange(10).reshape(2, 5).T  # a transposed (Fortran-ordered) view
    assert vocab.decode(ids) == [vocab.itos[i] for i in ids.ravel()]
    assert vocab.decode([]) == []


# ----------------------------------------------------------------------------- WikiText-2
@pytest.fixture
def fake_wikitext(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    path = mirror / "wt.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for split, member in text._WIKITEXT2_MEMBERS.items():
            zf.writestr(f"wikitext-2/{member}", f" = {split} = \n the {split} text <unk> .\n")
    return mirror, ("wt.zip", hashlib.md5(path.read_bytes()).hexdigest())


def test_wikitext2_downloads_checks_caches_and_reads_each_split(fake_wikitext, tmp_path):
    mirror, archive = fake_wikitext
    root = tmp_path / "cache"
    for split in text.SPLITS:
        got = data.load_wikitext2(split, root=root, mirrors=[mirror.as_uri() + "/"], archive=archive)
        assert got == f" = {split} = \n the {split} text <unk> .\n"
    (mirror / "wt.zip").unlink()
    assert "test text" in data.load_wikitext2("test", root=root, archive=archive, download=False)


def test_wikitext2_refuses_a_corrupt_download_and_says_what_to_do_offline(fake_wikitext, tmp_path):
    mirror, (name, _) = fake_wikitext
    with pytest.raises(data.DatasetUnavailableError, match="checksum mismatch"):
        data.load_wikitext2(root=tmp_path / "c", mirrors=[mirror.as_uri() + "/"], archive=(name, "0" * 32))
    assert not (tmp_path / "c" / name).exists()
    with pytest.raises(data.DatasetUnavailableError, match=r"offline(.|\n)*load_python_docs"):
        data.load_wikitext2(root=tmp_path, mirrors=["http://127.0.0.1:9/"])
    with pytest.raises(data.DatasetUnavailableError, match="download=False"):
        data.load_wikitext2(root=tmp_path / "empty", download=False)


def test_wikitext2_names_the_member_an_archive_lacks(tmp_path):
    path = tmp_path / "wt.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("other.txt", "x")
    archive = ("wt.zip", hashlib.md5(path.read_bytes()).hexdigest())
    with pytest.raises(ValueError, match="wiki.valid.tokens"):
        data.load_wikitext2("validation", root=tmp_path, archive=archive, download=False)


# ----------------------------------------------------------------------------- bad input
TABLE = {
    "python_docs": (python_docs, {}, {}),
    "split_documents": (split_documents, {"lengths": [5, 6, 7, 8]}, {
        "lengths": [[5, 6], [5, -1, 3], [[1, 2, 3]], [1.5, 2, 3], np.array([True, False, True]), "abc"],
        "validation": [0.6, -0.1, float("nan"), True, "0.1"],
        "test": [0.7, None],
        "seed": [-1, 1.5, "0"],
    }),
    "load_python_docs": (load_python_docs, {}, {
        "split": ["valid", "", None], "validation": [1.0], "seed": [True]}),
    "tokenize": (tokenize, {"text": "some text"}, {
        "text": [None, b"bytes", ["a", "b"], 3], "level": ["words", "character", None]}),
    "Vocabulary": (Vocabulary, {"tokens": ["a", "b"]}, {
        "tokens": ["abc", [1, 2], ["a", None], 5],
        "min_count": [0, 1.5, True],
        "max_size": [3, -1, 2.0],
        "specials": [("<pad>",), ("<unk>", "<unk>"), "<unk>", ("<unk>", 3)],
    }),
    "load_wikitext2": (data.load_wikitext2, {"root": "/nonexistent-dlcourse", "download": False,
                                             "archive": ("wt.zip", "0" * 32)}, {
        "split": ["valid", None], "download": ["yes", 1], "root": [3, ["a"]]}),
}


def _load_wikitext2_offline(**kwargs):
    try:
        return data.load_wikitext2(**kwargs)
    except data.DatasetUnavailableError:  # a valid call with no file: the table only needs it to not be a ValueError
        return None


TABLE["load_wikitext2"] = (_load_wikitext2_offline,) + TABLE["load_wikitext2"][1:]
globals().update(table_tests(TABLE, [text]))


@pytest.mark.parametrize("ids", [[0, 99], [-1], [0.0, 1.0], np.array([True, False]), ["a"]])
def test_decode_refuses_ids_that_are_not_vocabulary_indices(ids):
    with pytest.raises(ValueError, match="ids"):
        Vocabulary(list("abc")).decode(ids)


@pytest.mark.parametrize("tokens", ["abc", [1], ["a", b"b"]])
def test_encode_refuses_what_is_not_a_list_of_strings(tokens):
    with pytest.raises(ValueError, match="tokens"):
        Vocabulary(list("abc")).encode(tokens)
