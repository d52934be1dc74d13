"""Plots for the report: the relay edge, and a depletion run. PNG bytes, Agg backend."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def relay_edge_plot(times: Sequence[float], volts: Sequence[float], *, title: str,
                    measured_s: float, limit_s: float) -> bytes:
    """Load voltage around the trigger point, with the measured time in the legend."""
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot([t * 1000 for t in times], volts, lw=1, label="load voltage (CH1)")
    ax.axvline(0, color="red", ls="--", label=f"relay edge: {measured_s * 1000:.1f} ms "
                                              f"(limit {limit_s * 1000:.0f} ms)")
    ax.set_xlabel("time from trigger (ms)")
    ax.set_ylabel("V")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def depletion_plot(times: Sequence[float], credit: Sequence[float], power: Sequence[float],
                   *, relay_open_at: float | None = None) -> bytes:
    """Credit (kWh) and load power (W) against bench time during a depletion run."""
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(times, credit, marker=".", color="tab:blue", label="credit (kWh)")
    ax.set_xlabel("bench time (s)")
    ax.set_ylabel("credit (kWh)")
    ax2 = ax.twinx()
    ax2.step(times, power, where="post", color="tab:orange", label="load power (W)")
    ax2.set_ylabel("W")
    if relay_open_at is not None:
        ax.axvline(relay_open_at, color="red", ls="--", label="relay opened")
    ax.set_title("credit depletion under load")
    ax.grid(alpha=0.3)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="upper right")
    return _png(fig)
