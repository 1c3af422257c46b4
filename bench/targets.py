"""The targets for the x86_64 release binary (issue 8), checked on the figures of the same run
as the peers: at most 48 KiB on disk, at most 64 KiB resident while supervising (VmRSS with the
child sleeping), and a start-up overhead no worse than the C dumb-init built with musl.

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
STARTUP_TOLERANCE = 0.05  # the report's "on par": medians within 5 %


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
    """The three targets, in the order of the issue. alpha is the report's sign-test level."""
    labels = {i.key: i.label for i in inits}
    size_target = f"binary size at most {SIZE_LIMIT_KIB} KiB ({SIZE_LIMIT_KIB * 1024:,} bytes)"
    rss_target = f"resident memory while supervising (VmRSS) at most {RSS_LIMIT_KIB} KiB"
    startup_target = "start-up overhead no worse than dumb-init 1.2.5 built with musl"
    if RELEASE not in labels:
        why = next((n for n in res.notes if n.startswith("release binary skipped: ")), "")
        absent = "no release binary in this run" + (f": {why.split(': ', 1)[1]}" if why else "")
        return [Check(t, absent, None) for t in (size_target, rss_target, startup_target)]
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

    ours_st = _figure(res, "startup", RELEASE)
    peer_st = _figure(res, "startup", C_MUSL)
    if ours_st is None or peer_st is None:
        missing = labels.get(C_MUSL, "the C musl build") if peer_st is None else "ours"
        out.append(Check(startup_target, f"no figure for {missing} in this run", None))
    else:
        c = compare(ours_st, peer_st, 1.0)
        words = verdict(c, exact=False, tolerance=STARTUP_TOLERANCE, alpha=alpha)
        out.append(
            Check(
                startup_target,
                f"{fmt(ours_st.value)} µs against {fmt(peer_st.value)} µs, ×{c.ratio:.2f}: {words}",
                c.ratio <= 1 + STARTUP_TOLERANCE,
                f"{fmt(ours_st.value)} µs vs {fmt(peer_st.value)} µs, ×{c.ratio:.2f},"
                f" {words.replace('**', '')}",
            )
        )
    return out


def section(inits: list[Init], res: Results, alpha: float) -> list[str]:
    """The markdown section: a table of target, measured, met."""
    lines = [
        (
            "Targets of the x86_64 release binary (issue 8), on the figures above. Resident"
            " memory counts as met only when every round was within the limit; start-up as"
            f" met when its median is within {STARTUP_TOLERANCE * 100:.0f} % of the C musl build's"
            " (on par) or better."
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
    size, rss, startup = (f"{c.answer.replace('**', '')} ({c.brief or c.measured})" for c in checks)
    parts = [
        f"at most {SIZE_LIMIT_KIB} KiB on disk: {size}",
        f"at most {RSS_LIMIT_KIB} KiB resident: {rss}",
        f"start-up no worse than the C dumb-init built with musl: {startup}",
    ]
    return "- Release binary (x86_64, musl lean) targets: " + "; ".join(parts) + "."
