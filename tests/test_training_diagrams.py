"""Chapter 3's diagrams: the dropped units and their missing weights, the residual block's parts."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from dlcourse.diagrams import edge_segments  # noqa: E402
from dlcourse.training_diagrams import draw_dropout_network, draw_residual_block  # noqa: E402


def test_dropout_network_draws_kept_and_dropped_units_and_only_the_surviving_weights():
    kept = [[True, False, True], [False, True]]
    ax = draw_dropout_network((4, 3, 2, 1), kept)
    gids = [p.get_gid() for p in ax.patches]
    assert gids.count("unit") == 4 + 2 + 1 + 1 and gids.count("dropped") == 2
    assert len(edge_segments(ax)) == 4 * 2 + 2 * 1 + 1 * 1  # edges between surviving units only
    plt.close(ax.figure)


def test_residual_block_has_three_boxes_a_sum_and_a_skip():
    ax = draw_residual_block()
    gids = [p.get_gid() for p in ax.patches]
    assert gids.count("box") == 4 and gids.count("sum") == 1 and gids.count("arrow") == 6
    plt.close(ax.figure)


@pytest.mark.parametrize("sizes, kept, message", [
    ((3, 2), [], "at least 3"), ((3, 9, 2), [[True] * 9], "at most 8"), ((3, 2, 2), [], "one mask"),
    ((3, 2, 2), [[1, 0]], "booleans"), ((3, 2, 2), [[True]], "shape"), ((3, 0, 2), [[]], "layer_sizes"),
])
def test_bad_input_raises_a_clear_value_error(sizes, kept, message):
    with pytest.raises(ValueError, match=message):
        draw_dropout_network(sizes, kept)
