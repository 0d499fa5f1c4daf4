"""Training word2vec's skip-gram with negative sampling in PyTorch, a planted corpus whose analogy must come
out exactly, and the comparison with PPMI + SVD (chapter 11).

The loss is the one of :func:`dlcourse.embeddings.sgns_loss_and_grads`; here autograd differentiates it.
"""
from __future__ import annotations

import time
import numpy as np
import torch
from torch import nn

from .embeddings import cooccurrence_matrix, cosine_similarity, keep_probability, noise_distribution, ppmi
from .embeddings import svd_embeddings
from .validation import as_float_array, as_int_array, as_rng, check_positive, check_positive_int


def skipgram_pairs(ids, window: int) -> tuple[np.ndarray, np.ndarray]:
    """All (centre, context) pairs of a token stream with 0 < |t - s| <= window: two int64 arrays (P,)."""
    ids = as_int_array(ids, "ids", ndim=1)
    window = check_positive_int(window, "window")
    centres, contexts = [], []
    for offset in range(1, window + 1):
        centres += [ids[:-offset], ids[offset:]]
        contexts += [ids[offset:], ids[:-offset]]
    return np.concatenate(centres), np.concatenate(contexts)


class SkipGram(nn.Module):
    """Two tables: input vectors v_w (the embeddings kept) and output vectors u_w, both (V, m)."""

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.inp = nn.Embedding(check_positive_int(vocab_size, "vocab_size"), check_positive_int(dim, "dim"))
        self.out = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.inp.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.out.weight)  # word2vec's initialisation

    def forward(self, centre: torch.Tensor, context: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Mean of -log s(u_o . v) - sum_k log s(-u_k . v) over the batch; noise: (B, K) ids."""
        v = self.inp(centre)  # (B, m)
        pos = (self.out(context) * v).sum(-1)
        neg = torch.einsum("bkm,bm->bk", self.out(noise), v)
        return -(nn.functional.logsigmoid(pos) + nn.functional.logsigmoid(-neg).sum(-1)).mean()


def pair_accuracy(model: SkipGram, centres, contexts, noise) -> float:
    """Fraction of (true pair, noise pair) comparisons where the true context scores higher: u_o.v > u_k.v.

    centres, contexts: (P,) word ids; noise: (P, K) ids of noise words drawn for each pair.
    """
    V = len(input_vectors(model))
    centres = _ids(centres, "centres", V, ndim=1)
    contexts = _ids(contexts, "contexts", V, ndim=1)
    noise = _ids(noise, "noise", V, ndim=2)
    if not len(centres) == len(contexts) == len(noise) > 0:
        raise ValueError(f"centres, contexts and noise must hold the same number P > 0 of pairs, got "
                         f"{len(centres)}, {len(contexts)} and {len(noise)}")
    model = model.cpu()
    with torch.no_grad():
        v = model.inp(torch.as_tensor(centres))
        pos = (model.out(torch.as_tensor(contexts)) * v).sum(-1, keepdim=True)
        neg = torch.einsum("bkm,bm->bk", model.out(torch.as_tensor(noise)), v)
        return float((pos > neg).double().mean())


def _ids(value, name: str, V: int, ndim: int) -> np.ndarray:
    ids = as_int_array(value, name, ndim=ndim)
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise ValueError(f"{name} must hold word ids in 0..{V - 1}, got {ids.min()}..{ids.max()}")
    return ids


def _device(device) -> torch.device:
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must name a torch device ('cpu', 'cuda'), got {device!r} ({err})") from None


def train_skipgram(ids, vocab_size: int, dim: int = 32, window: int = 2, negatives: int = 5, epochs: int = 3,
                   batch_size: int = 512, learning_rate: float = 0.01, subsample: float | None = 1e-3,
                   validation_ids=None, seed: int = 0, device="cpu") -> tuple[SkipGram, dict]:
    """Skip-gram with negative sampling trained with Adam; returns the model (on the CPU) of the epoch
    with the best validation pair accuracy (the last epoch without ``validation_ids``) and the history.

    Noise words are drawn from the unigram^0.75 distribution of the training ids; with ``subsample`` = t,
    each training occurrence is kept with probability min(1, sqrt(t / f_w)), redrawn every epoch.
    """
    ids = as_int_array(ids, "ids", ndim=1)
    V = check_positive_int(vocab_size, "vocab_size")
    if ids.size < 2 or ids.min() < 0 or ids.max() >= V:
        raise ValueError(f"ids must hold at least 2 word ids in 0..{V - 1}, got {ids.size} ids")
    negatives, epochs = check_positive_int(negatives, "negatives"), check_positive_int(epochs, "epochs")
    batch_size, learning_rate = check_positive_int(batch_size, "batch_size"), check_positive(learning_rate, "learning_rate")
    rng, counts = as_rng(seed), np.bincount(ids, minlength=V).astype(float)
    torch.manual_seed(int(rng.integers(2**31)))
    noise_p = noise_distribution(counts)
    keep = keep_probability(counts, check_positive(subsample, "subsample")) if subsample is not None else None
    val = _validation_pairs(validation_ids, V, window, negatives, noise_p, rng)
    device = _device(device)
    model = SkipGram(V, dim).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history, best = {"loss": [], "val_accuracy": []}, (-1.0, None)
    for _ in range(epochs):
        stream = ids if keep is None else ids[rng.random(ids.size) < keep[ids]]
        c, o = skipgram_pairs(stream, window)
        order = rng.permutation(len(c))
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            noise = rng.choice(V, size=(len(batch), negatives), p=noise_p)
            loss = model(*(torch.as_tensor(a, device=device) for a in (c[batch], o[batch], noise)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        history["loss"].append(total / max(len(order), 1))
        acc = pair_accuracy(model, *val) if val is not None else float("nan")
        model.to(device)
        history["val_accuracy"].append(acc)
        if val is None or acc > best[0]:
            best = (acc, {k: t.detach().cpu().clone() for k, t in model.state_dict().items()})
    history["best_epoch"] = int(np.nanargmax(history["val_accuracy"])) + 1 if val is not None else epochs
    model = model.cpu()
    model.load_state_dict(best[1])
    return model, history


def _validation_pairs(validation_ids, V, window, negatives, noise_p, rng):
    if validation_ids is None:
        return None
    ids = as_int_array(validation_ids, "validation_ids", ndim=1)
    if ids.size < 2 or ids.min() < 0 or ids.max() >= V:
        raise ValueError(f"validation_ids must hold at least 2 word ids in 0..{V - 1}, got {ids.size} ids")
    c, o = skipgram_pairs(ids, window)
    return c, o, rng.choice(V, size=(len(c), negatives), p=noise_p)


# ---------------------------------------------------------------- the planted corpus

PLANTED_PEOPLE = {("male", "common"): "man", ("female", "common"): "woman", ("male", "royal"): "king",
                  ("female", "royal"): "queen", ("male", "young"): "boy", ("female", "young"): "girl"}
_MARKERS = {"male": ["he", "his", "him"], "female": ["she", "her", "hers"],
            "common": ["street", "work", "house"], "royal": ["crown", "throne", "palace"],
            "young": ["school", "toy", "play"]}
_FILLER = ["the", "a", "saw", "went", "to", "with", "and", "then", "near", "at"]


def planted_corpus(n_sentences: int = 3000, seed: int = 0) -> list[str]:
    """A synthetic corpus where each person word co-occurs with a gender marker and a role marker only.

    A sentence is a person (man, woman, king, queen, boy, girl), one marker of its gender, one of its
    role and two filler words, shuffled, then "." ; so "king" and "queen" share role contexts, "king" and
    "man" gender contexts, and king - man + woman lands on queen.
    """
    n_sentences, rng = check_positive_int(n_sentences, "n_sentences"), as_rng(seed)
    people = list(PLANTED_PEOPLE.items())
    tokens: list[str] = []
    for _ in range(n_sentences):
        (gender, role), person = people[rng.integers(len(people))]
        words = [person, rng.choice(_MARKERS[gender]), rng.choice(_MARKERS[role]), *rng.choice(_FILLER, 2)]
        tokens += [str(w) for w in rng.permutation(words)] + ["."]
    return tokens


# ---------------------------------------------------------------- comparing with PPMI + SVD

# A hand-made similarity list in the domain of Python's documentation, 0 (unrelated) to 10 (near synonyms).
DOCS_SIMILARITY = [("list", "tuple", 8), ("int", "float", 8), ("true", "false", 8), ("exception", "error", 8),
                   ("function", "method", 8), ("class", "instance", 7), ("read", "write", 7),
                   ("key", "value", 6), ("string", "bytes", 7), ("module", "import", 7),
                   ("argument", "parameter", 9), ("object", "instance", 6), ("file", "directory", 6),
                   ("list", "sequence", 7), ("first", "second", 6), ("statement", "expression", 6),
                   ("list", "exception", 1), ("file", "float", 1), ("true", "module", 1),
                   ("class", "newline", 1), ("read", "operator", 2), ("integer", "number", 8),
                   ("attribute", "method", 5), ("name", "variable", 6)]


def word_similarity_spearman(E, itos, pairs=DOCS_SIMILARITY) -> tuple[float, int]:
    """Spearman correlation between cosine similarities of E's rows and human scores of word pairs.

    E: (V, m); itos: the V words. Pairs with a word outside the vocabulary are skipped; returns
    (rho, number of pairs used).
    """
    from scipy.stats import spearmanr

    E = as_float_array(E, "E", ndim=2)
    index = {w: i for i, w in enumerate(itos)}
    if len(index) != len(E):
        raise ValueError(f"itos must name the {len(E)} rows of E once each, got {len(index)} distinct words")
    used = [(index[a], index[b], s) for a, b, s in pairs if a in index and b in index]
    if len(used) < 3:
        raise ValueError(f"at least 3 pairs must have both words in the vocabulary, got {len(used)}")
    cos = [float(cosine_similarity(E[[i]], E[[j]])[0, 0]) for i, j, _ in used]
    if np.ptp(cos) == 0:
        raise ValueError("the cosine similarities of the pairs are all equal: no ranking to correlate")
    return float(spearmanr(cos, [s for *_, s in used]).statistic), len(used)


def neighbour_agreement(E1, E2, words, k: int = 10) -> float:
    """Mean overlap |N1 & N2| / k of the k cosine neighbours of each listed word under two embeddings."""
    E1 = as_float_array(E1, "E1", ndim=2)
    E2 = as_float_array(E2, "E2", shape=(len(E1), None))
    words = as_int_array(words, "words", ndim=1, allow_empty=False)
    k = check_positive_int(k, "k")
    if words.min() < 0 or words.max() >= len(E1) or k >= len(E1):
        raise ValueError(f"words must be ids in 0..{len(E1) - 1} and k < {len(E1)}, got k = {k}")

    def top(E):
        sims = cosine_similarity(E, E[words])
        sims[np.arange(len(words)), words] = -np.inf
        return np.argsort(-sims, axis=1, kind="stable")[:, :k]

    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(top(E1), top(E2))]))


def ppmi_svd_embeddings(ids, vocab_size: int, dim: int, window: int = 2) -> np.ndarray:
    """The count-based baseline: rows of U_k S_k^{1/2} of PPMI(co-occurrence counts), shape (V, dim)."""
    return svd_embeddings(ppmi(cooccurrence_matrix(ids, vocab_size, window)), dim)


def input_vectors(model: SkipGram) -> np.ndarray:
    """The embeddings word2vec keeps: the input table v_w as a float64 array (V, m)."""
    if not isinstance(model, SkipGram):
        raise ValueError(f"model must be a SkipGram, got {type(model).__name__}")
    return model.inp.weight.detach().cpu().double().numpy()


# ---------------------------------------------------------------- the GPU recipe

def gpu_skipgram_wikitext2(device, offline: bool = False, tiny: bool = False) -> dict:
    """Skip-gram (m = 100, window 5) on WikiText-2 (the Python docs when offline or unreachable).

    The metric: on test-split pairs, how often the true context outscores a unigram^0.75 noise word
    (u_o . v > u_k . v); the bar is 0.85. The epoch is chosen on the validation split.
    """
    from . import data

    device = _device(device)
    splits = ("train", "validation", "test")
    try:
        if offline:
            raise data.DatasetUnavailableError("offline")
        raw, dataset = {split: data.load_wikitext2(split) for split in splits}, "WikiText-2"
    except data.DatasetUnavailableError:  # no network: the same code path on the offline corpus
        raw, dataset = {split: data.load_python_docs(split) for split in splits}, "python docs (offline)"
    texts = {split: data.tokenize(text, "word") for split, text in raw.items()}
    if tiny:
        texts = {k: v[:3000] for k, v in texts.items()}
    vocab = data.Vocabulary(texts["train"], min_count=2 if tiny else 5)
    ids = {k: vocab.encode(v) for k, v in texts.items()}
    window = 2 if tiny else 5
    start = time.perf_counter()
    model, history = train_skipgram(ids["train"], len(vocab), dim=16 if tiny else 100, window=window,
                                    epochs=1 if tiny else 5, batch_size=4096, learning_rate=0.003,
                                    validation_ids=ids["validation"], subsample=1e-4, device=device)
    seconds = time.perf_counter() - start
    noise_p = noise_distribution(np.bincount(ids["train"], minlength=len(vocab)).astype(float))
    test = _validation_pairs(ids["test"], len(vocab), window, 5, noise_p, np.random.default_rng(1))
    return {"dataset": dataset, "seconds": seconds, "epochs": history["best_epoch"], "vocab_size": len(vocab),
            "test_accuracy": pair_accuracy(model, *test), "bar": 0.85}


# Full-mode recipes that benchmarks/gpu_sections.py runs: name -> recipe(device, offline, tiny) -> metrics.
GPU_RECIPES = {"11_word_embeddings.skipgram_wikitext2": gpu_skipgram_wikitext2}
