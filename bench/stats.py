"""Figures and their statistics: what each metric means and how results are summarised.

Every figure is measured in R interleaved rounds. A round yields one number per init
(one measurement, or a per-round statistic such as the median of many samples); a table
cell shows the median over rounds and the min-max range over rounds as the spread.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field


def quantile(xs: list[float], q: float) -> float:
    """Linear-interpolation quantile of xs (q in [0, 1])."""
    s = sorted(xs)
    if not s:
        return math.nan
    pos = (len(s) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


@dataclass
class Figure:
    """Per-round values of one metric for one init."""

    rounds: list[float] = field(default_factory=list)

    @property
    def value(self) -> float:
        return statistics.median(self.rounds) if self.rounds else math.nan

    @property
    def lo(self) -> float:
        return min(self.rounds) if self.rounds else math.nan

    @property
    def hi(self) -> float:
        return max(self.rounds) if self.rounds else math.nan


@dataclass(frozen=True)
class Metric:
    """One row of the table. Lower is better for all of them."""

    key: str
    title: str
    unit: str
    floor: float  # resolution: values below it count as equal when forming ratios
    integer: bool = False
    baseline: bool = False  # also measured with the program run directly, no init
    exact: bool = False  # the same in every round (no noise): no test needed


METRICS: list[Metric] = [
    Metric("size", "binary size", "KiB", 1.0, exact=True),
    Metric("size_loaded", "binary + shared libraries it maps", "KiB", 1.0, exact=True),
    Metric("rss", "resident memory, child sleeping (VmRSS)", "KiB", 4.0),
    Metric("startup", "start-up overhead (INIT true − true)", "µs", 1.0),
    Metric("siglat_med", "signal-forward latency, median", "µs", 0.1, baseline=True),
    Metric("siglat_p99", "signal-forward latency, p99", "µs", 0.1, baseline=True),
    Metric("reap", "reaping 10,000 orphans as PID 1", "ms", 0.1),
    Metric("exitlat", "exit latency (child exit → init exit)", "µs", 1.0, baseline=True),
    Metric("idle", "idle wake-ups in 5 s", "", 1.0, integer=True),
    Metric("storm_cpu", "CPU for 100,000 signals (utime+stime)", "ms", 10.0),
    Metric("storm_run", "CPU for 100,000 signals (schedstat)", "ms", 0.1),
]


@dataclass(frozen=True)
class Comparison:
    """How one init compares with another over the same interleaved rounds."""

    ratio: float  # a's median / b's median, both clamped up to the metric's resolution
    worse: int  # rounds in which a was worse than b
    better: int  # rounds in which a was better than b
    rounds: int  # rounds paired (0: they could not be paired)


def compare(a: Figure, b: Figure, floor: float) -> Comparison:
    """Ratio of medians, and a round-by-round count of who was better (the rounds are
    interleaved, so each pair saw the same load)."""
    r = max(a.value, floor) / max(b.value, floor)
    if not a.rounds or len(a.rounds) != len(b.rounds):
        return Comparison(r, 0, 0, 0)
    pairs = [(max(x, floor), max(y, floor)) for x, y in zip(a.rounds, b.rounds)]
    worse = sum(1 for x, y in pairs if x > y)
    better = sum(1 for x, y in pairs if x < y)
    return Comparison(r, worse, better, len(pairs))


def sign_test(k: int, n: int) -> float:
    """P(at least k of n fair coin flips come up heads): one-sided sign test."""
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2**n if n else 1.0


def verdict(c: Comparison, exact: bool, tolerance: float = 0.05, alpha: float = 0.05) -> str:
    """Plain words for ours against the best peer. A difference beyond the tolerance counts
    as clear when the rounds agree on its direction (sign test over the rounds that were
    not ties, at level alpha), or when the figure is exact (no noise: sizes)."""
    n = c.worse + c.better
    rounds = f" (worse in {c.worse}/{c.rounds} rounds)" if c.rounds > 1 else ""
    deterministic = exact
    if c.ratio > 1 + tolerance:
        if deterministic or sign_test(c.worse, n) < alpha:
            return "**behind**" + rounds
        return "slightly behind, within noise" + rounds
    if c.ratio < 1 - tolerance:
        if deterministic or sign_test(c.better, n) < alpha:
            return "ahead" + rounds
        return "slightly ahead, within noise" + rounds
    return "on par" + rounds


def fmt(x: float, integer: bool = False) -> str:
    """Three-ish significant digits, or an integer."""
    if math.isnan(x):
        return "–"
    if integer:
        return f"{x:.0f}"
    a = abs(x)
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"
