"""The chapter 11 diagrams draw the expected boxes and refuse bad sizes."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bad_input_table import table_tests  # noqa: E402
from dlcourse import embedding_diagrams as ed  # noqa: E402


@pytest.mark.parametrize("n", [2, 4, 6])
def test_nnlm_has_two_boxes_per_context_word_and_three_layers(n):
    ax = ed.draw_nnlm(n)
    assert len(ax.patches) == 2 * (n - 1) + 3
    assert any(f"{n - 1}m" in t.get_text() for t in ax.texts)
    plt.close("all")


@pytest.mark.parametrize("kind", ["skip-gram", "CBOW"])
def test_word2vec_diagram_has_a_box_per_context_word(kind):
    ax = ed.draw_word2vec(kind, window=2)
    assert len(ax.patches) == 4 + 2
    plt.close("all")


def test_noise_plot_bars_are_the_two_distributions():
    fig = ed.plot_noise_distribution(np.array([81.0, 16.0, 1.0]), ["a", "b", "c"], 0.75)
    heights = [p.get_height() for p in fig.axes[0].patches]
    np.testing.assert_allclose(heights[3:], np.array([27.0, 8.0, 1.0]) / 36.0)
    plt.close("all")


TABLE = {
    "draw_nnlm": (ed.draw_nnlm, {"n": 3}, {"n": [1, 7, 2.0], "ax": ["ax"]}),
    "draw_word2vec": (ed.draw_word2vec, {"kind": "CBOW"}, {"kind": ["cbow", None], "window": [0, 4]}),
    "plot_noise_distribution": (ed.plot_noise_distribution, {"counts": np.array([2.0, 1.0]), "words": ["a", "b"]},
                                {"counts": [np.array([0.0, 0.0]), np.array([np.nan, 1.0])],
                                 "words": [["a"], "ab"], "power": [1.5, -0.1]}),
}
globals().update(table_tests(TABLE, [ed], cleanup=lambda: plt.close("all")))
