"""The U-Net: size arithmetic (572 -> 388), skip connections, the weighted loss, patches, training, GPU recipe."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bad_input_table import table_tests
from dlcourse import unet
from dlcourse.data import make_scenes


def test_the_original_unet_maps_572_to_388_step_by_step():
    sizes = dict(unet.unet_sizes(572))
    assert unet.unet_output_size(572) == 388
    assert [sizes[f"enc{level}.conv2"] for level in range(5)] == [568, 280, 136, 64, 28]
    assert [sizes[f"up{level}"] for level in (4, 3, 2, 1)] == [56, 104, 200, 392]
    assert unet.unet_output_size(572, depth=0) == 568
    assert unet.unet_output_size(100, depth=1, convs=1) == 92  # 98, pool 49, 47, up 94, 92


def test_the_valid_unet_network_produces_the_size_the_arithmetic_predicts():
    for size, depth in [(572, 4), (60, 2), (44, 1)]:
        model = unet.UNet(1, 2, width=1, depth=depth, valid=True)
        with torch.no_grad():
            out = model(torch.zeros(1, 1, size, size))
        assert out.shape == (1, 2, unet.unet_output_size(size, depth), unet.unet_output_size(size, depth))


def test_an_odd_map_before_a_pool_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="odd side"):
        unet.unet_sizes(571)


def test_center_crop_takes_the_middle_and_the_skip_concatenates_the_cropped_pre_pooling_map():
    x = torch.arange(36.0).reshape(1, 1, 6, 6)
    np.testing.assert_array_equal(unet.center_crop(x, 2, 4)[0, 0].numpy(), [[13, 14, 15, 16], [19, 20, 21, 22]])
    model = unet.UNet(1, 3, width=2, depth=1, valid=True).eval()
    seen = {}
    model.merge[0].register_forward_hook(lambda m, inp, out: seen.update(merge_in=inp[0]))  # returns None
    model.down[0].register_forward_hook(lambda m, inp, out: seen.update(pre_pool=out))
    with torch.no_grad():
        model(torch.rand(1, 1, 20, 20))
    merged, pre_pool = seen["merge_in"], seen["pre_pool"]
    assert merged.shape[1] == 4                       # 2 copied + 2 up-sampled channels
    h = merged.shape[-1]
    torch.testing.assert_close(merged[:, :2], unet.center_crop(pre_pool, h, h))


def test_padded_unet_keeps_the_size_and_the_no_skip_variant_has_fewer_parameters():
    model, plain = unet.UNet(1, 5, width=4, depth=2), unet.UNet(1, 5, width=4, depth=2, skips=False)
    with torch.no_grad():
        assert model(torch.zeros(2, 1, 16, 24)).shape == (2, 5, 16, 24)
        assert plain(torch.zeros(2, 1, 16, 24)).shape == (2, 5, 16, 24)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    # each merge block's first conv reads c copied channels fewer: 3 * 3 * c * c weights per level
    assert count(model) - count(plain) == sum(9 * c * c for c in (4, 8))


def test_weighted_cross_entropy_matches_torch_and_autograd():
    rng = torch.Generator().manual_seed(0)
    scores = torch.randn(2, 4, 5, 3, dtype=torch.float64, generator=rng, requires_grad=True)
    target = torch.randint(0, 4, (2, 5, 3), generator=rng)
    weights = torch.tensor([0.2, 1.0, 3.0, 0.5], dtype=torch.float64)
    for w in (None, weights):
        ours = unet.weighted_cross_entropy(scores, target, w)
        ref = F.cross_entropy(scores, target, weight=w)
        torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
        g_ours, = torch.autograd.grad(ours, scores)
        g_ref, = torch.autograd.grad(ref, scores)
        torch.testing.assert_close(g_ours, g_ref, rtol=1e-10, atol=1e-12)


def test_class_weights_follow_the_frequencies():
    masks = np.array([[0] * 6 + [1] * 3 + [2]])             # frequencies 0.6, 0.3, 0.1, and class 3 absent
    freq = np.array([0.6, 0.3, 0.1])
    for power in (0.0, 0.5, 1.0):
        w = unet.class_weights(masks, 4, power)
        expected = freq ** -power / np.sum(freq * freq ** -power)
        np.testing.assert_allclose(w[:3], expected, rtol=1e-12)
        assert w[3] == 0 and np.sum(freq * w[:3]) == pytest.approx(1.0)
    np.testing.assert_allclose(unet.class_weights(masks, 3, 1.0), [1 / 1.8, 1 / 0.9, 1 / 0.3], rtol=1e-12)


def test_random_patches_are_aligned_crops_of_image_and_mask():
    images = np.arange(2 * 6 * 7, dtype=float).reshape(2, 6, 7)
    masks = (images * 10).astype(np.int64)
    x, y = unet.random_patches(images, masks, 3, np.random.default_rng(0))
    assert x.shape == (2, 3, 3) and np.array_equal(y, (x * 10).astype(np.int64))
    for n in range(2):  # each patch is a contiguous window of its own image
        r, c = divmod(int(x[n, 0, 0] - n * 42), 7)
        np.testing.assert_array_equal(x[n], images[n, r:r + 3, c:c + 3])


def test_training_on_tiny_scenes_lowers_the_loss_and_reports_validation_miou():
    scenes = make_scenes(24, 16, scale=(5, 8), seed=0)
    torch.manual_seed(0)
    model = unet.UNet(1, 5, width=4, depth=1)
    history = unet.train_unet(model, scenes.images, scenes.masks, scenes.images[:8], scenes.masks[:8],
                              epochs=6, lr=1e-2, batch_size=8, patch=12, weight_power=0.5, seed=0)
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert len(history["val_miou"]) == 6 and all(0 <= v <= 1 for v in history["val_miou"])
    pred = unet.predict_masks(model, scenes.images[:3])
    assert pred.shape == (3, 16, 16) and pred.dtype == np.int64


def test_scene_splits_keep_train_validation_and_test_apart():
    splits = unet.scene_splits(5, 4, 3, size=16, scale=(4, 6))
    assert [len(splits[k]) for k in ("train", "val", "test")] == [5, 4, 3]
    assert not np.array_equal(splits["train"].images[:4], splits["val"].images)


def test_the_gpu_recipe_runs_tiny_on_cpu():
    result = unet.GPU_RECIPES["05_segmentation.unet_scenes"]("cpu", offline=True, tiny=True)
    assert set(result) >= {"dataset", "seconds", "test_accuracy", "test_miou", "bar"}
    assert 0 <= result["test_accuracy"] <= 1 and 0 <= result["test_miou"] <= 1 and result["seconds"] > 0


# ---------------------------------------------------------------- bad input

IMAGES, MASKS = np.zeros((2, 8, 8)), np.zeros((2, 8, 8), dtype=np.int64)
TABLE = {
    "unet_sizes": (unet.unet_sizes, {"input_size": 572}, {"input_size": [0, 571, 20, 572.0], "depth": [-1, True],
                                                          "convs": [0], "kernel": [0]}),
    "unet_output_size": (unet.unet_output_size, {"input_size": 572}, {"input_size": [True, 30], "depth": [1.5]}),
    "center_crop": (unet.center_crop, {"x": torch.zeros(1, 1, 4, 4), "height": 2, "width": 2}, {"height": [5]}),
    "UNet": (unet.UNet, {"width": 2, "depth": 1}, {"in_channels": [0], "n_classes": [0, 2.0], "width": [-1],
                                                   "depth": [-1], "valid": [0], "skips": ["yes"]}),
    "class_weights": (unet.class_weights, {"masks": MASKS, "n_classes": 2},
                      {"masks": [np.zeros((2, 2)), np.full((2, 2), 3), np.zeros(0, int), np.array([True])],
                       "n_classes": [0], "power": [-1.0, np.nan]}),
    "weighted_cross_entropy": (unet.weighted_cross_entropy, {"scores": torch.zeros(1, 2, 2, 2),
                                                             "target": torch.zeros(1, 2, 2, dtype=torch.long)}, {}),
    "random_patches": (unet.random_patches, {"images": IMAGES, "masks": MASKS, "patch": 4,
                                             "rng": np.random.default_rng(0)}, {}),
    "predict_masks": (unet.predict_masks, {"model": unet.UNet(width=2, depth=1), "images": IMAGES},
                      {"images": [np.zeros((8, 8)), np.full((1, 8, 8), np.nan)]}),
    "evaluate_miou": (unet.evaluate_miou, {"model": unet.UNet(width=2, depth=1), "images": IMAGES, "masks": MASKS,
                                           "n_classes": 5}, {"masks": [np.zeros((2, 8, 8)), np.full((2, 8, 8), 9)]}),
    "train_unet": (unet.train_unet, {"model": unet.UNet(width=2, depth=1), "images": IMAGES, "masks": MASKS,
                                     "epochs": 1},
                   {"images": [np.zeros((8, 8)), np.zeros((0, 8, 8))], "masks": [np.zeros((2, 8, 7), int)],
                    "val_images": [IMAGES], "epochs": [0], "lr": [0.0], "batch_size": [1.5], "patch": [9, 0],
                    "weight_power": [-0.5], "seed": [-1]}),
    "scene_splits": (unet.scene_splits, {"n_train": 2, "n_val": 2, "n_test": 2, "size": 16},
                     {"n_train": [0], "n_val": [1.0], "n_test": [-1], "seed": [True]}),
    "train_scene_unet": (unet.train_scene_unet, {"splits": unet.scene_splits(4, 2, 2, size=16), "epochs": 1,
                                                 "patch": 8, "width": 2, "depth": 1},
                         {"epochs": [0], "width": [0], "depth": [-1], "lr": [-1.0], "patch": [17], "seed": [-2]}),
    "gpu_unet_scenes": (unet.gpu_unet_scenes, {"device": "cpu", "tiny": True}, {"tiny": [1], "offline": ["no"]}),
}
globals().update(table_tests(TABLE, [unet]))
