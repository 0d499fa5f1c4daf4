"""Saliency, CAM and Grad-CAM against hand computations with autograd, and the patch geometry."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from dlcourse.cnn import receptive_field
from dlcourse.cnn_training import mnist_cnn
from dlcourse.saliency import (_geometry, activations, class_activation_map, grad_cam, plot_explanations,
                               plot_filters, saliency_map, top_patches)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    net = mnist_cnn(4).double().float()
    with torch.no_grad():  # non-trivial BN statistics, so eval mode differs from train mode
        for m in net:
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0, 1, size=(6, 784))


def _hand_grad_cam(model, x, layer, c):
    """Grad-CAM by a forward hook and a tensor hook: no slicing of the Sequential."""
    store = {}

    def keep(_module, _inputs, output):
        store["A"] = output
        output.register_hook(lambda g: store.__setitem__("dA", g))

    handle = model[layer].register_forward_hook(keep)
    try:
        score = model(torch.tensor(x, dtype=torch.float32).reshape(1, 1, 28, 28))[0, c]
        score.backward()
    finally:
        handle.remove()
    A, dA = store["A"][0].detach().numpy(), store["dA"][0].numpy()
    alpha = dA.mean(axis=(1, 2))
    return np.maximum(np.tensordot(alpha, A, axes=1), 0.0)


@pytest.mark.parametrize("layer", [3, 7, 10])
def test_grad_cam_matches_a_hand_computation_with_hooks(model, images, layer):
    for c in (0, 3):
        ours, got_c = grad_cam(model, images[1], layer, target=c, upsample=False)
        assert got_c == c
        np.testing.assert_allclose(ours, _hand_grad_cam(model, images[1], layer, c), rtol=1e-5, atol=1e-7)


def test_grad_cam_at_the_last_conv_is_relu_cam_over_hw(model, images):
    """With GAP + linear, d y_c / d A_k[i, j] = w_ck / (hw): Grad-CAM = relu(CAM) / (hw)."""
    cam, c = class_activation_map(model, images[2], upsample=False)
    gcam, c2 = grad_cam(model, images[2], 11, upsample=False)
    assert c == c2 and cam.shape == (7, 7)
    np.testing.assert_allclose(gcam, np.maximum(cam, 0) / 49, rtol=1e-5, atol=1e-8)


def test_cam_sums_to_the_class_score_minus_the_bias(model, images):
    cam, c = class_activation_map(model, images[0], target=4, upsample=False)
    with torch.no_grad():
        score = model(torch.tensor(images[0], dtype=torch.float32).reshape(1, 1, 28, 28))[0, 4]
    assert cam.mean() == pytest.approx(float(score - model[-1].bias[4].detach()), rel=1e-5, abs=1e-6)
    up, _ = class_activation_map(model, images[0], target=4)
    assert up.shape == (28, 28)


def test_saliency_is_the_absolute_input_gradient(model, images):
    x = torch.tensor(images[3], dtype=torch.float32).reshape(1, 1, 28, 28).requires_grad_(True)
    scores = model(x)
    c = int(scores.argmax())
    scores[0, c].backward()
    ours, got_c = saliency_map(model, images[3])
    assert got_c == c
    np.testing.assert_allclose(ours, x.grad[0, 0].abs().numpy(), rtol=1e-6)


def test_patch_geometry_matches_the_receptive_field_formula(model):
    assert _geometry(model, 3) == (3, 1, -1)                     # conv1's ReLU: 3x3, starting one row above
    assert _geometry(model, 7)[0] == receptive_field([(3, 1), (2, 2), (3, 1)]) == 8
    assert _geometry(model, 10)[0] == receptive_field([(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)]) == 18


def test_top_patch_of_a_first_layer_channel_is_where_it_fires_most(model, images):
    patches = top_patches(model, images, 3, channel=1, k=3)
    A = activations(model, images, 3)[:, 1]
    n = int(A.reshape(6, -1).max(1).argmax())
    i, j = np.unravel_index(A[n].argmax(), A[n].shape)
    padded = np.pad(images[n].reshape(28, 28), 1)
    np.testing.assert_allclose(patches[0], padded[i:i + 3, j:j + 3], rtol=1e-6)
    assert patches.shape == (3, 3, 3)


def test_figures_and_bad_input(model, images):
    fig = plot_filters(model[1].weight)
    assert sum(len(ax.images) > 0 for ax in fig.axes) == 4
    plt.close(fig)
    fig = plot_explanations(images[:2].reshape(2, 28, 28), {"m": np.ones((2, 28, 28)), "n": np.zeros((2, 28, 28))},
                            ["a", "b"])
    assert len(fig.axes) == 4 and fig.axes[0].get_ylabel() == "m"
    plt.close(fig)
    with pytest.raises(ValueError, match="Sequential"):
        grad_cam(nn.Conv2d(1, 1, 3), images[0], 0)
    with pytest.raises(ValueError, match="layer"):
        grad_cam(model, images[0], 99)
    with pytest.raises(ValueError, match="feature maps"):
        grad_cam(model, images[0], 13)
    with pytest.raises(ValueError, match="global average pooling"):
        class_activation_map(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), images[0])
    with pytest.raises(ValueError, match="target"):
        saliency_map(model, images[0], target=10)
    with pytest.raises(ValueError, match="channel"):
        top_patches(model, images, 3, channel=99)
    with pytest.raises(ValueError, match="finite"):
        saliency_map(model, np.full(784, np.nan))
    with pytest.raises(ValueError, match="1 to 3 images"):
        plot_explanations(np.ones((4, 2, 2)), {"m": np.ones((4, 2, 2))}, list("abcd"))
