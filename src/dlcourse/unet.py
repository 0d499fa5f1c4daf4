"""Chapter 5: a small U-Net for semantic segmentation, its size arithmetic, loss and training recipes.

The network (Ronneberger et al., 2015): an encoder of conv-conv-pool stages, a decoder of
up-conv-concatenate-conv-conv stages, and at each level a skip connection that concatenates the
encoder's pre-pooling map (centre-cropped when the convolutions are "valid") with the up-sampled
decoder map. A 1x1 convolution gives K class scores per pixel.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from .segmentation import confusion_matrix, iou_from_confusion
from .validation import (as_float_array, as_int_array, check_bool, check_int, check_non_negative,
                         check_positive, check_positive_int)

# ---------------------------------------------------------------- the valid-convolution arithmetic


def unet_sizes(input_size: int = 572, depth: int = 4, convs: int = 2, kernel: int = 3) -> list[tuple[str, int]]:
    """The side length after every step of a U-Net with unpadded ("valid") convolutions.

    Each k x k convolution takes k - 1 pixels, each 2x2 max-pool halves (the side must be even),
    each 2x2 up-convolution doubles. The original U-Net (depth 4, two 3x3 convs per level) maps
    572 -> 388. Returns [(step, side), ...] from the input to the output.
    """
    n = check_positive_int(input_size, "input_size")
    depth, convs = check_int(depth, "depth", minimum=0), check_positive_int(convs, "convs")
    kernel = check_positive_int(kernel, "kernel")
    sizes, side = [("input", n)], n

    def step(name: str, new: int) -> None:
        nonlocal side
        if new < 1:
            raise ValueError(f"input_size {n} is too small: the map vanishes at {name!r} (side {new})")
        side = new
        sizes.append((name, side))

    for level in range(depth + 1):
        for c in range(convs):
            step(f"enc{level}.conv{c + 1}", side - (kernel - 1))
        if level < depth:
            if side % 2:
                raise ValueError(f"input_size {n}: the map before pool {level + 1} has odd side {side}; "
                                 "2x2 pooling needs an even side")
            step(f"pool{level + 1}", side // 2)
    for level in reversed(range(depth)):
        step(f"up{level + 1}", 2 * side)
        for c in range(convs):
            step(f"dec{level}.conv{c + 1}", side - (kernel - 1))
    return sizes


def unet_output_size(input_size: int = 572, depth: int = 4, convs: int = 2, kernel: int = 3) -> int:
    """The output side of a valid-convolution U-Net: 572 -> 388 for the original network."""
    return unet_sizes(input_size, depth, convs, kernel)[-1][1]


def center_crop(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The central height x width window of x (N, C, H, W): the crop before a skip concatenation."""
    H, W = x.shape[-2:]
    if height > H or width > W:
        raise ValueError(f"cannot crop {H}x{W} to a larger {height}x{width}")
    top, left = (H - height) // 2, (W - width) // 2
    return x[..., top:top + height, left:left + width]


# ---------------------------------------------------------------- the network

def _double_conv(c_in: int, c_out: int, padding: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=padding), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                         nn.Conv2d(c_out, c_out, 3, padding=padding), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """U-Net: (N, in_channels, H, W) -> class scores (N, n_classes, H', W').

    ``width`` channels at the top level, doubled at every level below; ``depth`` poolings.
    ``valid=False`` pads the 3x3 convolutions (H' = H, H divisible by 2^depth); ``valid=True`` does
    not, as in the paper (H' = unet_output_size(H)), and centre-crops the skip maps.
    ``skips=False`` drops the concatenations (an encoder-decoder without skip connections).
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 5, width: int = 16, depth: int = 2,
                 valid: bool = False, skips: bool = True) -> None:
        super().__init__()
        c_in, w = check_positive_int(in_channels, "in_channels"), check_positive_int(width, "width")
        self.depth, self.n_classes = check_int(depth, "depth", minimum=0), check_positive_int(n_classes, "n_classes")
        self.valid, self.skips = check_bool(valid, "valid"), check_bool(skips, "skips")
        pad = 0 if self.valid else 1
        widths = [w * 2 ** level for level in range(self.depth + 1)]
        self.down = nn.ModuleList(_double_conv(a, b, pad) for a, b in zip([c_in] + widths, widths))
        self.up = nn.ModuleList(nn.ConvTranspose2d(b, a, 2, stride=2) for a, b in zip(widths, widths[1:]))
        self.merge = nn.ModuleList(_double_conv(2 * a if self.skips else a, a, pad) for a in widths[:-1])
        self.head = nn.Conv2d(w, self.n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        saved = []
        for level, block in enumerate(self.down):
            x = block(x)
            if level < self.depth:
                saved.append(x)                              # the pre-pooling map the skip copies
                x = nn.functional.max_pool2d(x, 2)
        for level in reversed(range(self.depth)):
            x = self.up[level](x)
            if self.skips:
                x = torch.cat([center_crop(saved[level], *x.shape[-2:]), x], dim=1)
            x = self.merge[level](x)
        return self.head(x)


# ---------------------------------------------------------------- loss and training

def class_weights(masks, n_classes: int, power: float = 0.5) -> np.ndarray:
    """Per-class loss weights w_c = (f_c)^(-power), scaled so that sum_c f_c w_c = 1.

    f_c is the fraction of training pixels of class c (masks: integer label maps of any shape).
    power 0: no weighting; 1: inverse frequency; 0.5: the square root, a milder cure for imbalance.
    """
    masks = as_int_array(masks, "masks", allow_empty=False)
    k = check_positive_int(n_classes, "n_classes")
    if masks.min() < 0 or masks.max() >= k:
        raise ValueError(f"masks must hold class ids in 0..{k - 1}, got {masks.min()} to {masks.max()}")
    power = check_non_negative(power, "power")
    freq = np.bincount(masks.reshape(-1), minlength=k) / masks.size
    weights = np.where(freq > 0, np.maximum(freq, 1e-12) ** -power, 0.0)
    return weights / np.sum(freq * weights)


def weighted_cross_entropy(scores: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None):
    """Class-weighted pixel cross-entropy: sum_p w_{y_p} (-log softmax(s_p)_{y_p}) / sum_p w_{y_p}.

    scores (N, K, H, W), target (N, H, W) int64, weights (K,) or None (all ones). This is
    ``F.cross_entropy(scores, target, weight=weights)``: the weighted mean divides by the weights' sum.
    """
    log_p = torch.log_softmax(scores, dim=1).gather(1, target[:, None])[:, 0]   # (N, H, W)
    w = torch.ones_like(log_p) if weights is None else weights.to(log_p.dtype)[target]
    return -(w * log_p).sum() / w.sum()


def random_patches(images, masks, patch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One random patch x patch crop of every (image, mask) pair: (N, H, W) -> (N, patch, patch)."""
    N, H, W = images.shape
    top, left = rng.integers(0, H - patch + 1, N), rng.integers(0, W - patch + 1, N)
    rows = (top[:, None] + np.arange(patch))[:, :, None]
    cols = (left[:, None] + np.arange(patch))[:, None, :]
    index = np.arange(N)[:, None, None]
    return images[index, rows, cols], masks[index, rows, cols]


def predict_masks(model: nn.Module, images, batch_size: int = 256) -> np.ndarray:
    """Per-pixel argmax of the model's class scores, in eval mode: (N, H, W) images -> (N, H, W) labels."""
    images = torch.from_numpy(as_float_array(images, "images", ndim=3).astype(np.float32))
    model.eval()
    with torch.no_grad():
        return torch.cat([model(images[i:i + batch_size, None]).argmax(1)
                          for i in range(0, len(images), batch_size)]).numpy()


def evaluate_miou(model: nn.Module, images, masks, n_classes: int) -> float:
    """Mean IoU of the model's predictions, pixel counts pooled over all the images."""
    iou = iou_from_confusion(confusion_matrix(masks, predict_masks(model, images), n_classes))
    return float(np.nanmean(iou))


def train_unet(model: nn.Module, images, masks, val_images=None, val_masks=None, epochs: int = 10,
               lr: float = 1e-2, batch_size: int = 32, patch: int | None = None, weight_power: float = 0.0,
               seed: int = 0) -> dict:
    """Train a segmentation network with Adam, a one-cycle schedule and (weighted) pixel cross-entropy.

    images (N, H, W) in [0, 1], masks (N, H, W) class ids. ``patch``: train on one random
    patch x patch crop per image and epoch (None: full images). ``weight_power``: see
    :func:`class_weights` (0: unweighted). Returns a history with "train_loss", "val_miou" and "seconds".
    """
    images = as_float_array(images, "images", ndim=3, allow_empty=False).astype(np.float32)
    masks = as_int_array(masks, "masks", shape=images.shape)
    if (val_images is None) != (val_masks is None):
        raise ValueError("give both val_images and val_masks, or neither")
    epochs, batch_size = check_positive_int(epochs, "epochs"), check_positive_int(batch_size, "batch_size")
    lr = check_positive(lr, "lr")
    if patch is not None:
        patch = check_int(patch, "patch", minimum=1, maximum=min(images.shape[1:]))
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    k = model.n_classes
    weights = torch.from_numpy(class_weights(masks, k, weight_power)).float()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * -(-len(images) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    history: dict[str, list[float]] = {"train_loss": [], "val_miou": [], "seconds": []}
    start = time.perf_counter()
    for _ in range(epochs):
        x_all, y_all = (images, masks) if patch is None else random_patches(images, masks, patch, rng)
        model.train()
        order, total = rng.permutation(len(images)), 0.0
        for i in range(0, len(images), batch_size):
            batch = order[i:i + batch_size]
            x, y = torch.from_numpy(x_all[batch][:, None]), torch.from_numpy(y_all[batch])
            loss = weighted_cross_entropy(model(x), y, weights)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        history["train_loss"].append(total / len(images))
        if val_images is not None:
            history["val_miou"].append(evaluate_miou(model, val_images, val_masks, k))
        history["seconds"].append(time.perf_counter() - start)
    return history


# ---------------------------------------------------------------- the data and the recipes

def scene_splits(n_train: int = 400, n_val: int = 200, n_test: int = 300, size: int = 48, seed: int = 0,
                 **scene_kwargs) -> dict:
    """Train / validation / test scenes, each a ``Scenes``, drawn with three seeds from the three digit
    splits of ``make_scenes``: no digit image appears in two sets (3,500 / 500 / 1,000 MNIST images)."""
    from .data import make_scenes

    seed = check_int(seed, "seed", minimum=0)
    return {"train": make_scenes(check_positive_int(n_train, "n_train"), size, split="train", seed=seed,
                                 **scene_kwargs),
            "val": make_scenes(check_positive_int(n_val, "n_val"), size, split="validation", seed=seed + 1000,
                               **scene_kwargs),
            "test": make_scenes(check_positive_int(n_test, "n_test"), size, split="test", seed=seed + 2000,
                                **scene_kwargs)}


def train_scene_unet(splits: dict | None = None, epochs: int = 12, width: int = 8, depth: int = 2,
                     lr: float = 1e-2, weight_power: float = 0.5, patch: int | None = 32,
                     skips: bool = True, seed: int = 0) -> tuple[UNet, dict]:
    """The chapter's CPU recipe: a small U-Net on the training scenes, validated on the validation scenes.

    400 training scenes of 48x48, one random 32x32 patch of each per epoch, square-root class
    weights, 12 epochs of Adam at a peak learning rate of 0.01: these defaults were chosen on the
    validation scenes; the caller measures the test scenes once.
    """
    splits = scene_splits() if splits is None else splits
    torch.manual_seed(check_int(seed, "seed", minimum=0))
    train, val = splits["train"], splits["val"]
    model = UNet(1, len(train.class_names), width=width, depth=depth, skips=skips)
    history = train_unet(model, train.images, train.masks, val.images, val.masks, epochs=epochs, lr=lr,
                         patch=patch, weight_power=weight_power, seed=seed)
    return model, history


def gpu_unet_scenes(device, offline: bool = False, tiny: bool = False) -> dict:
    """A wider, deeper U-Net on 20,000 training scenes of 96x96 with up to 8 objects, tested on 2,000.

    The scenes are generated, so ``offline`` changes nothing. Bar: test mIoU >= 0.95.
    """
    check_bool(offline, "offline")
    device = torch.device(device)
    n_train, n_test, size, epochs, width, depth = (64, 32, 32, 1, 4, 2) if check_bool(tiny, "tiny") \
        else (20000, 2000, 96, 30, 32, 3)
    from .data import make_scenes

    train = make_scenes(n_train, size, objects=(1, 8), split="train", seed=0)
    test = make_scenes(n_test, size, objects=(1, 8), split="test", seed=1)
    start = time.perf_counter()
    torch.manual_seed(0)
    model = UNet(1, len(train.class_names), width=width, depth=depth).to(device)
    X = torch.from_numpy(train.images[:, None]).to(device)
    Y = torch.from_numpy(train.masks).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    batch = 64
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 3e-3, total_steps=epochs * -(-len(X) // batch))
    use_amp = device.type == "cuda"
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(X), device=device)
        for i in range(0, len(X), batch):
            idx = order[i:i + batch]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss = nn.functional.cross_entropy(model(X[idx]), Y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
        pred = torch.cat([model(torch.from_numpy(test.images[i:i + 256, None]).to(device)).argmax(1).cpu()
                          for i in range(0, n_test, 256)]).numpy()
    M = confusion_matrix(test.masks, pred, len(train.class_names))
    return {"dataset": f"synthetic scenes {n_train}/{n_test} of {size}x{size}" + (" (tiny)" if tiny else ""),
            "epochs": epochs, "seconds": time.perf_counter() - start,
            "test_accuracy": float(np.trace(M) / M.sum()), "test_miou": float(np.nanmean(iou_from_confusion(M))),
            "bar": 0.95, "bar_metric": "test_miou"}


# Full-mode recipes that benchmarks/gpu_sections.py runs: name -> recipe(device, offline, tiny) -> metrics.
GPU_RECIPES = {"05_segmentation.unet_scenes": gpu_unet_scenes}
