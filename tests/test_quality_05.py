"""Chapter 5 quality bar: the small U-Net reaches mIoU >= 0.85 on held-out test scenes in CPU mode.

The chapter's protocol: 400 training scenes, 200 validation scenes (where the recipe was chosen) and
300 test scenes, measured once; the three sets use disjoint MNIST digit images.
"""
import numpy as np
import pytest
import torch

from dlcourse.segmentation import per_class_iou
from dlcourse.unet import predict_masks, scene_splits, train_scene_unet


@pytest.mark.quality
def test_small_unet_reaches_085_test_miou_on_held_out_scenes():
    torch.set_num_threads(1)  # as the notebook: on 2 shared cores a second thread mostly waits
    splits = scene_splits()
    model, history = train_scene_unet(splits)
    assert history["val_miou"][-1] >= 0.85, f"validation mIoU {history['val_miou'][-1]:.3f} < 0.85"
    test = splits["test"]
    iou = per_class_iou(test.masks, predict_masks(model, test.images), len(test.class_names))
    assert np.nanmean(iou) >= 0.85, f"test mIoU {np.nanmean(iou):.3f} < 0.85 (per class {np.round(iou, 3)})"
    assert iou.min() >= 0.6, f"a class is badly segmented: per-class IoU {np.round(iou, 3)}"
