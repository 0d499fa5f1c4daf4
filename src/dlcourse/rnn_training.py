"""Training recurrent networks (chapter 10): the adding problem and a character-level language model.

``CharLSTM``, ``train_char_model``, ``bits_per_char`` and ``sample_text`` work with any next-character
model whose ``forward(ids: (N, T) int64) -> logits (N, T, V)``, so later chapters can compare other
architectures on the same corpus with the same loop and metric.
"""
from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch
from torch import nn

from .validation import as_int_array, as_rng, check_choice, check_float, check_int, check_positive, \
    check_positive_int

LOG2 = math.log(2.0)


# ---------------------------------------------------------------- the adding problem

def adding_problem(n: int, length: int, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """n sequences of the adding problem (Hochreiter and Schmidhuber 1997): add the two marked numbers.

    Each step holds (value ~ U(0, 1), marker); one marker lies in the first half, one in the second.
    Returns X: (n, length, 2) float32 and y: (n,) float32, the sum of the two marked values. Predicting
    the mean, 1, gives a mean squared error of 1/6, about 0.167.
    """
    n, length, rng = check_positive_int(n, "n"), check_int(length, "length", minimum=2), as_rng(seed)
    X = np.zeros((n, length, 2), dtype=np.float32)
    X[:, :, 0] = rng.uniform(0, 1, (n, length))
    half = length // 2
    first, second = rng.integers(0, half, n), rng.integers(half, length, n)
    X[np.arange(n), first, 1] = X[np.arange(n), second, 1] = 1.0
    y = X[np.arange(n), first, 0] + X[np.arange(n), second, 0]
    return X, y.astype(np.float32)


class SequenceRegressor(nn.Module):
    """A recurrent layer (``"rnn"``: tanh Elman, ``"lstm"``, ``"gru"``) read out linearly at the last step."""

    def __init__(self, cell: str = "lstm", n_in: int = 2, hidden: int = 32) -> None:
        super().__init__()
        cell = check_choice(cell, "cell", ("rnn", "lstm", "gru"))
        layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.recurrent = layer(check_positive_int(n_in, "n_in"), check_positive_int(hidden, "hidden"),
                               batch_first=True)
        self.readout = nn.Linear(hidden, 1)
        if cell == "lstm":  # forget-gate bias 1: start by keeping the memory (Jozefowicz et al. 2015)
            with torch.no_grad():
                self.recurrent.bias_hh_l0[hidden:2 * hidden] = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, T, n_in) -> (N,), the prediction after the last step."""
        states, _ = self.recurrent(x)
        return self.readout(states[:, -1]).squeeze(-1)


def train_adding(cell: str, length: int, steps: int = 600, hidden: int = 32, batch_size: int = 64,
                 learning_rate: float = 3e-3, n_val: int = 500, eval_every: int = 25, seed: int = 0) -> tuple:
    """Train a ``SequenceRegressor`` on fresh adding-problem batches with Adam; returns (model, history).

    Every batch is new (the task has no fixed training set); validation is a fixed set of ``n_val``
    other sequences. history: "step", "val_mse" (every ``eval_every`` steps), "train_mse" (per step).
    """
    steps, eval_every = check_positive_int(steps, "steps"), check_positive_int(eval_every, "eval_every")
    learning_rate = check_positive(learning_rate, "learning_rate")
    batch_size = check_positive_int(batch_size, "batch_size")
    torch.manual_seed(check_int(seed, "seed", minimum=0))
    model = SequenceRegressor(cell, 2, hidden)
    X_val, y_val = (torch.from_numpy(a) for a in adding_problem(n_val, length, seed=10_000 + seed))
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    rng, history = np.random.default_rng(seed), {"step": [], "val_mse": [], "train_mse": []}
    for step in range(1, steps + 1):
        X, y = (torch.from_numpy(a) for a in adding_problem(batch_size, length, rng))
        loss = torch.mean((model(X) - y) ** 2)
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # long sequences: rare huge gradients
        optimiser.step()
        history["train_mse"].append(loss.item())
        if step % eval_every == 0 or step == steps:
            with torch.no_grad():
                history["val_mse"].append(torch.mean((model(X_val) - y_val) ** 2).item())
            history["step"].append(step)
    return model, history


# ---------------------------------------------------------------- counting baselines

def ngram_bits_per_char(train_ids, eval_ids, vocab_size: int, order: int = 2, alpha: float = 1.0) -> float:
    """Bits per character of an add-alpha smoothed unigram (order 1) or bigram (order 2) model.

    Fitted on ``train_ids``: P(b | a) = (count(a, b) + alpha) / (count(a) + alpha V), P(b) likewise;
    scored on ``eval_ids`` as -(1 / M) sum log2 P(x_t | x_{t-1}) over its M predicted characters
    (a bigram skips the first character, which has no predecessor).
    """
    vocab_size = check_positive_int(vocab_size, "vocab_size")
    train, test = (_check_ids(a, name, vocab_size, 2) for a, name in ((train_ids, "train_ids"),
                                                                     (eval_ids, "eval_ids")))
    order, alpha = check_choice(order, "order", (1, 2)), check_positive(alpha, "alpha")
    if order == 1:
        counts = np.bincount(train, minlength=vocab_size) + alpha
        return float(-np.mean(np.log2(counts[test] / counts.sum())))
    table = np.full((vocab_size, vocab_size), alpha)
    np.add.at(table, (train[:-1], train[1:]), 1.0)
    probs = table / table.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log2(probs[test[:-1], test[1:]])))


def _check_ids(ids, name: str, vocab_size: int, minimum: int) -> np.ndarray:
    ids = as_int_array(ids, name, ndim=1)
    if len(ids) < minimum:
        raise ValueError(f"{name} must hold at least {minimum} ids, got {len(ids)}")
    if ids.min() < 0 or ids.max() >= vocab_size:
        raise ValueError(f"{name} must lie in 0..{vocab_size - 1}, got values from {ids.min()} to {ids.max()}")
    return ids


# ---------------------------------------------------------------- the character model

class CharLSTM(nn.Module):
    """Embedding -> LSTM (``num_layers`` stacked) -> linear: next-character logits at every position."""

    def __init__(self, vocab_size: int, embedding_dim: int = 32, hidden_size: int = 128,
                 num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        num_layers = check_positive_int(num_layers, "num_layers")
        self.embedding = nn.Embedding(vocab_size, check_positive_int(embedding_dim, "embedding_dim"))
        self.lstm = nn.LSTM(embedding_dim, check_positive_int(hidden_size, "hidden_size"), num_layers,
                            batch_first=True, dropout=check_float(dropout, "dropout", minimum=0.0, maximum=0.9)
                            if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids: (N, T) int64 -> logits (N, T, V); position t predicts ids[:, t + 1]."""
        states, _ = self.lstm(self.embedding(ids))
        return self.head(states)


def _vocab_size(model: nn.Module) -> int | None:
    size = getattr(model, "vocab_size", None)
    return size if isinstance(size, int) else None


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def bits_per_char(model: nn.Module, ids, seq_len: int = 128, batch_size: int = 64) -> float:
    """Mean -log2 P(x_{t+1} | the characters before it in its chunk) over a text of ids.

    The text is cut into chunks of ``seq_len + 1`` ids that overlap by one, each chunk read afresh
    (no state carried between chunks), so every id but the first is predicted once.
    """
    vocab = _vocab_size(model) or int(np.max(as_int_array(ids, "ids", ndim=1), initial=0)) + 1
    ids = _check_ids(ids, "ids", vocab, 2)
    seq_len, batch_size = check_positive_int(seq_len, "seq_len"), check_positive_int(batch_size, "batch_size")
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for chunk in _chunks(ids, seq_len, batch_size, _device(model)):
            logits = model(chunk[:, :-1])
            total += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                                 chunk[:, 1:].reshape(-1), reduction="sum").item()
            count += chunk[:, 1:].numel()
    model.train(was_training)
    return total / count / LOG2


def _chunks(ids: np.ndarray, seq_len: int, batch_size: int, device):
    """Batches of chunks ids[k L : k L + L + 1]; the short last chunk comes alone."""
    n_full = (len(ids) - 1) // seq_len
    index = np.arange(n_full)[:, None] * seq_len + np.arange(seq_len + 1)  # (n_full, L + 1)
    for first in range(0, n_full, batch_size):
        yield torch.from_numpy(ids[index[first:first + batch_size]]).to(device)
    if n_full * seq_len < len(ids) - 1:
        yield torch.from_numpy(ids[n_full * seq_len:]).to(device)[None]


def _batch(ids: np.ndarray, seq_len: int, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    starts = rng.integers(0, len(ids) - seq_len - 1, batch_size)
    return np.stack([ids[s:s + seq_len + 1] for s in starts])  # (B, seq_len + 1)


def train_char_model(model: nn.Module, train_ids, val_ids, steps: int = 500, seq_len: int = 64,
                     batch_size: int = 32, learning_rate: float = 3e-3, eval_every: int = 100,
                     seed: int = 0, val_chars: int | None = 20_000, eval_seq_len: int | None = None) -> dict:
    """Train a next-character model with Adam on random windows of ``train_ids``; keep the best on validation.

    Every ``eval_every`` steps the validation bits per character (on the first ``val_chars`` of
    ``val_ids``, read in chunks of ``eval_seq_len``, default max(seq_len, 128): give a model with a
    fixed context its context length) are measured; at the end the model holds the best evaluation's
    weights. Works for any model with ``forward(ids: (N, T)) -> logits (N, T, V)``.
    Returns history: "step", "train_bpc" (mean since the last evaluation), "val_bpc", "best_step", "seconds".
    """
    vocab = _vocab_size(model) or int(max(np.max(train_ids), np.max(val_ids))) + 1
    train_ids = _check_ids(train_ids, "train_ids", vocab, 3)
    val_ids = _check_ids(val_ids, "val_ids", vocab, 2)
    steps, seq_len = check_positive_int(steps, "steps"), check_positive_int(seq_len, "seq_len")
    if len(train_ids) <= seq_len + 1:
        raise ValueError(f"train_ids must be longer than seq_len + 1 = {seq_len + 1}, got {len(train_ids)}")
    batch_size, eval_every = check_positive_int(batch_size, "batch_size"), check_positive_int(eval_every, "eval_every")
    learning_rate = check_positive(learning_rate, "learning_rate")
    val_ids = val_ids[:check_positive_int(val_chars, "val_chars")] if val_chars is not None else val_ids
    eval_seq_len = max(seq_len, 128) if eval_seq_len is None else check_positive_int(eval_seq_len, "eval_seq_len")
    torch.manual_seed(check_int(seed, "seed", minimum=0))
    rng, device = np.random.default_rng(seed), _device(model)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = {"step": [], "train_bpc": [], "val_bpc": [], "best_step": 0}
    best, running, start = math.inf, [], time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        chunk = torch.from_numpy(_batch(train_ids, seq_len, batch_size, rng)).to(device)
        logits = model(chunk[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), chunk[:, 1:].reshape(-1))
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        running.append(loss.item() / LOG2)
        if step % eval_every == 0 or step == steps:
            val = bits_per_char(model, val_ids, seq_len=eval_seq_len)
            history["step"].append(step)
            history["train_bpc"].append(float(np.mean(running)))
            history["val_bpc"].append(val)
            running = []
            if val < best:
                best, history["best_step"], state = val, step, copy.deepcopy(model.state_dict())
    model.load_state_dict(state)
    history["seconds"] = time.perf_counter() - start
    return history


def sample_text(model: nn.Module, vocab, prompt: str, n_chars: int = 200, temperature: float = 1.0,
                seed: int = 0, context: int = 128) -> str:
    """Sample ``n_chars`` characters after ``prompt``: x ~ softmax(logits / temperature), fed back in.

    The model reads the last ``context`` characters at each step (any next-character model works);
    temperature -> 0 approaches the most likely character, larger values flatten the distribution.
    The special tokens of the vocabulary (``<pad>``, ``<unk>``, ...) are never sampled.
    """
    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"prompt must be a non-empty str, got {prompt!r}")
    n_chars, context = check_int(n_chars, "n_chars", minimum=0), check_positive_int(context, "context")
    temperature = check_positive(temperature, "temperature")
    generator = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    ids = list(vocab.encode(list(prompt)))
    # <pad>, <unk>, <bos>, <eos> are not characters: never sample them (their names are not text)
    specials = [vocab.stoi[token] for token in getattr(vocab, "specials", ()) if token in vocab.stoi]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for _ in range(n_chars):
            window = torch.tensor(ids[-context:], device=_device(model))[None]
            logits = model(window)[0, -1].float().cpu() / temperature
            logits[specials] = -float("inf")
            probs = torch.softmax(logits, dim=-1)
            ids.append(int(torch.multinomial(probs, 1, generator=generator)))
    model.train(was_training)
    return "".join(vocab.decode(ids[len(prompt):]))


# ---------------------------------------------------------------- corpus and the GPU recipe

def char_corpus(text_by_split: dict, max_chars: int | None = None) -> dict:
    """Character ids of train / validation / test texts, with a vocabulary built on train only.

    Returns {"vocab", "train", "validation", "test"}; characters unseen in train become ``<unk>``.
    """
    from .data import Vocabulary

    missing = {"train", "validation", "test"} - set(text_by_split)
    if missing:
        raise ValueError(f"text_by_split must have the splits train, validation, test; missing {sorted(missing)}")
    limit = None if max_chars is None else check_positive_int(max_chars, "max_chars")
    texts = {k: text_by_split[k][:limit] for k in ("train", "validation", "test")}
    vocab = Vocabulary(list(texts["train"]))
    return {"vocab": vocab, **{k: vocab.encode(list(t)) for k, t in texts.items()}}


def gpu_char_lm_wikitext2(device, offline: bool = False, tiny: bool = False) -> dict:
    """A 2-layer, 512-unit character LSTM on WikiText-2 (the python docs when offline), tested once.

    Bar: 1.6 test bits per character on WikiText-2 (a bigram model scores about 3.3). Reports the test
    bits per character and next-character accuracy, with both baselines. ``tiny`` checks the path.
    """
    from .data import load_python_docs, load_wikitext2
    from .data.mnist import DatasetUnavailableError

    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must name a torch device ('cpu', 'cuda', ...), got {device!r}") from err
    try:
        if offline:
            raise DatasetUnavailableError("offline")
        texts, dataset = {s: load_wikitext2(s) for s in ("train", "validation", "test")}, "WikiText-2 (characters)"
    except DatasetUnavailableError:
        texts, dataset = {s: load_python_docs(s) for s in ("train", "validation", "test")}, "python docs (offline)"
    corpus = char_corpus(texts, max_chars=20_000 if tiny else None)
    size = dict(embedding_dim=8, hidden_size=16, num_layers=1) if tiny else \
        dict(embedding_dim=64, hidden_size=512, num_layers=2, dropout=0.2)
    model = CharLSTM(len(corpus["vocab"]), **size).to(device)
    start = time.perf_counter()
    history = train_char_model(model, corpus["train"], corpus["validation"], steps=20 if tiny else 6000,
                               seq_len=32 if tiny else 256, batch_size=8 if tiny else 128,
                               learning_rate=2e-3, eval_every=10 if tiny else 500, val_chars=None)
    test_ids = corpus["test"][:2_000] if tiny else corpus["test"]
    test_bpc = bits_per_char(model, test_ids, seq_len=32 if tiny else 256)
    return {"dataset": dataset, "seconds": time.perf_counter() - start, "device": str(device),
            "test_bits_per_char": test_bpc, "test_accuracy": next_char_accuracy(model, test_ids),
            "best_val_bits_per_char": min(history["val_bpc"]),
            "bigram_test_bits_per_char": ngram_bits_per_char(corpus["train"], test_ids, len(corpus["vocab"]), 2),
            "bar": 1.6}


def next_char_accuracy(model: nn.Module, ids, seq_len: int = 256) -> float:
    """Fraction of characters that are the model's most likely next character (chunks as ``bits_per_char``)."""
    vocab = _vocab_size(model) or int(np.max(as_int_array(ids, "ids", ndim=1), initial=0)) + 1
    ids = _check_ids(ids, "ids", vocab, 2)
    seq_len = check_positive_int(seq_len, "seq_len")
    hits, count = 0, 0
    model.eval()
    with torch.no_grad():
        for chunk in _chunks(ids, seq_len, 64, _device(model)):
            hits += int((model(chunk[:, :-1]).argmax(-1) == chunk[:, 1:]).sum())
            count += chunk[:, 1:].numel()
    return hits / count


# Full-mode recipes that benchmarks/gpu_sections.py runs: name -> recipe(device, offline, tiny) -> metrics.
GPU_RECIPES = {"10_rnn.char_lstm_wikitext2": gpu_char_lm_wikitext2}
