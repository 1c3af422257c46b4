"""The targets for the x86_64 release binary (issues 8 and 16), checked on the figures of the same
run as the peers: at most 48 KiB on disk, at most 64 KiB resident while supervising (VmRSS with
the child sleeping), a start-up overhead at least 5 % below the C dumb-init built with musl, and
no more CPU than it for a storm of signals (schedstat).

Each target is met, not met, or not checked (its figure is missing, and the check says why).
"""

from __future__ import annotations

from dataclasses import dataclass

from inits import Init
from measure import Results
from stats import Figure, compare, fmt, verdict

RELEASE = "ours-release"
C_MUSL = "dumb-init-musl"
SIZE_LIMIT_KIB = 48  # KiB = 1024 bytes, as every size in the report
RSS_LIMIT_KIB = 64  # VmRSS is counted in kernel "kB", which are KiB
STARTUP_LEAD = 0.05  # start-up: the median at least 5 % below the C musl build's


@dataclass(frozen=True)
class Check:
    """One target and what this run measured for it."""

    target: str
    measured: str
    met: bool | None  # None: not checked
    brief: str = ""  # the measurement in a few words, for the summary (default: measured)

    @property
    def answer(self) -> str:
        return {True: "met", False: "**not met**", None: "not checked"}[self.met]


def _figure(res: Results, metric: str, key: str) -> Figure | None:
    fig = res.figures.get(metric, {}).get(key)
    return fig if fig is not None and fig.rounds else None


def check(inits: list[Init], res: Results, alpha: float) -> list[Check]:
    """The four targets, in the order of the issues. alpha is the report's sign-test level."""
    labels = {i.key: i.label for i in inits}
    size_target = f"binary size at most {SIZE_LIMIT_KIB} KiB ({SIZE_LIMIT_KIB * 1024:,} bytes)"
    rss_target = f"resident memory while supervising (VmRSS) at most {RSS_LIMIT_KIB} KiB"
    startup_target = f"start-up overhead at least {STARTUP_LEAD * 100:.0f} % below dumb-init 1.2.5 built with musl"
    storm_target = (
        "CPU for a storm of signals (schedstat) no higher than dumb-init 1.2.5 built with musl"
    )
    targets = (size_target, rss_target, startup_target, storm_target)
    if RELEASE not in labels:
        why = next((n for n in res.notes if n.startswith("release binary skipped: ")), "")
        absent = "no release binary in this run" + (f": {why.split(': ', 1)[1]}" if why else "")
        return [Check(t, absent, None) for t in targets]
    out: list[Check] = []

    size = _figure(res, "size", RELEASE)
    if size is None:
        out.append(Check(size_target, "no figure", None))
    else:
        out.append(
            Check(
                size_target,
                f"{fmt(size.value)} KiB ({size.value * 1024:,.0f} bytes)",
                size.value <= SIZE_LIMIT_KIB,
                f"{fmt(size.value)} KiB",
            )
        )

    rss = _figure(res, "rss", RELEASE)
    if rss is None:
        out.append(Check(rss_target, "no figure (the measurement failed)", None))
    else:
        # Met only when every round was within the limit: the worst round is the figure.
        out.append(
            Check(
                rss_target,
                f"at most {fmt(rss.hi, True)} KiB in {len(rss.rounds)} rounds"
                f" (median {fmt(rss.value, True)} KiB)",
                rss.hi <= RSS_LIMIT_KIB,
                f"{fmt(rss.hi, True)} KiB, the worst of {len(rss.rounds)} rounds",
            )
        )

    out.append(
        _against_c_musl(res, labels, "startup", startup_target, 1 - STARTUP_LEAD, "µs", alpha)
    )
    out.append(_against_c_musl(res, labels, "storm_run", storm_target, 1.0, "ms", alpha))
    return out


def _against_c_musl(
    res: Results,
    labels: dict[str, str],
    metric: str,
    target: str,
    limit: float,
    unit: str,
    alpha: float,
) -> Check:
    """Met when the ratio of medians (ours / the C musl build's, over interleaved rounds) is at
    most ``limit``; the rounds won are shown beside it."""
    ours, peer = _figure(res, metric, RELEASE), _figure(res, metric, C_MUSL)
    if ours is None or peer is None:
        missing = labels.get(C_MUSL, "the C musl build") if peer is None else "ours"
        return Check(target, f"no figure for {missing} in this run", None)
    c = compare(ours, peer, 1e-9)
    won = f"ahead in {c.better}/{c.rounds} rounds" if c.rounds else "rounds not paired"
    words = verdict(c, exact=False, alpha=alpha)
    return Check(
        target,
        f"{fmt(ours.value)} {unit} against {fmt(peer.value)} {unit}, ×{c.ratio:.2f}, {won}: {words}",
        c.ratio <= limit,
        f"{fmt(ours.value)} vs {fmt(peer.value)} {unit}, ×{c.ratio:.2f}, {won}",
    )


def section(inits: list[Init], res: Results, alpha: float) -> list[str]:
    """The markdown section: a table of target, measured, met."""
    lines = [
        (
            "Targets of the x86_64 release binary (issues 8 and 16), on the figures above."
            " Resident memory counts as met only when every round was within the limit; start-up"
            f" when its median is at least {STARTUP_LEAD * 100:.0f} % below the C musl build's; the"
            " storm's CPU when its median is no higher. Rounds won count the interleaved rounds in"
            " which ours was lower."
        ),
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
    ]
    for c in check(inits, res, alpha):
        lines.append(f"| {c.target} | {c.measured} | {c.answer} |")
    return lines


def summary_line(inits: list[Init], res: Results, alpha: float) -> str:
    """One line for the README: each target with its number and met / not met."""
    checks = check(inits, res, alpha)
    if all(c.met is None for c in checks):
        return f"- Release binary targets: not checked, {checks[0].measured}."
    size, rss, startup, storm = (
        f"{c.answer.replace('**', '')} ({c.brief or c.measured})" for c in checks
    )
    parts = [
        f"at most {SIZE_LIMIT_KIB} KiB on disk: {size}",
        f"at most {RSS_LIMIT_KIB} KiB resident: {rss}",
        f"start-up at least {STARTUP_LEAD * 100:.0f} % ahead of the C dumb-init built with musl: {startup}",
        f"storm CPU no higher than it: {storm}",
    ]
    return "- Release binary (x86_64, musl lean) targets: " + "; ".join(parts) + "."
