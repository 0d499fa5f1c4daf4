"""Chapter 10's drawings hold what they say (units, recurrent arrows, gates) and refuse bad sizes; the
gradient-flow explorer's figure plots the Jacobian norms under their bound."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bad_input_table import table_tests  # noqa: E402
from dlcourse import rnn_diagrams as rd  # noqa: E402


def _gids(ax, gid):
    return [p for p in ax.patches if p.get_gid() == gid]


@pytest.mark.parametrize("steps", [1, 4])
def test_unrolled_rnn_has_one_column_per_step_and_a_recurrent_arrow_between_them(steps):
    ax = rd.draw_unrolled_rnn(steps)
    assert len(_gids(ax, "state")) == steps + 1  # the folded network plus the unrolled steps
    assert len(_gids(ax, "recurrent")) == steps + 1  # the loop, then h_0 -> h_1, ..., h_{T-1} -> h_T
    plt.close("all")


def test_lstm_cell_draws_four_gates_and_the_memory_line():
    ax = rd.draw_lstm_cell()
    assert len(_gids(ax, "gate")) == 4
    texts = " ".join(t.get_text() for t in ax.texts)
    assert all(f"${g}$" in texts for g in "ifgo")
    assert any(line.get_gid() == "memory" for line in ax.lines)
    plt.close("all")


def test_jordan_context_feeds_itself_and_elman_does_not():
    jordan, elman = rd.draw_recurrent_lineage("jordan"), rd.draw_recurrent_lineage("elman")
    assert len(_gids(jordan, "recurrent")) == 2 and len(_gids(elman, "recurrent")) == 1
    plt.close("all")


def test_gradient_flow_plots_norms_below_the_bound():
    fig = rd.plot_gradient_flow(1.5, 2.0, steps=20)
    bound, norms = (line.get_ydata() for line in fig.axes[0].lines[:2])
    assert len(norms) == 21 and norms[0] == pytest.approx(1.0)
    np.testing.assert_allclose(bound, 1.5 ** np.arange(21))
    assert np.all(norms <= bound * (1 + 1e-9))
    plt.close("all")


TABLE = {
    "draw_unrolled_rnn": (rd.draw_unrolled_rnn, {"steps": 2}, {"steps": [0, 9, 2.5, True], "ax": ["ax"]}),
    "draw_lstm_cell": (rd.draw_lstm_cell, {}, {"ax": [3]}),
    "draw_recurrent_lineage": (rd.draw_recurrent_lineage, {"kind": "jordan"}, {"kind": ["hopfield", 1]}),
    "plot_gradient_flow": (rd.plot_gradient_flow, {"steps": 3, "hidden": 2},
                           {"scale": [0.0, -1.0, np.nan], "input_scale": [0.0], "steps": [0], "hidden": [0]}),
}
globals().update(table_tests(TABLE, [rd], cleanup=lambda: plt.close("all")))
