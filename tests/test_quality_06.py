"""Chapter 6's quality bar: the CPU-mode grid detector reaches mAP@0.5 >= 0.7 on held-out test scenes
(digits from the MNIST test images), trained on training scenes and chosen on validation scenes."""
from __future__ import annotations

import pytest
import torch

from dlcourse import detector
from dlcourse.data import make_scenes


@pytest.mark.quality
def test_the_grid_detector_reaches_map_0_7_on_held_out_scenes():
    torch.set_num_threads(1)
    train, val = make_scenes(1000, seed=1), make_scenes(300, split="validation", seed=2)
    test = make_scenes(500, split="test", seed=3)
    model, history = detector.train_detector(train, val, epochs=8, width=24, learning_rate=4e-3)
    assert history["val_map"][-1] >= 0.7
    test_map, per_class = detector.evaluate_map(model, test)
    assert test_map >= 0.7, per_class
    assert min(per_class.values()) >= 0.5 and set(per_class) == {1, 2, 3, 4}
