"""Interactive explorers: live ipywidgets in Jupyter, precomputed frames in the static book.

The chapter module computes (tested, pure); a plot function draws a Figure; :func:`explorer` wires
controls to it. One explorer has two renderings in the same output:

* the live ipywidgets view (``application/vnd.jupyter.widget-view+json``), which Jupyter, JupyterLab
  and Colab show and redraw on every change while a kernel runs;
* a kernel-free player (``text/html``): the figure drawn for every point of the controls' grid (every
  slider position, every option; several controls as their product), as palette PNGs, with plain
  HTML controls and a few lines of inline JavaScript that swap the frames. The book sets the widget
  view's MIME priority below ``text/html`` (``nb_mime_priority_overrides`` in ``_config.yml``), so
  its pages show the player, which needs no kernel, no CDN and no network.

The cost is bounded: at most :data:`MAX_FRAMES` grid points per explorer, at most
:data:`MAX_EXPLORER_BYTES` for one player and :data:`MAX_PAGE_BYTES` for all players of one notebook
(kernel); beyond, :func:`explorer` raises a ``ValueError`` that says how big the grid is.
"""
from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any, Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

MAX_FRAMES = 128  # grid points (plot_fn calls) per explorer
MAX_EXPLORER_BYTES = 1_500_000  # one player's HTML, frames included
MAX_PAGE_BYTES = 5_000_000  # all players of one notebook (one kernel)
FRAME_DPI = 72  # a 10-inch figure is 720 px wide: the width of the book's text column
SLIDER_WIDTH = "420px"  # label, track and readout of one live slider
SUPPORTED = ("IntSlider, FloatSlider, FloatLogSlider, SelectionSlider, BoundedIntText, BoundedFloatText, "
             "Dropdown, RadioButtons, ToggleButtons, Select, Checkbox, ToggleButton")

_page_bytes: dict[tuple, int] = {}  # player bytes of each explorer shown in this kernel
_player_count = itertools.count()


@dataclass(frozen=True)
class Axis:
    """The positions of one control: the values passed to plot_fn, their readouts, the start."""

    name: str
    label: str
    kind: str  # "range" (a slider), "select" (a list of options) or "checkbox"
    values: tuple
    readouts: tuple[str, ...]
    start: int


def _readout(value: Any, fmt: str) -> str:
    try:
        return format(value, fmt)
    except (TypeError, ValueError):
        return str(value)


def _positions(name: str, low: float, high: float, step: float) -> int:
    """How many positions min + k step <= max a slider has; ValueError past MAX_FRAMES."""
    if not step > 0 or high < low:
        raise ValueError(f"control {name!r}: needs min <= max and step > 0, got min={low}, max={high}, "
                         f"step={step}")
    n = int(math.floor((high - low) / step + 1e-9)) + 1
    if n > MAX_FRAMES:
        raise ValueError(f"control {name!r} has {n} positions, more than the {MAX_FRAMES} frames an explorer "
                         "may hold: raise its step or narrow its range")
    return n


def _nearest(grid: list, value: Any) -> int:
    """Index of the grid point nearest to the control's value (a slider snaps to it the same way)."""
    return min(range(len(grid)), key=lambda i: abs(grid[i] - value))


def _slider_grid(name: str, control: Any) -> tuple[list, int]:
    """The values of a numeric slider's positions, and the index of its start."""
    if isinstance(control, widgets.FloatLogSlider):
        n = _positions(name, control.min, control.max, control.step)
        exponents = [round(control.min + k * control.step, 12) for k in range(n)]
        start = _nearest(exponents, math.log(control.value, control.base))
        return [control.base ** e for e in exponents], start
    if isinstance(control, (widgets.IntSlider, widgets.BoundedIntText)):
        step = getattr(control, "step", 1) or 1
        values = [control.min + k * step for k in range(_positions(name, control.min, control.max, step))]
        return values, _nearest(values, control.value)
    step = control.step if control.step else (control.max - control.min) / 10  # a text box may have none
    n = _positions(name, control.min, control.max, step)
    values = [round(control.min + k * step, 12) for k in range(n)]
    return values, _nearest(values, control.value)


def control_axis(name: str, control: Any) -> Axis:
    """The grid of one ipywidgets control; sets the control to its grid point (sliders snap there)."""
    label = control.description or name
    if isinstance(control, (widgets.Checkbox, widgets.ToggleButton)):
        return Axis(name, label, "checkbox", (False, True), ("off", "on"), int(bool(control.value)))
    if isinstance(control, (widgets.Dropdown, widgets.RadioButtons, widgets.ToggleButtons, widgets.Select,
                            widgets.SelectionSlider)):
        values, labels = tuple(control._options_values), tuple(control._options_labels)
        if not values:
            raise ValueError(f"control {name!r} has no options")
        if len(values) > MAX_FRAMES:
            raise ValueError(f"control {name!r} has {len(values)} options, more than the {MAX_FRAMES} frames "
                             "an explorer may hold")
        kind = "range" if isinstance(control, widgets.SelectionSlider) else "select"
        return Axis(name, label, kind, values, labels, control.index if control.index is not None else 0)
    numeric = (widgets.FloatLogSlider, widgets.IntSlider, widgets.BoundedIntText, widgets.FloatSlider,
               widgets.BoundedFloatText)
    if not isinstance(control, numeric):
        raise ValueError(f"control {name!r}: an explorer precomputes its frames over a finite grid, so it "
                         f"needs one of {SUPPORTED}; got {type(control).__name__}")
    values, start = _slider_grid(name, control)
    if control.value != values[start]:
        control.value = values[start]
    fmt = getattr(control, "readout_format", "")
    return Axis(name, label, "range", tuple(values), tuple(_readout(v, fmt) for v in values), start)


def frame_grid(controls: dict[str, Any]) -> list[Axis]:
    """The axes of the product grid of ``controls``; ValueError when it holds more than MAX_FRAMES points."""
    axes = [control_axis(name, control) for name, control in controls.items()]
    total = math.prod(len(axis.values) for axis in axes)
    if total > MAX_FRAMES:
        sizes = " x ".join(f"{len(axis.values)} ({axis.name})" for axis in axes)
        raise ValueError(f"the explorer's controls make {sizes} = {total} frames, more than the cap of "
                         f"{MAX_FRAMES}: "
                         "use fewer positions (a larger step, a shorter range, a SelectionSlider over chosen "
                         "values, fewer options) or fewer controls")
    return axes


def figure_png(figure: "plt.Figure", dpi: int = FRAME_DPI) -> bytes:
    """The figure as a compact PNG: fixed size (no tight crop, so frames do not jump), 256-colour palette.

    Drawn on its own Agg canvas at ``dpi`` (the figure is changed: call this last, then close it).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(figure)
    figure.set_dpi(dpi)
    canvas.draw()
    rgba = Image.fromarray(np.asarray(canvas.buffer_rgba()))
    image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")  # as on the page
    image = image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="png", optimize=True)
    return out.getvalue()


def render_frames(plot_fn: Callable[..., "plt.Figure"], axes: list[Axis],
                  first: "plt.Figure | None" = None) -> tuple[list[int], list[bytes]]:
    """PNG of plot_fn at every grid point, in itertools.product order (the last control varies fastest).

    Returns (frames, images): grid point i shows images[frames[i]]; equal images are stored once.
    ``first`` is the figure already drawn at the start point, reused instead of drawing it again.
    """
    start = tuple(axis.start for axis in axes)
    frames, images, seen = [], [], {}
    for point in itertools.product(*(range(len(axis.values)) for axis in axes)):
        if point == start and first is not None:
            png = figure_png(first)
        else:
            figure = plot_fn(**{axis.name: axis.values[i] for axis, i in zip(axes, point)})
            png = figure_png(figure)
            plt.close(figure)
        if png not in seen:
            seen[png] = len(images)
            images.append(png)
        frames.append(seen[png])
    return frames, images


_PLAYER_CSS = """
.dlcourse-explorer .dlx-controls{display:flex;flex-wrap:wrap;gap:.4rem 1.6rem;margin:.2rem 0 .5rem}
.dlcourse-explorer .dlx-control{display:inline-flex;align-items:center;gap:.5rem;white-space:nowrap;margin:0}
.dlcourse-explorer input[type=range]{width:11rem}
.dlcourse-explorer output{min-width:3.2em;font-variant-numeric:tabular-nums;font-weight:600}
.dlcourse-explorer img{max-width:100%;height:auto;display:block}
.dlcourse-explorer .dlx-note{font-size:.8rem;opacity:.75;margin:.2rem 0 0}
"""

# Swaps the frame when a control moves: grid index = mixed-radix number of the control positions.
_PLAYER_JS = """
(function (root) {
  var data = JSON.parse(root.querySelector("script.dlx-data").textContent);
  var image = root.querySelector("img.dlx-frame");
  var inputs = root.querySelectorAll("[data-dlx-axis]");
  function position(input) { return input.type === "checkbox" ? (input.checked ? 1 : 0) : +input.value; }
  function show() {
    var index = 0, parts = [];
    for (var k = 0; k < inputs.length; k++) {
      var i = position(inputs[k]);
      index = index * data.sizes[k] + i;
      var readout = root.querySelector('output[data-dlx-readout="' + k + '"]');
      if (readout) readout.textContent = data.readouts[k][i];
      parts.push(data.names[k] + " = " + data.readouts[k][i]);
    }
    image.src = "data:image/png;base64," + data.images[data.frames[index]];
    image.alt = parts.join(", ");
    image.setAttribute("data-dlx-index", index);
  }
  for (var k = 0; k < inputs.length; k++) {
    inputs[k].addEventListener("input", show);
    inputs[k].addEventListener("change", show);
  }
  show();  // a page restored from the history may keep moved controls
})(document.getElementById("%s"));
"""


def _control_html(k: int, axis: Axis) -> str:
    label = f'<span class="dlx-label">{html.escape(axis.label)}</span>'
    if axis.kind == "checkbox":
        checked = " checked" if axis.start else ""
        return (f'<label class="dlx-control"><input type="checkbox" data-dlx-axis="{k}" autocomplete="off"'
                f"{checked}>{label}</label>")
    if axis.kind == "select":
        options = "".join(f'<option value="{i}"{" selected" if i == axis.start else ""}>'
                          f"{html.escape(text)}</option>" for i, text in enumerate(axis.readouts))
        return (f'<label class="dlx-control">{label}<select data-dlx-axis="{k}" autocomplete="off">'
                f"{options}</select></label>")
    return (f'<label class="dlx-control">{label}<input type="range" data-dlx-axis="{k}" min="0" '
            f'max="{len(axis.values) - 1}" step="1" value="{axis.start}" autocomplete="off">'
            f'<output data-dlx-readout="{k}">{html.escape(axis.readouts[axis.start])}</output></label>')


def player_html(axes: list[Axis], frames: list[int], images: list[bytes]) -> str:
    """The kernel-free player: HTML controls, the start frame, all frames as JSON, the swap script."""
    encoded = [base64.b64encode(png).decode("ascii") for png in images]
    data = {"names": [a.label for a in axes], "sizes": [len(a.values) for a in axes],
            "readouts": [list(a.readouts) for a in axes], "frames": frames, "images": encoded}
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    digest = hashlib.sha1(payload.encode()).hexdigest()[:10]
    element_id = f"dlx-{digest}-{next(_player_count)}"
    start = 0
    for axis in axes:
        start = start * len(axis.values) + axis.start
    controls = "".join(_control_html(k, axis) for k, axis in enumerate(axes))
    note = (f"{len(frames)} precomputed frames: move the controls to see each one; "
            "run the notebook for the live version")
    return (f'<div class="dlcourse-explorer" id="{element_id}"><style>{_PLAYER_CSS}</style>'
            f'<div class="dlx-controls">{controls}</div>'
            f'<img class="dlx-frame" alt="" src="data:image/png;base64,{encoded[frames[start]]}">'
            f'<p class="dlx-note">{note}</p>'
            f'<script type="application/json" class="dlx-data">{payload}</script>'
            f"<script>{_PLAYER_JS % element_id}</script></div>")


def _style_live(control: Any) -> None:
    """Full labels, visible readouts and a fixed width, so that several controls wrap instead of shrinking."""
    if not control.style.description_width:
        control.style.description_width = "initial"  # the default 80 px cuts "learning r..."
    is_slider = isinstance(control, (widgets.IntSlider, widgets.FloatSlider, widgets.FloatLogSlider,
                                     widgets.SelectionSlider))
    if is_slider:
        control.readout = True
    if not control.layout.width:
        control.layout.width = SLIDER_WIDTH if is_slider else "max-content"
    if not control.layout.margin:
        control.layout.margin = "2px 28px 2px 0"  # room between controls on one row


class Explorer(widgets.VBox):
    """The live widget (controls above an Output); its rich display also carries the player as text/html."""

    player_html: str = ""

    def _repr_mimebundle_(self, **kwargs):
        parent = getattr(super(), "_repr_mimebundle_", None)
        bundle = parent(**kwargs) if parent is not None else self._widget_bundle()
        if bundle is not None and self.player_html:
            bundle["text/html"] = self.player_html
        return bundle

    def _widget_bundle(self) -> dict:
        """The bundle ipywidgets 7 displays (it has no ``_repr_mimebundle_``; Colab ships 7.7)."""
        return {"text/plain": repr(self)[:110],
                "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0,
                                                             "model_id": self.model_id}}

    if not hasattr(widgets.VBox, "_repr_mimebundle_"):  # ipywidgets 7 displays through this hook instead
        def _ipython_display_(self, **kwargs):
            from IPython.display import display

            display(self._repr_mimebundle_(), raw=True)
            self._handle_displayed(**kwargs)


def _check_bytes(key: tuple, size: int) -> None:
    if size > MAX_EXPLORER_BYTES:
        raise ValueError(f"the explorer's frames take {size / 1e6:.2f} MB, more than the cap of "
                         f"{MAX_EXPLORER_BYTES / 1e6:.1f} MB per explorer: use fewer positions or a smaller "
                         "figure")
    others = sum(v for k, v in _page_bytes.items() if k != key)
    if others + size > MAX_PAGE_BYTES:
        raise ValueError(f"this notebook's explorers would take {(others + size) / 1e6:.2f} MB, more than the "
                         f"cap of {MAX_PAGE_BYTES / 1e6:.1f} MB per page: use fewer positions or smaller figures")
    _page_bytes[key] = size


def explorer(plot_fn: Callable[..., "plt.Figure"], **controls):
    """Return a widget with ``controls`` above the figure ``plot_fn(**values)``, redrawn on every change.

    ``controls`` maps each keyword of ``plot_fn`` to an ipywidgets control (one of ``SUPPORTED``). The
    figure is also drawn at every point of the controls' product grid (at most MAX_FRAMES) for the
    kernel-free player that the widget's display carries as text/html (see the module docstring).
    """
    from IPython.display import display

    if not controls:
        raise ValueError("explorer needs at least one control, e.g. n=IntSlider(...)")
    for name, control in controls.items():
        if not isinstance(control, widgets.ValueWidget):
            raise ValueError(f"control {name!r} must be an ipywidgets value widget, "
                             f"got {type(control).__name__}")
    axes = frame_grid(controls)  # refuses a grid over the cap before drawing anything
    output = widgets.Output()

    def show(figure) -> None:
        with output:
            output.clear_output(wait=True)
            display(figure)

    def redraw(_change=None) -> None:
        figure = plot_fn(**{name: control.value for name, control in controls.items()})
        show(figure)
        plt.close(figure)

    first = plot_fn(**{axis.name: axis.values[axis.start] for axis in axes})
    show(first)
    frames, images = render_frames(plot_fn, axes, first=first)
    plt.close(first)
    player = player_html(axes, frames, images)
    # Running the same cell again replaces its entry in the page's byte count.
    key = (getattr(plot_fn, "__module__", None), getattr(plot_fn, "__qualname__", repr(plot_fn)),
           tuple(controls))
    _check_bytes(key, len(player.encode("utf-8")))

    for control in controls.values():
        _style_live(control)
        control.observe(redraw, names="value")
    row = widgets.Box(list(controls.values()),
                      layout=widgets.Layout(display="flex", flex_flow="row wrap", align_items="center"))
    box = Explorer([row, output])
    box.player_html = player
    return box
