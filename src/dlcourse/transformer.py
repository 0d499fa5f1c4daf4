"""A small transformer in PyTorch: an encoder-decoder on a toy task (reversing digit strings), a GRU
encoder-decoder with and without Bahdanau attention on the same task, and a decoder-only character
model compared with chapter 10's character LSTM (``rnn_training.CharLSTM``) of the same size by
validation bits per character; both are trained and scored by chapter 10's ``train_char_model`` and
``bits_per_char``.

The transformer blocks are pre-norm by default (x + Sublayer(LayerNorm(x)), as in GPT-2 and most
current models); ``norm_first=False`` gives the post-norm block of Vaswani et al. (LayerNorm(x +
Sublayer(x))). Masks passed to ``nn.MultiheadAttention`` are True where attention is BLOCKED.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import rnn_training as rt
from .attention import sinusoidal_positional_encoding
from .validation import check_int, check_positive, check_positive_int

PAD, BOS, EOS, DIGIT0, N_TOKENS = 0, 1, 2, 3, 13  # digits 0..9 are tokens 3..12


# ---------------------------------------------------------------- the toy task: reverse a digit string

def reverse_task_splits(n_train: int = 3000, n_val: int = 500, n_test: int = 1000, min_len: int = 8,
                        max_len: int = 8, seed: int = 0) -> dict:
    """Disjoint train / validation / test sets of random digit strings and their reversals.

    Each split is ``(src (n, max_len), tgt (n, max_len + 1))`` in tokens: src padded with PAD, tgt the
    reversed digits, then EOS, then PAD. No string occurs in two splits.
    """
    sizes = [check_positive_int(n, name) for n, name in ((n_train, "n_train"), (n_val, "n_val"),
                                                          (n_test, "n_test"))]
    min_len = check_positive_int(min_len, "min_len")
    max_len = check_int(max_len, "max_len", minimum=min_len)
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    seen, strings = set(), []
    while len(strings) < sum(sizes):
        digits = tuple(rng.integers(0, 10, int(rng.integers(min_len, max_len + 1))))
        if digits not in seen:
            seen.add(digits)
            strings.append(digits)
    src = np.full((len(strings), max_len), PAD, np.int64)
    tgt = np.full((len(strings), max_len + 1), PAD, np.int64)
    for i, digits in enumerate(strings):
        src[i, :len(digits)] = np.array(digits) + DIGIT0
        tgt[i, :len(digits)] = np.array(digits[::-1]) + DIGIT0
        tgt[i, len(digits)] = EOS
    bounds = np.cumsum([0] + sizes)
    return {name: (torch.tensor(src[a:b]), torch.tensor(tgt[a:b]))
            for name, a, b in zip(("train", "validation", "test"), bounds[:-1], bounds[1:])}


def _check_tokens(ids, name: str) -> torch.Tensor:
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long or ids.ndim != 2 or ids.numel() == 0:
        raise ValueError(f"{name} must be a non-empty (B, L) torch.long tensor of token ids, got "
                         f"{getattr(ids, 'dtype', type(ids).__name__)} {tuple(getattr(ids, 'shape', ()))}")
    return ids


def _check_model(model) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _check_sizes(n_heads: int | None = None, **sizes: int) -> None:
    for name, value in sizes.items():
        check_positive_int(value, name)
    if n_heads is not None and sizes["d_model"] % check_positive_int(n_heads, "n_heads"):
        raise ValueError(f"d_model={sizes['d_model']} must be divisible by n_heads={n_heads}")


def decoder_input(tgt: torch.Tensor) -> torch.Tensor:
    """Teacher forcing: the decoder reads [BOS, y_1, ..., y_{T-1}] and predicts [y_1, ..., y_T]."""
    tgt = _check_tokens(tgt, "tgt")
    return torch.cat([torch.full_like(tgt[:, :1], BOS), tgt[:, :-1]], dim=1)


# ---------------------------------------------------------------- transformer blocks

class Block(nn.Module):
    """Self-attention (+ cross-attention when ``cross``) + feed-forward, each with a residual and LayerNorm."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, norm_first: bool = True,
                 cross: bool = False):
        super().__init__()
        _check_sizes(n_heads, d_model=d_model, d_ff=d_ff)
        self.norm_first = norm_first
        self.self_attn = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(d_model, n_heads, batch_first=True) if cross else None
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Linear(d_ff, d_model))
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(3 if cross else 2))
        self.cross_weights = None  # (B, L_q, L_k) of the last forward, averaged over heads

    def _sub(self, x, i, fn):
        if self.norm_first:
            return x + fn(self.norms[i](x))
        return self.norms[i](x + fn(x))

    def forward(self, x, blocked=None, padding=None, memory=None, memory_padding=None):
        x = self._sub(x, 0, lambda h: self.self_attn(h, h, h, attn_mask=blocked, key_padding_mask=padding,
                                                     need_weights=False)[0])
        if self.cross_attn is not None:
            def cross(h):
                out, self.cross_weights = self.cross_attn(h, memory, memory,
                                                          key_padding_mask=memory_padding)
                return out
            x = self._sub(x, 1, cross)
        return self._sub(x, len(self.norms) - 1, self.ff)


class _Embedding(nn.Module):
    """Token embedding plus the sinusoidal positional encoding (nn.Embedding starts at unit variance,
    the scale of the encoding, so no sqrt(d_model) factor: it would drown the positions)."""

    def __init__(self, n_tokens: int, d_model: int, max_len: int):
        super().__init__()
        self.tokens = nn.Embedding(n_tokens, d_model)
        pe = torch.tensor(sinusoidal_positional_encoding(max_len, d_model), dtype=torch.float32)
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, ids):
        return self.tokens(ids) + self.pe[: ids.shape[1]]


class Seq2SeqTransformer(nn.Module):
    """Transformer encoder-decoder: n_layers encoder blocks, n_layers decoder blocks (causal self-attention
    and cross-attention over the encoder output), a linear read-out to token logits."""

    def __init__(self, n_tokens: int = N_TOKENS, d_model: int = 64, n_heads: int = 4, n_layers: int = 2,
                 d_ff: int = 128, max_len: int = 64, norm_first: bool = True):
        super().__init__()
        _check_sizes(n_heads, d_model=d_model, n_tokens=n_tokens, n_layers=n_layers, max_len=max_len)
        self.embed = _Embedding(n_tokens, d_model, max_len)
        self.encoder = nn.ModuleList(Block(d_model, n_heads, d_ff, norm_first) for _ in range(n_layers))
        self.decoder = nn.ModuleList(Block(d_model, n_heads, d_ff, norm_first, cross=True)
                                     for _ in range(n_layers))
        self.final = nn.ModuleList([nn.LayerNorm(d_model), nn.LayerNorm(d_model)]) if norm_first else None
        self.out = nn.Linear(d_model, n_tokens)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        padding = src == PAD
        memory = self.embed(src)
        for block in self.encoder:
            memory = block(memory, padding=padding)
        if self.final is not None:
            memory = self.final[0](memory)
        L = tgt_in.shape[1]
        blocked = torch.ones(L, L, dtype=torch.bool, device=src.device).triu(1)  # no peeking ahead
        x = self.embed(tgt_in)
        for block in self.decoder:
            x = block(x, blocked=blocked, memory=memory, memory_padding=padding)
        return self.out(self.final[1](x) if self.final is not None else x)

    def cross_attention(self) -> torch.Tensor:
        """Cross-attention weights of the last decoder block in the last forward: (B, L_tgt, L_src)."""
        return self.decoder[-1].cross_weights


# ---------------------------------------------------------------- GRU encoder-decoder, Bahdanau attention

class GRUSeq2Seq(nn.Module):
    """GRU encoder-decoder. With attention, step t reads c_t = sum_j alpha_tj h_j, alpha_t = softmax(e_t),
    e_tj = v^T tanh(W1 s_{t-1} + W2 h_j); without, c_t = h_T (the fixed-length bottleneck)."""

    def __init__(self, n_tokens: int = N_TOKENS, d_embed: int = 32, hidden: int = 64,
                 attention: bool = True):
        super().__init__()
        _check_sizes(n_tokens=n_tokens, d_embed=d_embed, hidden=hidden)
        self.attention = attention
        self.embed = nn.Embedding(n_tokens, d_embed)
        self.encoder = nn.GRU(d_embed, hidden, batch_first=True)
        self.cell = nn.GRUCell(d_embed + hidden, hidden)
        self.W1, self.W2 = nn.Linear(hidden, hidden, bias=False), nn.Linear(hidden, hidden)
        self.v = nn.Linear(hidden, 1, bias=False)
        self.out = nn.Linear(2 * hidden, n_tokens)
        self.weights = None  # (B, L_tgt, L_src) of the last forward

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        real = src != PAD
        H, _ = self.encoder(self.embed(src))  # (B, L_src, hidden)
        last = H[torch.arange(len(src)), real.sum(1) - 1]  # the state after the last real token
        s, keys, logits, weights = last, self.W2(H), [], []
        for y in self.embed(tgt_in).unbind(1):
            if self.attention:
                e = self.v(torch.tanh(self.W1(s)[:, None] + keys)).squeeze(-1)
                alpha = torch.softmax(e.masked_fill(~real, float("-inf")), dim=1)
                context = (alpha[:, :, None] * H).sum(1)
                weights.append(alpha)
            else:
                context = last
            s = self.cell(torch.cat([y, context], dim=1), s)
            logits.append(self.out(torch.cat([s, context], dim=1)))
        self.weights = torch.stack(weights, 1) if weights else None
        return torch.stack(logits, 1)


# ---------------------------------------------------------------- training and evaluation

@torch.no_grad()
def greedy_decode(model: nn.Module, src: torch.Tensor, steps: int) -> torch.Tensor:
    """Greedy decoding: feed back the most likely token for ``steps`` steps. Returns (B, steps)."""
    _check_model(model).eval()
    src = _check_tokens(src, "src")
    tgt_in = torch.full((len(src), 1), BOS, dtype=torch.long, device=src.device)
    for _ in range(check_positive_int(steps, "steps")):
        nxt = model(src, tgt_in)[:, -1].argmax(-1, keepdim=True)
        tgt_in = torch.cat([tgt_in, nxt], dim=1)
    return tgt_in[:, 1:]


def exact_match(model: nn.Module, src: torch.Tensor, tgt: torch.Tensor, per_length: bool = False):
    """Fraction of sequences decoded exactly (every token up to and including EOS); optionally per length."""
    tgt = _check_tokens(tgt, "tgt")
    if len(tgt) != len(_check_tokens(src, "src")):
        raise ValueError(f"src and tgt must hold as many sequences, got {len(src)} and {len(tgt)}")
    pred = greedy_decode(model, src, tgt.shape[1])
    real = tgt != PAD
    correct = ((pred == tgt) | ~real).all(1).float()
    if not per_length:
        return float(correct.mean())
    lengths = (src != PAD).sum(1)
    return {int(n): float(correct[lengths == n].mean()) for n in lengths.unique()}


def train_seq2seq(model: nn.Module, splits: dict, epochs: int = 8, batch_size: int = 64,
                  learning_rate: float = 3e-3, seed: int = 0) -> dict:
    """Adam on the token cross-entropy with teacher forcing; the epoch with the best validation exact
    match is kept (its weights restored). Returns the history: loss and val_exact per epoch."""
    epochs, batch_size = check_positive_int(epochs, "epochs"), check_positive_int(batch_size, "batch_size")
    learning_rate = check_positive(learning_rate, "learning_rate")
    torch.manual_seed(check_int(seed, "seed", minimum=0))
    if not isinstance(splits, dict) or not {"train", "validation"} <= set(splits):
        raise ValueError("splits must be a dict with 'train' and 'validation' (src, tgt) pairs")
    src, tgt = (_check_tokens(t, "splits['train']") for t in splits["train"])
    _check_model(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history, best = {"loss": [], "val_exact": []}, (-1.0, None)
    for _ in range(epochs):
        model.train()
        order, total = torch.randperm(len(src)), 0.0
        for i in range(0, len(src), batch_size):
            idx = order[i:i + batch_size]
            logits = model(src[idx], decoder_input(tgt[idx]))
            loss = F.cross_entropy(logits.flatten(0, 1), tgt[idx].flatten(), ignore_index=PAD)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += loss.item() * len(idx)
        history["loss"].append(total / len(src))
        history["val_exact"].append(exact_match(model, *splits["validation"]))
        if history["val_exact"][-1] > best[0]:
            best = (history["val_exact"][-1], {k: v.clone() for k, v in model.state_dict().items()})
    model.load_state_dict(best[1])
    return history


# ---------------------------------------------------------------- character language models

class CharTransformer(nn.Module):
    """Decoder-only (GPT-style) character model: causal pre-norm blocks over a context of ``context``."""

    def __init__(self, n_tokens: int, d_model: int = 64, n_heads: int = 4, n_layers: int = 2,
                 d_ff: int = 256, context: int = 64):
        super().__init__()
        _check_sizes(n_heads, d_model=d_model, n_tokens=n_tokens, n_layers=n_layers, context=context)
        self.embed = _Embedding(n_tokens, d_model, context)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, d_ff) for _ in range(n_layers))
        self.norm, self.out = nn.LayerNorm(d_model), nn.Linear(d_model, n_tokens)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        L = ids.shape[1]
        blocked = torch.ones(L, L, dtype=torch.bool, device=ids.device).triu(1)
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x, blocked=blocked)
        return self.out(self.norm(x))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in _check_model(model).parameters() if p.requires_grad)


def lstm_hidden_for(n_parameters: int, n_tokens: int, d_embed: int = 32) -> int:
    """The width of chapter 10's ``rnn_training.CharLSTM`` whose parameter count is closest to ``n_parameters``."""
    n_parameters = check_positive_int(n_parameters, "n_parameters")
    n_tokens, d_embed = check_positive_int(n_tokens, "n_tokens"), check_positive_int(d_embed, "d_embed")

    def size(h):  # embedding + 4 gates (two biases, as nn.LSTM) + read-out
        return n_tokens * d_embed + 4 * h * (d_embed + h + 2) + h * n_tokens + n_tokens
    return min(range(1, 2049), key=lambda h: abs(size(h) - n_parameters))


# ---------------------------------------------------------------- the GPU recipe

def gpu_char_transformer(device, offline: bool = False, tiny: bool = False) -> dict:
    """A larger character transformer on WikiText-2 (the python docs when ``offline``), tested once.

    Full: 6 blocks of width 256, context 256, 5,000 steps of 64 windows, bf16 autocast on CUDA; the bar
    is 1.6 test bits per character. ``tiny`` runs the same path with a 2-block model for a few steps.
    """
    from .data import Vocabulary, load_python_docs, load_wikitext2

    device = torch.device(device)
    if not isinstance(offline, bool) or not isinstance(tiny, bool):
        raise ValueError(f"offline and tiny must be True or False, got {offline!r} and {tiny!r}")
    from .data.mnist import DatasetUnavailableError

    splits = ("train", "validation", "test")
    try:
        if offline:
            raise DatasetUnavailableError("offline")
        texts, dataset = {split: load_wikitext2(split) for split in splits}, "wikitext2"
    except DatasetUnavailableError:  # no network: the offline corpus, same code path
        texts, dataset = {split: load_python_docs(split) for split in splits}, "python_docs"
    if tiny:
        texts = {split: text[:20000] for split, text in texts.items()}
    vocab = Vocabulary(list(texts["train"]))
    ids = {split: vocab.encode(list(text)) for split, text in texts.items()}
    size = dict(d_model=32, n_heads=2, n_layers=2, d_ff=64, context=32) if tiny else \
        dict(d_model=256, n_heads=8, n_layers=6, d_ff=1024, context=256)
    model = CharTransformer(len(vocab), **size).to(device)
    context = size["context"]
    start = time.perf_counter()
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        rt.train_char_model(model, ids["train"], ids["validation"], steps=5 if tiny else 5000,
                            seq_len=context, batch_size=8 if tiny else 64, learning_rate=1e-3,
                            eval_every=5 if tiny else 1000, eval_seq_len=context)
        bpc = rt.bits_per_char(model, ids["test"], seq_len=context)
        accuracy = rt.next_char_accuracy(model, ids["test"], seq_len=context)
    return {"dataset": dataset, "seconds": time.perf_counter() - start, "device": str(device),
            "test_bits_per_char": bpc, "test_accuracy": accuracy, "bar": 1.6,
            "parameters": count_parameters(model)}


# Full-mode recipes that benchmarks/gpu_sections.py runs: name -> recipe(device, offline, tiny) -> metrics.
GPU_RECIPES = {"12_attention.char_transformer_wikitext2": gpu_char_transformer}
