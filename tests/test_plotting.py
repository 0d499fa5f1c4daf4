import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

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
    assert calls == [(2, "x")]
    slider.value = 4
    assert calls[-1] == (4, "x")
    assert isinstance(box.children[1], widgets.Output)
    with pytest.raises(ValueError, match="value widget"):
        explorer(plot, a=3)
