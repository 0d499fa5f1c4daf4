"""Interactive explorers: a thin ipywidgets wrapper around a pure plotting function.

The chapter module computes (tested, pure); a plot function draws a Figure; :func:`explorer` wires
controls to it. The default view is drawn at once into an ``Output`` widget, so an executed notebook
stores it and the static book shows it (with the controls) even without a running kernel.
"""
from __future__ import annotations

from typing import Callable

import matplotlib.pyplot as plt


def explorer(plot_fn: Callable[..., "plt.Figure"], **controls):
    """Return a widget with ``controls`` above the figure ``plot_fn(**values)``, redrawn on every change.

    ``controls`` maps each keyword of ``plot_fn`` to an ipywidgets control (``FloatSlider``, ``Dropdown``, ...).
    """
    import ipywidgets as widgets
    from IPython.display import display

    if not controls:
        raise ValueError("explorer needs at least one control, e.g. n=IntSlider(...)")
    for name, control in controls.items():
        if not isinstance(control, widgets.ValueWidget):
            raise ValueError(f"control {name!r} must be an ipywidgets value widget, got {type(control).__name__}")
    output = widgets.Output()

    def redraw(_change=None) -> None:
        values = {name: control.value for name, control in controls.items()}
        with output:
            output.clear_output(wait=True)
            figure = plot_fn(**values)
            display(figure)
            plt.close(figure)

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox(list(controls.values())), output])
