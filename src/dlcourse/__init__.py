"""dlcourse: the helper package of an open deep-learning course.

Reusable pieces live here (mode and seeding, data, a small training loop, plotting, widgets,
exercise checks); each chapter's own ideas live in one module named for the concept,
e.g. ``dlcourse.perceptron`` or ``dlcourse.mlp``.
"""
from __future__ import annotations

from .config import get_device, get_mode, is_full, seed_everything, setup

__version__ = "0.1.0"

__all__ = ["get_device", "get_mode", "is_full", "seed_everything", "setup", "__version__"]
