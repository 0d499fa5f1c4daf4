import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bad_input_table import table_tests
from dlcourse import plotting  # noqa: E402
from dlcourse.training import History  # noqa: E402
from dlcourse.widgets import explorer  # noqa: E402


def test_decision_grid_evaluates_predict_on_every_grid_point():
    X = np.array([[0.0, 0.0], [1.0, 2.0]])
    xx, yy, zz = plotting.decision_grid(lambda g: g[:, 0] + 10 * g[:, 1], X, resolution=5, margin=0.0)
    assert xx.shape == (5, 5)
    np.testing.assert_allclose(zz, xx + 10 * yy)
    assert xx.min() == 0 and xx.max() == 1 and yy.max() == 2


def test_decision_boundary_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"X must have shape \(N, 2\)"):
        plotting.plot_decision_boundary(lambda g: g[:, 0], np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="one value per grid point"):
        plotting.plot_decision_boundary(lambda g: g, np.zeros((4, 2)), np.zeros(4), resolution=3)


def test_plot_history_draws_train_and_validation_curves():
    history = History(train_loss=[1.0, 0.5], train_acc=[0.5, 0.8], val_loss=[1.1, 0.7], val_acc=[0.4, 0.7])
    fig = plotting.plot_history(history)
    loss_axis, acc_axis = fig.axes
    np.testing.assert_allclose(loss_axis.lines[0].get_ydata(), [1.0, 0.5])
    np.testing.assert_allclose(acc_axis.lines[1].get_ydata(), [0.4, 0.7])
    plt.close(fig)


def test_show_images_reshapes_flat_digits_and_labels_them():
    fig = plotting.show_images(np.zeros((5, 784)), labels=list("abcde"), ncols=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 5 and shown[0].images[0].get_array().shape == (28, 28)
    assert [ax.get_title() for ax in shown] == list("abcde")
    plt.close(fig)
    with pytest.raises(ValueError, match="square number of pixels"):
        plotting.show_images(np.zeros((2, 10)))


def test_explorer_draws_the_default_then_redraws_on_change():
    calls = []

    def plot(a, b):
        calls.append((a, b))
        fig, ax = plt.subplots()
        ax.plot([a, b])
        return fig

    slider = widgets.IntSlider(value=2, min=0, max=5)
    dropdown = widgets.Dropdown(options=["x", "y"], value="x")
    box = explorer(plot, a=slider, b=dropdown)
    assert calls[0] == (2, "x") and len(calls) == 12 and set(calls) == {(a, b) for a in range(6) for b in "xy"}
    slider.value = 4
    assert calls[-1] == (4, "x")
    assert isinstance(box.children[1], widgets.Output)
    with pytest.raises(ValueError, match="value widget"):
        explorer(plot, a=3)


# --- regressions ----------------------------------------------------------------------------------------

def test_grey_images_share_one_scale_so_a_blank_panel_looks_blank():
    images = np.stack([np.zeros((4, 4)), np.eye(4)])  # per-panel autoscaling drew the blank one mid-grey
    fig = plotting.show_images(images)
    limits = {ax.images[0].get_clim() for ax in fig.axes if ax.images}
    assert limits == {(0.0, 1.0)}
    plt.close(fig)
    patterns = np.where(np.eye(4, dtype=bool), 1, -1)[None].repeat(2, axis=0)  # +-1 Hopfield patterns
    patterns[1] = -1
    fig = plotting.show_images(patterns)
    assert {ax.images[0].get_clim() for ax in fig.axes if ax.images} == {(-1.0, 1.0)}
    plt.close(fig)
    fig = plotting.show_images(np.full((2, 3, 3), 7, dtype=np.uint8))
    assert {ax.images[0].get_clim() for ax in fig.axes if ax.images} == {(0.0, 255.0)}
    plt.close(fig)


def test_show_images_refuses_colour_values_matplotlib_would_clip_and_bool_images():
    with pytest.raises(ValueError, match=r"colour images must hold values in \[0, 1\]"):
        plotting.show_images(np.full((1, 4, 4, 3), 3.0))
    with pytest.raises(ValueError, match="bool"):
        plotting.show_images(np.ones((2, 4, 4), bool))
    with pytest.raises(ValueError, match="finite"):
        plotting.show_images(np.full((2, 4, 4), np.nan))
    with pytest.raises(ValueError, match="one label per image"):
        plotting.show_images(np.zeros((2, 4, 4)), labels="ab")


def test_plot_history_takes_one_metric_name_and_explains_a_dict_history():
    fig = plotting.plot_history(History(train_loss=[1.0, 0.5]), metrics="loss")  # used to iterate 'l', 'o', ...
    assert len(fig.axes) == 1
    plt.close(fig)
    with pytest.raises(ValueError, match="History"):
        plotting.plot_history({"epoch_loss": [1.0]})
    with pytest.raises(ValueError, match="same number of val_loss"):
        plotting.plot_history(History(train_loss=[1.0, 0.5], val_loss=[1.0]), metrics="loss")


def test_decision_grid_refuses_nan_predictions_and_accepts_boolean_decisions():
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="finite"):
        plotting.decision_grid(lambda g: np.full(len(g), np.nan), X, 3)
    _, _, zz = plotting.decision_grid(lambda g: g[:, 0] > 0.5, X, 3, margin=0.0)
    np.testing.assert_array_equal(zz, [[0, 0, 1]] * 3)


# --- every public function refuses bad input with a ValueError ----------------------------------------

XP, YP = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.2]]), np.array([0, 1, 1])
NOT_ARRAYS = [None, ["a", "b"], "text"]


def first_coordinate(grid):
    return grid[:, 0]


TABLE = {
    "decision_grid": (plotting.decision_grid, dict(predict=first_coordinate, X=XP, resolution=3),
                      dict(predict=[None, 3, lambda g: g, lambda g: np.full(len(g), np.inf), lambda g: "a"],
                           X=NOT_ARRAYS + [XP > 0, XP[:, :1], np.ones((0, 2)), np.full((3, 2), np.nan),
                              np.array([[-1e308, 0.0], [1e308, 1.0]])],
                           resolution=[1, -5, 2.5, True, None], margin=[-1.0, np.nan, None])),
    "plot_decision_boundary": (plotting.plot_decision_boundary, dict(predict=first_coordinate, X=XP, y=YP,
                                                                     resolution=3),
                               dict(predict=[None], X=NOT_ARRAYS + [XP.T, XP > 0], y=NOT_ARRAYS + [YP[:2], YP > 0],
                                    ax=["ax", 3], resolution=[0, None], title=[3, ["t"]])),
    "use_course_style": (plotting.use_course_style, {}, {}),  # takes nothing, so nothing bad to pass
    "plot_history": (plotting.plot_history, dict(history=History(train_loss=[1.0], train_acc=[0.5])),
                     dict(history=[None, {"train_loss": [1.0]}, History()], metrics=[(), ["loss", "f1"], None, 3],
                          ax=["ax", [None, None]])),
    "show_images": (plotting.show_images, dict(images=np.zeros((2, 4, 4))),
                    dict(images=NOT_ARRAYS + [np.zeros((2, 4, 4), bool), np.zeros((2, 10)), np.zeros((0, 4, 4)),
                                              np.zeros(5), np.zeros((2, 4, 4, 2)), np.full((2, 4, 4, 3), 300)],
                         labels=["ab", [1], 3], ncols=[0, -1, 2.5, None], title=[3],
                         value_range=[(1, 0), (0, np.nan), 5, (0,)])),
}


globals().update(table_tests(TABLE, [plotting], cleanup=lambda: plt.close("all")))




def test_decision_boundary_classes_differ_in_marker_not_only_in_colour():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.2], [0.9, 0.1], [0.2, 0.8], [0.3, 0.3]])
    y = np.array([-1.0, 1.0, -1.0, 1.0, 0.0, 0.0])
    fig = plotting.plot_decision_boundary(lambda g: np.sign(g[:, 0] - 0.5), X, y)
    ax = fig.axes[0]
    points = [c for c in ax.collections if type(c).__name__ == "PathCollection"]
    assert len(points) == 3 and sum(len(c.get_offsets()) for c in points) == len(X)
    shapes = {tuple(np.round(c.get_paths()[0].vertices, 6).ravel()) for c in points}
    assert len(shapes) == 3  # three different marker shapes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class -1", "class 0", "class 1"]
    plt.close(fig)
    many = np.random.default_rng(0).normal(size=(10, 2))
    fig = plotting.plot_decision_boundary(lambda g: g[:, 0], many, np.linspace(0, 1, 10))
    assert fig.axes[0].get_legend() is None  # ten distinct values: a continuous target, shaded by value
    plt.close(fig)


def test_course_style_gives_each_curve_its_own_dash_pattern_and_colour():
    saved = plt.rcParams["axes.prop_cycle"]
    try:
        plotting.use_course_style()
        fig, ax = plt.subplots()
        lines = [ax.plot([0, 1], [k, k + 1])[0] for k in range(8)]
        # the (offset, on-off sequence) each line is drawn with; matplotlib keeps it private
        dashes = {tuple(np.round(line._dash_pattern[1], 3)) if line._dash_pattern[1] else () for line in lines}  # noqa: SLF001
        assert len({line.get_color() for line in lines}) == 8 and len(dashes) == 8, dashes
        assert lines[0].get_color() == "#1f77b4" and lines[1].get_color() == "#ff7f0e"  # matplotlib's defaults
        plt.close(fig)
    finally:
        plt.rcParams["axes.prop_cycle"] = saved
