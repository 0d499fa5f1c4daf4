"""dlcourse.widgets: the controls' frame grid, its caps, the precomputed frames and the two renderings.

The browser side (the player's controls swapping these frames in Chromium) is tested on the built
book in tests/test_book.py.
"""
import matplotlib

matplotlib.use("Agg")

import io  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
from base64 import b64decode  # noqa: E402

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from PIL import Image  # noqa: E402

from dlcourse import widgets as dw  # noqa: E402
from dlcourse.widgets import explorer  # noqa: E402

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(autouse=True)
def fresh_page(monkeypatch):
    monkeypatch.setattr(dw, "_page_bytes", {})  # each test is its own "notebook"


def player_data(box) -> dict:
    """The JSON the kernel-free player carries, from the explorer's text/html rendering."""
    page = box._repr_mimebundle_()["text/html"]
    found = re.search(r'<script type="application/json" class="dlx-data">(.*?)</script>', page, re.DOTALL)
    assert found, "the player carries no frame data"
    return json.loads(found.group(1))


def labelled_plot(calls: list):
    """A plot function whose figure shows its arguments, so that every grid point looks different."""
    def plot(**values):
        calls.append(tuple(values.values()))
        fig, ax = plt.subplots(figsize=(2, 1.5))
        ax.text(0.1, 0.5, repr(values), fontsize=6)
        ax.axis("off")
        return fig
    return plot


# ---- the grid of one control ---------------------------------------------------------------------

def test_int_slider_positions_are_min_plus_multiples_of_step():
    axis = dw.control_axis("d", widgets.IntSlider(value=8, min=2, max=14, step=3, description="bits d"))
    assert axis.values == (2, 5, 8, 11, 14)
    assert axis.readouts == ("2", "5", "8", "11", "14")
    assert axis.start == 2 and axis.label == "bits d" and axis.kind == "range"


def test_float_and_log_sliders_follow_their_step_and_readout_format():
    axis = dw.control_axis("w0", widgets.FloatSlider(value=0.0, min=-3, max=3, step=0.5))
    np.testing.assert_allclose(axis.values, np.arange(-3, 3.01, 0.5))
    assert axis.readouts[0] == "-3.00" and axis.start == 6
    log = widgets.FloatLogSlider(value=1.0, base=10, min=-2, max=1, step=0.25, description="eta")
    axis = dw.control_axis("eta", log)
    np.testing.assert_allclose(axis.values, np.logspace(-2, 1, 13))
    assert axis.readouts[:2] == ("0.01", "0.0178") and axis.values[axis.start] == pytest.approx(1.0)


def test_a_value_off_the_grid_snaps_to_the_nearest_position_in_both_renderings():
    control = widgets.FloatLogSlider(value=0.3, base=10, min=-3, max=1, step=0.5)
    axis = dw.control_axis("lr", control)
    assert axis.values[axis.start] == pytest.approx(10 ** -0.5)  # log10(0.3) = -0.52
    assert control.value == pytest.approx(10 ** -0.5)  # the live widget starts there too


def test_option_controls_pass_values_and_show_labels():
    for cls in (widgets.Dropdown, widgets.RadioButtons, widgets.ToggleButtons, widgets.Select):
        axis = dw.control_axis("gate", cls(options=[("logical and", "AND"), ("xor", "XOR")], value="XOR"))
        assert axis.values == ("AND", "XOR") and axis.readouts == ("logical and", "xor")
        assert axis.start == 1 and axis.kind == "select"
    axis = dw.control_axis("year", widgets.SelectionSlider(options=[1943, 1958, 1986], value=1958))
    assert axis.values == (1943, 1958, 1986) and axis.kind == "range" and axis.start == 1
    for cls in (widgets.Checkbox, widgets.ToggleButton):
        axis = dw.control_axis("flag", cls(value=True))
        assert axis.values == (False, True) and axis.start == 1 and axis.kind == "checkbox"


@settings(max_examples=40, deadline=None)
@given(low=st.integers(-50, 50), count=st.integers(1, 40), step=st.integers(1, 7), pick=st.integers(0, 39))
def test_int_grid_matches_range_for_any_bounds(low, count, step, pick):
    high = low + (count - 1) * step + (step - 1 if step > 1 else 0)  # a max that is not on the grid
    value = low + min(pick, count - 1) * step
    axis = dw.control_axis("n", widgets.IntSlider(value=value, min=low, max=high, step=step))
    assert axis.values == tuple(range(low, high + 1, step))
    assert axis.values[axis.start] == value


@settings(max_examples=40, deadline=None)
@given(low=st.floats(-10, 10), count=st.integers(1, 60), step=st.sampled_from([0.01, 0.1, 0.25, 0.3, 1.5]))
def test_float_grid_has_every_step_up_to_max(low, count, step):
    high = low + (count - 1) * step
    axis = dw.control_axis("x", widgets.FloatSlider(value=low, min=low, max=high, step=step))
    assert len(axis.values) == count
    np.testing.assert_allclose(np.diff(axis.values), step, atol=1e-9)
    assert axis.values[0] == pytest.approx(low) and axis.values[-1] == pytest.approx(high)


# ---- the caps -------------------------------------------------------------------------------------

def test_grid_over_the_cap_is_refused_before_anything_is_drawn():
    calls = []
    controls = dict(a=widgets.IntSlider(min=0, max=12), b=widgets.Dropdown(options=list("xyz")),
                    c=widgets.Checkbox())
    with pytest.raises(ValueError, match=r"13 \(a\) x 3 \(b\) x 2 \(c\) x 2 \(d\) = 156 frames.*cap of 128"):
        dw.frame_grid({**controls, "d": widgets.ToggleButtons(options=[1, 2])})
    with pytest.raises(ValueError, match=r"= 156 frames, more than the cap of 128: use fewer positions"):
        explorer(labelled_plot(calls), **controls, d=widgets.ToggleButtons(options=[1, 2]))
    assert calls == []
    assert len(dw.frame_grid(controls)) == 3  # 78 frames: allowed


def test_one_slider_with_too_many_positions_is_refused_with_its_count():
    with pytest.raises(ValueError, match=r"'year' has 201 positions, more than the 128 frames.*raise its step"):
        dw.control_axis("year", widgets.IntSlider(value=1986, min=1900, max=2100))


def test_controls_without_a_finite_grid_are_refused():
    for control in (widgets.Text(), widgets.IntText(), widgets.IntRangeSlider()):
        with pytest.raises(ValueError, match="finite grid.*IntSlider"):
            dw.control_axis("c", control)
    with pytest.raises(ValueError, match="value widget"):
        explorer(labelled_plot([]), a=3)
    with pytest.raises(ValueError, match="at least one control"):
        explorer(labelled_plot([]))


def test_byte_caps_per_explorer_and_per_page(monkeypatch):
    size = len(explorer(labelled_plot([]), a=widgets.IntSlider(min=0, max=3)).player_html.encode())
    monkeypatch.setattr(dw, "MAX_EXPLORER_BYTES", size - 1)
    with pytest.raises(ValueError, match="MB, more than the cap of .* MB per explorer"):
        explorer(labelled_plot([]), a=widgets.IntSlider(min=0, max=3))
    monkeypatch.setattr(dw, "MAX_EXPLORER_BYTES", 10 * size)
    monkeypatch.setattr(dw, "_page_bytes", {})
    monkeypatch.setattr(dw, "MAX_PAGE_BYTES", int(1.5 * size))
    explorer(labelled_plot([]), a=widgets.IntSlider(min=0, max=3))
    explorer(labelled_plot([]), a=widgets.IntSlider(min=0, max=3))  # the same cell run again: replaces
    with pytest.raises(ValueError, match="this notebook's explorers would take .* MB per page"):
        explorer(labelled_plot([]), b=widgets.IntSlider(min=0, max=3))


# ---- the frames and the two renderings ----------------------------------------------------------

def test_every_grid_point_gets_the_figure_drawn_for_its_values():
    calls = []
    plot = labelled_plot(calls)
    box = explorer(plot, a=widgets.IntSlider(value=1, min=0, max=2), b=widgets.Dropdown(options=["x", "y"]))
    grid = list(itertools.product([0, 1, 2], ["x", "y"]))  # the last control varies fastest
    assert calls[0] == (1, "x") and sorted(calls[1:]) == sorted(set(grid) - {(1, "x")})
    data = player_data(box)
    assert data["sizes"] == [3, 2] and data["readouts"] == [["0", "1", "2"], ["x", "y"]]
    assert len(data["frames"]) == 6 and len(data["images"]) == 6  # all different: no sharing
    for index, (a, b) in enumerate(grid):
        expected = dw.figure_png(plot(a=a, b=b))
        assert b64decode(data["images"][data["frames"][index]]) == expected, f"frame {index} is not ({a}, {b})"


def test_equal_figures_are_stored_once():
    def plot(a, ignored):
        fig, ax = plt.subplots(figsize=(2, 1.5))
        ax.set_title(str(a))
        return fig
    data = player_data(explorer(plot, a=widgets.IntSlider(min=0, max=2), ignored=widgets.Checkbox()))
    assert data["frames"] == [0, 0, 1, 1, 2, 2] and len(data["images"]) == 3


def test_frames_are_palette_pngs_of_the_figure_at_the_frame_dpi():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.imshow(np.linspace(0, 1, 400).reshape(20, 20), cmap="viridis")
    ax.plot([0, 19], [0, 19], "r-")
    reference = io.BytesIO()
    fig.savefig(reference, format="png", dpi=dw.FRAME_DPI)
    frame = Image.open(io.BytesIO(dw.figure_png(fig)))
    plt.close(fig)
    assert frame.size == (4 * dw.FRAME_DPI, 3 * dw.FRAME_DPI) and frame.mode == "P"
    truth = np.asarray(Image.open(reference).convert("RGB"), dtype=float)
    shown = np.asarray(frame.convert("RGB"), dtype=float)
    assert np.abs(shown - truth).mean() < 2.0  # 256 colours are enough for a plot
    assert np.abs(shown - truth).max() < 40


def test_a_transparent_figure_is_shown_on_white():
    fig, ax = plt.subplots(figsize=(1, 1))
    fig.patch.set_alpha(0.0)
    ax.set_axis_off()
    frame = np.asarray(Image.open(io.BytesIO(dw.figure_png(fig))).convert("RGB"))
    plt.close(fig)
    assert (frame == 255).all()


def test_output_carries_the_widget_for_jupyter_and_the_player_for_the_book():
    box = explorer(labelled_plot([]), n=widgets.IntSlider(value=2, min=0, max=4, description="hidden units H"))
    bundle = box._repr_mimebundle_()
    assert isinstance(box, widgets.VBox) and bundle[WIDGET_VIEW]["model_id"] == box.model_id
    page = bundle["text/html"]
    assert page.startswith('<div class="dlcourse-explorer"') and "hidden units H" in page
    assert 'type="range"' in page and 'max="4"' in page and 'value="2"' in page
    assert re.search(r"<output[^>]*>2</output>", page)  # the readout of the start position
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    start = player_data(box)["frames"][2]
    assert f'src="data:image/png;base64,{player_data(box)["images"][start]}"' in page


def test_labels_cannot_break_out_of_the_player():
    box = explorer(labelled_plot([]), a=widgets.Dropdown(options=["</script><b>", "a&b"], description="<i>x"))
    page = box.player_html
    assert page.count("</script>") == 2  # the data block and the player script, nothing injected
    assert "&lt;i&gt;x" in page and "a&amp;b" in page
    assert player_data(box)["readouts"] == [["</script><b>", "a&b"]]


def test_live_widget_redraws_on_change_with_full_labels_and_wrapping_controls():
    calls = []
    slider = widgets.FloatSlider(value=0.5, min=0, max=1, step=0.25, description="learning rate")
    dropdown = widgets.Dropdown(options=["tanh", "relu"], description="activation")
    box = explorer(labelled_plot(calls), lr=slider, act=dropdown)
    n_drawn = len(calls)
    slider.value = 0.75
    assert len(calls) == n_drawn + 1 and calls[-1] == (0.75, "tanh")
    row, output = box.children
    assert isinstance(output, widgets.Output)
    assert row.layout.flex_flow == "row wrap"
    for control in (slider, dropdown):
        assert control.style.description_width == "initial" and control.layout.width
    assert slider.readout is True
