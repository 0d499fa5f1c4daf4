"""Chapter 4: looking inside a trained CNN: filters, feature maps, top patches, saliency, CAM, Grad-CAM.

The model is an ``nn.Sequential`` (as :func:`dlcourse.cnn_training.mnist_cnn` builds); a *layer
index* names one of its modules, and "the activations of layer l" are that module's output.

* saliency (Simonyan et al. 2014): S[i, j] = max_c |d y_c / d x[c, i, j]| for the class score y_c;
* CAM (Zhou et al. 2016), for conv features A (K, h, w) -> GAP -> linear: M_c = sum_k w_ck A_k;
* Grad-CAM (Selvaraju et al. 2017), any layer: alpha_k = (1 / hw) sum_ij d y_c / d A_k[i, j],
  M_c = relu(sum_k alpha_k A_k). With a GAP + linear head alpha_k = w_ck / (hw), so Grad-CAM is
  relu(CAM) / (hw).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .cnn_training import as_images
from .validation import check_int


def _sequential(model) -> nn.Sequential:
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"model must be a torch.nn.Sequential of layers, got {type(model).__name__}")
    return model


def _layer(model: nn.Sequential, layer: int) -> int:
    return check_int(layer, "layer", minimum=0, maximum=len(model) - 2)


def _one_image(x) -> torch.Tensor:
    return torch.from_numpy(as_images(np.asarray(x, dtype=float)[None], "x")) if np.ndim(x) in (1, 2) \
        else torch.from_numpy(as_images(x, "x"))[:1]


def activations(model, X, layer: int) -> np.ndarray:
    """Output of module ``layer`` for images X (N, ...): (N, K, h, w) feature maps, in eval mode."""
    model = _sequential(model)
    layer = _layer(model, layer)
    model.eval()
    with torch.no_grad():
        return model[:layer + 1](torch.from_numpy(as_images(X))).numpy()


def _geometry(model: nn.Sequential, layer: int) -> tuple[int, int, int]:
    """(receptive field r, jump J, start) of layer ``layer``: unit (i, j) sees rows start + i J .. + r - 1."""
    r, jump, start = 1, 1, 0
    for module in model[:layer + 1]:
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d)):
            k, s, p = (getattr(module, a) for a in ("kernel_size", "stride", "padding"))
            k, s, p = (v[0] if isinstance(v, tuple) else v for v in (k, s, p))
            r, start, jump = r + (k - 1) * jump, start - p * jump, jump * s
    return r, jump, start


def top_patches(model, X, layer: int, channel: int, k: int = 8) -> np.ndarray:
    """The k input patches (each r x r, the unit's receptive field) that drive one channel hardest.

    For every image and position, the channel's activation A[n, channel, i, j]; the k largest (at most
    one per image) are cut out of the zero-padded input. Returns (k, r, r).
    """
    A = activations(model, X, layer)
    channel = check_int(channel, "channel", minimum=0, maximum=A.shape[1] - 1)
    k = check_int(k, "k", minimum=1, maximum=len(A))
    r, jump, start = _geometry(model, layer)
    best = A[:, channel].reshape(len(A), -1)
    images = np.argsort(-best.max(axis=1), kind="stable")[:k]
    pad = r
    padded = np.pad(as_images(X)[:, 0], ((0, 0), (pad, pad), (pad, pad)))
    patches = []
    for n in images:
        i, j = divmod(int(best[n].argmax()), A.shape[3])
        top, left = start + i * jump + pad, start + j * jump + pad
        patches.append(padded[n, top:top + r, left:left + r])
    return np.stack(patches)


def saliency_map(model, x, target: int | None = None) -> tuple[np.ndarray, int]:
    """|d y_c / d x| for one image (the largest over input channels): which pixels move the score most.

    target: class c (default: the predicted class). Returns (map (H, W), c).
    """
    model = _sequential(model)
    model.eval()
    x = _one_image(x).requires_grad_(True)
    scores = model(x)[0]
    c = int(scores.argmax()) if target is None else check_int(target, "target", minimum=0, maximum=len(scores) - 1)
    (grad,) = torch.autograd.grad(scores[c], x)
    return grad[0].abs().amax(dim=0).numpy(), c


def _gap_index(model: nn.Sequential) -> int:
    for i, module in enumerate(model):
        if isinstance(module, nn.AdaptiveAvgPool2d):
            if not isinstance(model[-1], nn.Linear):
                break
            return i
    raise ValueError("CAM needs a model that ends in global average pooling (AdaptiveAvgPool2d) and a "
                     "Linear layer; use grad_cam for any other CNN")


def _upsample(M: torch.Tensor, size) -> np.ndarray:
    return nn.functional.interpolate(M[None, None], size=size, mode="bilinear", align_corners=False)[0, 0].numpy()


def class_activation_map(model, x, target: int | None = None, upsample: bool = True):
    """CAM M_c = sum_k w_ck A_k from the last conv features A and the linear head's weights w.

    Returns (map, c): (h, w), or the input's (H, W) with ``upsample`` (bilinear).
    """
    model = _sequential(model)
    gap = _gap_index(model)
    model.eval()
    x = _one_image(x)
    with torch.no_grad():
        A = model[:gap](x)[0]                                            # (K, h, w)
        scores = model(x)[0]
        c = int(scores.argmax()) if target is None else check_int(target, "target", minimum=0, maximum=len(scores) - 1)
        M = torch.einsum("k,khw->hw", model[-1].weight[c], A)
    return (_upsample(M, x.shape[2:]) if upsample else M.numpy()), c


def grad_cam(model, x, layer: int, target: int | None = None, upsample: bool = True):
    """Grad-CAM at module ``layer``: relu(sum_k alpha_k A_k), alpha_k = spatial mean of d y_c / d A_k.

    Returns (map, c): (h, w) of that layer, or the input's (H, W) with ``upsample`` (bilinear).
    """
    model = _sequential(model)
    layer = _layer(model, layer)
    model.eval()
    x = _one_image(x)
    A = model[:layer + 1](x)
    if A.ndim != 4:
        raise ValueError(f"layer {layer} ({type(model[layer]).__name__}) gives shape {tuple(A.shape)}, "
                         "not feature maps (N, K, h, w): pick a convolutional layer")
    scores = model[layer + 1:](A)[0]
    c = int(scores.argmax()) if target is None else check_int(target, "target", minimum=0, maximum=len(scores) - 1)
    (dA,) = torch.autograd.grad(scores[c], A)
    alpha = dA[0].mean(dim=(1, 2))                                       # (K,)
    M = torch.relu(torch.einsum("k,khw->hw", alpha, A[0])).detach()
    return (_upsample(M, x.shape[2:]) if upsample else M.numpy()), c


# ---------------------------------------------------------------- figures

def plot_filters(weights, title: str = "first-layer filters", cols: int = 4):
    """Show each 2-D filter of a (F, 1, kh, kw) weight tensor in a grid (red positive, blue negative)."""
    import matplotlib.pyplot as plt

    W = np.asarray(weights.detach() if hasattr(weights, "detach") else weights, dtype=float)
    if W.ndim != 4 or W.shape[1] != 1:
        raise ValueError(f"weights must have shape (F, 1, kh, kw), got {W.shape}")
    rows = -(-len(W) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.2 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, (f, ax) in enumerate(zip(W[:, 0], axes.flat)):
        limit = np.abs(f).max() or 1.0
        ax.imshow(f, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"filter {k}", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_explanations(images, rows: dict, titles):
    """A grid: one column per image (at most 3), one row per method's heat maps laid over the images.

    images: (n, H, W); rows: method name -> maps (n, H, W); titles: n column titles.
    """
    import matplotlib.pyplot as plt

    images = np.asarray(images, dtype=float)
    maps = {name: np.asarray(m, dtype=float) for name, m in rows.items()}
    if images.ndim != 3 or not 1 <= len(images) <= 3 or len(titles) != len(images) or not maps or \
            any(m.shape != images.shape for m in maps.values()):
        raise ValueError(f"need 1 to 3 images (n, H, W), maps of the same shape for each method and n titles, "
                         f"got images {images.shape}, maps {[m.shape for m in maps.values()]}, {len(titles)} titles")
    fig, axes = plt.subplots(len(maps), len(images), figsize=(2.6 * len(images) + 1.2, 2.5 * len(maps)),
                             squeeze=False)
    for r, (name, M) in enumerate(maps.items()):
        for c, (image, heat) in enumerate(zip(images, M)):
            ax = axes[r, c]
            ax.imshow(image, cmap="gray_r")
            ax.imshow(heat / (np.abs(heat).max() or 1.0), cmap="jet", alpha=0.45, vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[c], fontsize=10)
            if c == 0:
                ax.set_ylabel(name, fontsize=10)
    fig.tight_layout()
    return fig
