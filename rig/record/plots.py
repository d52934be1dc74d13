"""Plots for the report, where a person would rather look than read.

Figures are built with matplotlib's object API (`matplotlib.figure.Figure`, rendered by the
Agg backend), never through pyplot's global figure list, so they need no display and leave
no state behind. Each helper returns PNG bytes, ready for `attach_plot(png, title)`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure


def figure_png(fig: Any, dpi: int = 90) -> bytes:
    """PNG bytes of a matplotlib figure (Agg), cropped to its content."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def waveform_edge(times: Sequence[float], volts: Sequence[float]) -> float | None:
    """Where the supply at the load goes (or comes): the first sample from which the load
    voltage stays below 5 % of its peak to the end (an opening), or the first that rises
    above it after a low start (a closing); None for a waveform with no such edge. The
    scope's trigger point is not the edge: a dropout trigger fires once its hold time ran
    out, so the edge lies that much before it, by how much depending on the model."""
    v = [abs(float(x)) for x in volts]
    if len(v) < 2 or len(v) != len(times) or max(v) <= 0:
        return None
    low = 0.05 * max(v)
    if v[-1] < low:  # ends low: the supply went; the edge is where it stays low
        i = len(v)
        while i > 0 and v[i - 1] < low:
            i -= 1
        return float(times[i]) if 0 < i < len(v) else None
    if v[0] < low:  # starts low, ends high: the supply came
        return float(next(times[i] for i, x in enumerate(v) if x >= low))
    return None


def relay_edge_plot(times: Sequence[float], volts: Sequence[float],
                    edge_t: float | None = None,
                    measured_delay: float | None = None, limit: float | None = None, *,
                    title: str = "load voltage at the relay edge",
                    measured_s: float | None = None, limit_s: float | None = None,
                    bound_s: float | None = None, command_t: float | None = None) -> bytes:
    """PNG of `relay_edge_figure` (same arguments)."""
    return figure_png(relay_edge_figure(times, volts, edge_t, measured_delay, limit,
                                        title=title, measured_s=measured_s, limit_s=limit_s,
                                        bound_s=bound_s, command_t=command_t))


def relay_edge_figure(times: Sequence[float], volts: Sequence[float],
                      edge_t: float | None = None,
                      measured_delay: float | None = None, limit: float | None = None, *,
                      title: str = "load voltage at the relay edge",
                      measured_s: float | None = None, limit_s: float | None = None,
                      bound_s: float | None = None,
                      command_t: float | None = None) -> Figure:
    """The load voltage around the relay edge (times in s, relative to the trigger point):
    the edge marked, and the measured interval (relay command to edge) shaded on the
    waveform, with its value in the legend and the limit drawn; the axis is framed on the
    command, the edge and the limit, whatever span the waveform covers. Without `edge_t`
    the edge is found on the waveform (`waveform_edge`), else the trigger point (0).

    `bound_s` draws a lower bound instead (`bound_lines`): no edge on the screen, which
    reaches `bound_s` after the command, so the relay operated later than that."""
    limit = limit if limit is not None else limit_s
    if bound_s is not None:
        return _bound_figure(times, volts, bound_s, limit, title=title, command_t=command_t)
    if edge_t is None:
        found = waveform_edge(times, volts)
        edge_t = found if found is not None else 0.0
    delay = measured_delay if measured_delay is not None else measured_s
    fig = Figure(figsize=(7, 3))
    ax = fig.add_subplot()
    ax.plot([t * 1000 for t in times], list(volts), lw=1, label="load voltage (CH1)")
    ax.axvline(edge_t * 1000, color="red", ls="--", label="relay edge (supply gone)")
    if delay is not None:  # the measured interval: from the relay command to the edge
        start = (edge_t - delay) * 1000
        label = f"measured operate time {delay * 1000:.1f} ms"
        if limit is not None:
            label += f" (limit {limit * 1000:g} ms)"
        ax.axvspan(start, edge_t * 1000, color="tab:orange", alpha=0.25, label=label)
        ax.axvline(start, color="tab:orange", ls=":", label="relay command")
        ax.annotate("", xy=(edge_t * 1000, 0), xytext=(start, 0),
                    arrowprops={"arrowstyle": "<->", "color": "black"})
        ends = [start, edge_t * 1000]
        if limit is not None:  # where the edge had to come by: the limit drawn
            deadline = start + limit * 1000
            ax.axvline(deadline, color="black", ls="-.", lw=1,
                       label=f"limit: command + {limit * 1000:g} ms")
            ends.append(deadline)
        # framed on what it shows: the command, the edge and the limit all in view
        lo, hi = min(ends), max(ends)
        pad = max((hi - lo) * 0.15, 5.0)
        ax.set_xlim(lo - pad, hi + pad)
    return _voltage_axes(fig, ax, title, "upper right")


def _bound_figure(times: Sequence[float], volts: Sequence[float], bound_s: float,
                  limit_s: float | None, *, title: str, command_t: float | None) -> Figure:
    """A lower bound drawn: the command (`command_t` on the time axis; else where the
    screen's end lies `bound_s` after it), the limit after it, and at the screen's end an
    arrow pointing on, "edge after X s": the edge, if any, came beyond the screen."""
    if bound_s < 0:
        raise ValueError(f"relay_edge_plot: a bound of {bound_s} s; a time after the "
                         "command is not negative")
    if len(times) != len(volts):
        raise ValueError(f"relay_edge_plot: {len(times)} times and {len(volts)} voltages; "
                         "they must be as many")
    if command_t is None:
        end = float(times[-1]) if len(times) else bound_s
        command_t = end - bound_s
    end = command_t + bound_s  # the screen's end: the farthest the edge was looked for
    fig = Figure(figsize=(7, 3))
    ax = fig.add_subplot()
    if len(times):
        ax.plot([t * 1000 for t in times], list(volts), lw=1, label="load voltage (CH1)")
    ax.axvline(command_t * 1000, color="tab:orange", ls=":", label="relay command")
    ends = [command_t * 1000, end * 1000]
    if limit_s is not None:  # where the edge had to come by
        deadline = (command_t + limit_s) * 1000
        ax.axvline(deadline, color="black", ls="-.", lw=1,
                   label=f"limit: command + {limit_s * 1000:g} ms")
        ends.append(deadline)
    lo, hi = min(ends), max(ends)
    pad = max((hi - lo) * 0.15, 5.0)
    ax.axvline(end * 1000, color="red", ls="--", label="screen's end: no edge before it")
    top = max((abs(float(v)) for v in volts), default=1.0) or 1.0
    ax.annotate(f"edge after {bound_s:g} s", xy=(end * 1000 + pad, top * 0.5),
                xytext=(end * 1000, top * 0.5), ha="right", va="center", color="red",
                bbox={"boxstyle": "round", "fc": "white", "ec": "red"},
                arrowprops={"arrowstyle": "->", "color": "red", "lw": 1.5})
    ax.set_xlim(lo - pad, hi + pad * 1.5)
    return _voltage_axes(fig, ax, title, "upper left")


def _voltage_axes(fig: Figure, ax: Any, title: str, legend: str) -> Figure:
    """The relay plots' common finish: the axes named, the title, the legend, the grid."""
    ax.set_xlabel("time from trigger (ms)")
    ax.set_ylabel("V")
    ax.set_title(title)
    ax.legend(loc=legend, fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def depletion_plot(times: Sequence[float], credit: Sequence[float], power: Sequence[float],
                   *, relay_open_at: float | None = None,
                   title: str = "credit depletion under load") -> bytes:
    """Credit (kWh) and load power (W) against bench time (s) during a depletion run, with
    the moment the relay opened."""
    if not len(times) == len(credit) == len(power):
        raise ValueError(f"depletion_plot: {len(times)} times, {len(credit)} credit values "
                         f"and {len(power)} power values; they must be as many")
    fig = Figure(figsize=(7, 3))
    ax = fig.add_subplot()
    ax.plot(list(times), list(credit), marker=".", color="tab:blue", label="credit (kWh)")
    ax.set_xlabel("bench time (s)")
    ax.set_ylabel("credit (kWh)")
    ax2 = ax.twinx()
    ax2.step(list(times), list(power), where="post", color="tab:orange",
             label="load power (W)")
    ax2.set_ylabel("W")
    if relay_open_at is not None:
        ax.axvline(relay_open_at, color="red", ls="--", label="relay opened")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper right")
    return figure_png(fig)
