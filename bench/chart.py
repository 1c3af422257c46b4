"""docs/benchmarks.png: each init's figure relative to the best peer, per metric.

Horizontal bars on a log scale; 1 is the best peer, left of it is better. matplotlib is
the benchmark's only dependency outside the standard library and is installed with pip
when it is missing.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

from report import Run, rows
from stats import compare, fmt

# Ours in reds (default build, release binary), the peers in cool or neutral colours.
COLORS = {"ours": "#d62728", "ours-release": "#ff7f0e"}
PEER_COLORS = ["#1f77b4", "#17becf", "#2ca02c", "#9467bd", "#8c564b", "#7f7f7f"]


def ensure_matplotlib() -> bool:
    """Import matplotlib, installing it with pip if needed; False if that fails."""
    try:
        importlib.import_module("matplotlib")
        return True
    except ImportError:
        pass
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "matplotlib"],
            timeout=600,
            check=True,
        )
        importlib.import_module("matplotlib")
        return True
    except (subprocess.SubprocessError, ImportError, OSError):
        return False


def draw(run: Run, path: Path) -> None:
    """Write the chart to path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    data = rows(run)
    inits = run.inits
    n = len(inits)
    bar_h = 0.8 / n
    fig, ax = plt.subplots(figsize=(10, 0.9 + 0.42 * n * len(data) / 2.2))
    peer_i = 0
    lo, hi = 1.0, 1.0
    for j, init in enumerate(inits):
        color = (
            COLORS.get(init.key, COLORS["ours"])
            if init.ours
            else PEER_COLORS[peer_i % len(PEER_COLORS)]
        )
        peer_i += 0 if init.ours else 1
        ys, xs, texts = [], [], []
        for k, row in enumerate(data):
            f = row.figs.get(init.key)
            best = row.figs.get(row.best_key or "")
            if f is None or not f.rounds or best is None:
                continue
            r = compare(f, best, row.metric.floor).ratio
            ys.append(k + (j - (n - 1) / 2) * bar_h)
            xs.append(r)
            unit = f" {row.metric.unit}" if row.metric.unit else ""
            texts.append(f"{fmt(f.value, row.metric.integer)}{unit}")
            lo, hi = min(lo, r), max(hi, r)
        bars = ax.barh(ys, xs, height=bar_h * 0.9, color=color, label=init.label, left=0)
        for b, t in zip(bars, texts):
            ax.text(
                max(b.get_width(), 1.0) * 1.03,
                b.get_y() + b.get_height() / 2,
                t,
                va="center",
                fontsize=6.5,
                color="#333333",
            )
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda _x, _pos: ""))
    ax.set_xlim(min(0.5, lo / 1.5), max(2.0, hi * 3))
    ax.axvline(1.0, color="black", lw=0.8, ls="--")
    ax.set_yticks(range(len(data)))
    ax.set_yticklabels([r.metric.title for r in data], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("figure ÷ best peer's figure (log scale; 1 = best peer, left is better)")
    m = run.machine
    ax.set_title(
        f"dumb-init vs peers — {run.started[:10]}, {m['cpu']} ×{m['cores']}, kernel {m['kernel']}",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="lower right")
    fig.text(
        0.01,
        0.005,
        "Bars show medians over interleaved rounds; values below a figure's resolution count as"
        " equal (idle: 1 wake-up; utime+stime: 10 ms). Details: docs/benchmarks.md.",
        fontsize=6.5,
        color="#555555",
    )
    ax.grid(axis="x", which="both", alpha=0.25)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(path, dpi=130)
    plt.close(fig)
