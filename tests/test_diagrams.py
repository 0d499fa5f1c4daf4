import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from dlcourse import diagrams  # noqa: E402
from dlcourse.diagrams import edge_segments, unit_circles  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def _shown(n: int) -> int:
    return n if n <= diagrams.MAX_SHOWN_UNITS else 5


def test_layered_network_draws_one_circle_per_unit_and_one_line_per_weight():
    ax = diagrams.draw_layered_network([2, 3, 1])
    assert isinstance(ax, matplotlib.axes.Axes)
    assert len(unit_circles(ax)) == 2 + 3 + 1
    assert len(edge_segments(ax)) == 2 * 3 + 3 * 1
    assert {"input $x$", "hidden $a^{1}$", "output $y$"} <= set(_texts(ax))


def test_layered_network_joins_every_unit_of_one_layer_to_every_unit_of_the_next():
    ax = diagrams.draw_layered_network([2, 3])
    centres = {tuple(np.round(c.center, 6)) for c in unit_circles(ax)}
    left = sorted(c for c in centres if c[0] == 0.0)
    right = sorted(c for c in centres if c[0] > 0.0)
    drawn = {tuple(map(tuple, np.round(seg, 6))) for seg in edge_segments(ax)}
    assert drawn == {(a, b) for a in left for b in right}


def test_wide_layers_are_elided_with_dots_and_their_width_is_written():
    ax = diagrams.draw_layered_network([784, 16, 10])
    assert len(unit_circles(ax)) == 5 + 5 + 5
    assert len(edge_segments(ax)) == 5 * 5 + 5 * 5
    texts = _texts(ax)
    assert texts.count(r"$\vdots$") == 3
    assert "784 units" in texts and "10 units" in texts


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=2, max_size=5))
def test_layered_network_counts_match_the_visible_units_for_any_sizes(sizes):
    ax = diagrams.draw_layered_network(sizes)
    shown = [_shown(n) for n in sizes]
    assert len(unit_circles(ax)) == sum(shown)
    assert len(edge_segments(ax)) == sum(a * b for a, b in zip(shown, shown[1:]))
    plt.close(ax.figure)


def test_layered_network_uses_the_given_labels_and_axes():
    fig, ax = plt.subplots()
    out = diagrams.draw_layered_network([3, 2], ax=ax, labels=["pixels", "scores"], title="A net")
    assert out is ax
    assert {"pixels", "scores"} <= set(_texts(ax))
    assert ax.get_title() == "A net"


@pytest.mark.parametrize("sizes, message", [
    ([3], "at least 2 layers"),
    ([], "at least 2 layers"),
    ([3, 0, 1], r"layer_sizes\[1\] must be an integer >= 1"),
    ([3, -2], r"layer_sizes\[1\]"),
    ([3, 2.0], r"layer_sizes\[1\] must be an integer"),
    ([True, 2], r"layer_sizes\[0\] must be an integer"),
    ("32", "sequence of positive integers"),
    (5, "sequence of positive integers"),
])
def test_layered_network_rejects_bad_sizes(sizes, message):
    with pytest.raises(ValueError, match=message):
        diagrams.draw_layered_network(sizes)


def test_layered_network_rejects_labels_of_the_wrong_length():
    with pytest.raises(ValueError, match="labels must be 3 strings"):
        diagrams.draw_layered_network([2, 3, 1], labels=["in", "out"])


def test_visible_units_keeps_the_first_three_and_last_two_of_a_wide_layer():
    assert diagrams.visible_units(8) == list(range(8))
    assert diagrams.visible_units(9) == [0, 1, 2, 7, 8]
    with pytest.raises(ValueError, match="n_units must be an integer >= 1"):
        diagrams.visible_units(0)


@pytest.mark.parametrize("n_inputs, labels", [
    (1, ["$x_0 = 1$", "$x_{1}$"]),
    (3, ["$x_0 = 1$", "$x_{1}$", "$x_{2}$", "$x_{3}$"]),
    (50, ["$x_0 = 1$", "$x_1$", "$x_2$", "$x_I$"]),
])
def test_threshold_neuron_draws_the_bias_input_and_one_weight_per_drawn_input(n_inputs, labels):
    ax = diagrams.draw_threshold_neuron(n_inputs)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert len(unit_circles(ax)) == len(labels)
    assert len(edge_segments(ax)) == len(labels)
    texts = _texts(ax)
    assert all(label in texts for label in labels)
    assert "$w_0$" in texts or "$w_{0}$" in texts
    assert "$y$" in texts and r"$\Sigma$" in texts
    assert [p.get_gid() for p in ax.patches].count("step") == 1
    assert (r"$\vdots$" in texts) == (n_inputs > 3)


def test_threshold_neuron_lines_all_end_at_the_sum():
    ax = diagrams.draw_threshold_neuron(3)
    ends = {tuple(seg[1]) for seg in edge_segments(ax)}
    assert len(ends) == 1


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3", None])
def test_threshold_neuron_rejects_bad_input_counts(bad):
    with pytest.raises(ValueError, match="n_inputs must be an integer"):
        diagrams.draw_threshold_neuron(bad)


@pytest.mark.parametrize("n", [2, 3, 5, 8, 16])
def test_hopfield_network_has_one_symmetric_weight_per_pair_and_no_self_loops(n):
    ax = diagrams.draw_hopfield_network(n)
    assert isinstance(ax, matplotlib.axes.Axes)
    circles = unit_circles(ax)
    assert len(circles) == n
    segments = edge_segments(ax)
    assert len(segments) == n * (n - 1) // 2
    centres = [tuple(np.round(c.center, 6)) for c in circles]
    pairs = {frozenset(tuple(np.round(p, 6)) for p in seg) for seg in segments}
    assert all(len(pair) == 2 for pair in pairs)  # no segment from a unit to itself
    assert pairs == {frozenset((a, b)) for i, a in enumerate(centres) for b in centres[i + 1:]}


def test_hopfield_network_fills_units_by_state():
    ax = diagrams.draw_hopfield_network(4, states=[1, -1, -1, 1])
    fills = [matplotlib.colors.to_hex(c.get_facecolor()) for c in unit_circles(ax)]
    assert fills[0] == fills[3] != fills[1] == fills[2]
    assert fills[1] == "#ffffff"


@pytest.mark.parametrize("n", [1, 0, 17, 3.0, False])
def test_hopfield_network_rejects_bad_sizes(n):
    with pytest.raises(ValueError, match="n_units must be an integer >= 2 and <= 16"):
        diagrams.draw_hopfield_network(n)


@pytest.mark.parametrize("states", [[1, -1], [1, 0, 1], [1, -1, 2], ["a", "b", "c"], [True, False, True],
                                    [[1], [1, -1], 1], [1, float("nan"), 1]])
def test_hopfield_network_rejects_states_that_are_not_plus_minus_one(states):
    with pytest.raises(ValueError, match="states must be 3 values, each \\+1 or -1"):
        diagrams.draw_hopfield_network(3, states=states)


EVENTS = [(1958, "perceptron", "learning"), (1943, "threshold neuron", "model"), (1969, "limits", "setback")]
KINDS = {"model": "models", "learning": "learning rules", "setback": "setbacks"}


def _event_markers(ax):
    return [line for line in ax.lines if line.get_gid() == "event"]


def test_timeline_draws_one_marker_and_one_label_per_event_in_year_order():
    ax = diagrams.draw_timeline(EVENTS, KINDS, spans=[(1969, 1982, "winter")], title="History")
    assert isinstance(ax, matplotlib.axes.Axes)
    markers = _event_markers(ax)
    assert [m.get_xdata()[0] for m in markers] == [1943, 1958, 1969]
    assert [m.get_ydata()[0] for m in markers] == [0, 1, 2]
    texts = _texts(ax)
    assert ["1943  threshold neuron", "1958  perceptron", "1969  limits"] == [t for t in texts if t[:2] == "19"]
    assert "winter" in texts
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(KINDS.values())


def test_timeline_gives_each_kind_its_own_colour_and_marker():
    ax = diagrams.draw_timeline(EVENTS, KINDS)
    styles = {(m.get_color(), m.get_marker()) for m in _event_markers(ax)}
    assert len(styles) == 3


def test_timeline_until_keeps_the_axes_of_the_full_timeline():
    full = diagrams.draw_timeline(EVENTS, KINDS)
    early = diagrams.draw_timeline(EVENTS, KINDS, until=1960)
    assert len(_event_markers(early)) == 2
    assert early.get_xlim() == full.get_xlim() and early.get_ylim() == full.get_ylim()


@pytest.mark.parametrize("events, kinds, message", [
    ([], KINDS, "at least one"),
    ([(1943, "x")], KINDS, r"events\[0\] must be a \(year, label, kind\) triple"),
    ([(1943.5, "x", "model")], KINDS, r"events\[0\] year must be an integer"),
    ([(1943, "x", "unknown")], KINDS, r"events\[0\] kind must be one of"),
    (EVENTS, {}, "kinds must map"),
])
def test_timeline_rejects_malformed_events(events, kinds, message):
    with pytest.raises(ValueError, match=message):
        diagrams.draw_timeline(events, kinds)


def test_timeline_rejects_a_non_integer_until():
    with pytest.raises(ValueError, match="until must be an integer"):
        diagrams.draw_timeline(EVENTS, KINDS, until="1960")


@pytest.mark.parametrize("low, text", [(-1, "$y = +1$ if $a > 0$\nelse $-1$"), (0, "$y = 1$ if $a > 0$\nelse $0$")])
def test_threshold_neuron_writes_the_step_of_the_chosen_convention(low, text):
    assert text in _texts(diagrams.draw_threshold_neuron(2, low=low))


@pytest.mark.parametrize("low", [1, -2, -0.5, "0", True, False])
def test_threshold_neuron_rejects_an_unknown_convention(low):
    with pytest.raises(ValueError, match="low must be an integer >= -1 and <= 0"):
        diagrams.draw_threshold_neuron(2, low=low)
