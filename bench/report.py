"""Markdown output: docs/benchmarks.md (table, goal check, release targets, details, method)
and the short summary for the README. Ours are up to two rows (the wheel's default build and
the release binary), each compared with the best peer. Where this project is behind a peer,
the text says so plainly.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

import cmusl
import targets
from inits import (
    C_MUSL_LABEL,
    DEFAULT_LABEL,
    RELEASE_ARCH,
    RELEASE_LABEL,
    REPO,
    Init,
    cargo_version,
)
from measure import DIRECT, SIGSTATE_VARIANTS, Plan, Results
from stats import METRICS, Figure, Metric, compare, fmt, verdict


@dataclass(frozen=True)
class Run:
    """Everything about one run that the report needs besides the results."""

    inits: list[Init]
    results: Results
    machine: dict[str, str]
    plan: Plan
    mode: str
    started: str
    duration_s: float
    load_before: str
    load_after: str
    chart: str | None  # file name of the chart next to the report, if drawn


@dataclass(frozen=True)
class Versus:
    """One of ours against the best peer on one metric: ratio of medians and the verdict."""

    ratio: float
    verdict: str


@dataclass(frozen=True)
class Row:
    """One metric compared: every init's figures, the best peer, and each of ours against it."""

    metric: Metric
    figs: dict[str, Figure]
    best_key: str | None
    versus: dict[str, Versus]  # by our init's key


# Short names of our rows, for column heads and the summary.
SHORT = {"ours": "default build", "ours-release": "release binary"}


def short(i: Init) -> str:
    return SHORT.get(i.key, i.label)


def _ours(run: Run) -> list[Init]:
    return [i for i in run.inits if i.ours]


def _peers(run: Run) -> list[Init]:
    return [i for i in run.inits if not i.ours]


FAMILY_ALPHA = 0.05


def family_alpha(run: Run) -> float:
    """Level of each sign test: 5 % shared out over the noisy figures that are tested
    (Bonferroni), so that one run claims a false difference anywhere with at most 5 %."""
    tested = [m for m in METRICS if not m.exact and run.results.figures.get(m.key)]
    return FAMILY_ALPHA / max(len(tested), 1)


def rows(run: Run) -> list[Row]:
    """The compared metrics that have data, in table order."""
    out: list[Row] = []
    alpha = family_alpha(run)
    for m in METRICS:
        figs = run.results.figures.get(m.key, {})
        peers = [p for p in _peers(run) if p.key in figs and figs[p.key].rounds]
        if not peers:
            continue
        best = min(peers, key=lambda p: figs[p.key].value)
        versus: dict[str, Versus] = {}
        for o in _ours(run):
            if o.key in figs and figs[o.key].rounds:
                c = compare(figs[o.key], figs[best.key], m.floor)
                versus[o.key] = Versus(c.ratio, verdict(c, m.exact, alpha=alpha))
            else:
                versus[o.key] = Versus(math.nan, "**no figure (failed)**")
        out.append(Row(m, figs, best.key, versus))
    return out


def _cell(fig: Figure | None, m: Metric, best: bool) -> str:
    if fig is None or not fig.rounds:
        return "failed"
    v = fmt(fig.value, m.integer)
    v = f"**{v}**" if best else v
    if len(fig.rounds) > 1 and fig.hi > fig.lo:
        return f"{v} ({fmt(fig.lo, m.integer)}–{fmt(fig.hi, m.integer)})"
    return v


def _storm_ok(run: Run, key: str) -> str:
    rounds: list[dict[str, int]] = run.results.details.get("storm", {}).get(key, [])
    if not rounds:
        return "failed"
    ok = sum(1 for kv in rounds if kv.get("alive") and kv.get("answered"))
    return f"{'yes' if ok == len(rounds) else '**no**'} ({ok}/{len(rounds)})"


def _sig_ok(run: Run, key: str, variant: str = "ign") -> str:
    st: dict[str, Any] | None = run.results.details.get(f"sigstate-{variant}", {}).get(key)
    if st is None:
        return "failed"
    if st["clean"]:
        return "clean"
    parts = []
    if st["blocked"]:
        parts.append("blocks " + " ".join(st["blocked"]))
    if st["ignored"]:
        parts.append("ignores " + " ".join(st["ignored"]))
    return "**" + "; ".join(parts) + "**"


def _sig_ok_blk(run: Run, key: str) -> str:
    return _sig_ok(run, key, "ignblk")


def table(run: Run) -> list[str]:
    """The main table: one row per metric, one column per init."""
    inits = run.inits
    has_direct = any(DIRECT in r.figs for r in rows(run))
    head = ["figure", *[i.label for i in inits]]
    head += ["program alone"] if has_direct else []
    ours = _ours(run)
    for o in ours:
        head += [f"{short(o)} ÷ best peer", "verdict" if len(ours) == 1 else f"verdict, {short(o)}"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in rows(run):
        m = row.metric
        lowest = min(f.value for k, f in row.figs.items() if k != DIRECT and f.rounds)
        title = f"{m.title} ({m.unit})" if m.unit else m.title
        cells = [title]
        for i in inits:
            f = row.figs.get(i.key)
            cells.append(_cell(f, m, f is not None and bool(f.rounds) and f.value == lowest))
        if has_direct:
            cells.append(_cell(row.figs.get(DIRECT), m, False) if m.baseline else "")
        for o in ours:
            v = row.versus[o.key]
            cells += ["–" if math.isnan(v.ratio) else f"×{v.ratio:.2f}", v.verdict]
        lines.append("| " + " | ".join(cells) + " |")
    extra = [
        ("survives 100,000 signals, child answers after", _storm_ok),
        ("child's signal state (init started with SIGINT ignored)", _sig_ok),
        ("… (init started with SIGINT ignored, SIGTERM and SIGUSR2 blocked)", _sig_ok_blk),
    ]
    for title, fn in extra:
        cells = [title, *[fn(run, i.key) for i in inits]]
        if has_direct:
            cells.append(fn(run, DIRECT) if fn in (_sig_ok, _sig_ok_blk) else "")
        cells += ["", ""] * len(ours)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def goal_check(run: Run) -> list[str]:
    """The goals for each of ours, answered yes or no, with the figures where it is behind."""
    ours = _ours(run)
    if not ours:
        return ["No build of this tree was measured (peers-only run)."]
    lines: list[str] = []
    for o in ours:
        if len(ours) > 1:
            lines += [f"### {o.label}", ""]
        lines += _goals_of(run, o)
        lines.append("")
    return lines[:-1]


def _goals_of(run: Run, ours: Init) -> list[str]:
    rs = rows(run)
    behind = [r for r in rs if r.versus[ours.key].verdict.startswith("**behind")]
    noisy = [r for r in rs if r.versus[ours.key].verdict.startswith("slightly behind")]
    failed = [r for r in rs if "failed" in r.versus[ours.key].verdict]
    names = {i.key: i.label for i in run.inits}

    def line(r: Row) -> str:
        best = r.figs[r.best_key] if r.best_key else Figure()
        v = r.versus[ours.key]
        u = f" {r.metric.unit}" if r.metric.unit else ""
        how = v.verdict.split("(", 1)[1].rstrip(")") if "(" in v.verdict else ""
        return (
            f"  - {r.metric.title}: {fmt(r.figs[ours.key].value, r.metric.integer)}{u} against"
            f" {fmt(best.value, r.metric.integer)}{u} for {names.get(r.best_key or '', '?')},"
            f" ×{v.ratio:.2f}" + (f", {how}" if how else "") + "."
        )

    if behind or failed:
        lines = ["- At least as good as the best peer on every figure: **no**. Clearly behind on:"]
        lines += [line(r) for r in behind]
        lines += [f"  - {r.metric.title}: no figure, the measurement failed." for r in failed]
    elif noisy:
        lines = ["- At least as good as the best peer on every figure: not clearly (see below)."]
    else:
        lines = ["- At least as good as the best peer on every figure: **yes** (within 5 %)."]
    if noisy:
        lines.append(
            "- More than 5 % behind, but not confirmed round by round (too few rounds, or they"
            " disagree): within the noise of this machine, but not better either:"
        )
        lines += [line(r) for r in noisy]
    idle = run.results.figures.get("idle", {}).get(ours.key)
    if idle and idle.rounds:
        zero = max(idle.rounds) == 0
        lines.append(
            f"- Zero idle wake-ups: {'yes' if zero else '**no**'}"
            f" ({fmt(idle.value, True)} per {run.plan.idle_seconds:.0f} s, max {fmt(idle.hi, True)})."
        )
    for variant, how in SIGSTATE_VARIANTS.items():
        sig = _sig_ok(run, ours.key, variant)
        lines.append(
            f"- Child's signal state clean (init started with {how}):"
            f" {'yes' if sig == 'clean' else '**no**: ' + sig}."
        )
    lines.append(f"- Survives the storm and the child answers: {_storm_ok(run, ours.key)}.")
    return lines


def sigstate_table(run: Run) -> list[str]:
    labels = {i.key: i.label for i in run.inits} | {DIRECT: "program alone (reference)"}
    lines = [
        "| init | init started with | child's SigBlk | SigIgn | blocked | ignored |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key in [i.key for i in run.inits] + [DIRECT]:
        for variant, how in SIGSTATE_VARIANTS.items():
            st: dict[str, Any] | None = run.results.details.get(f"sigstate-{variant}", {}).get(key)
            if st is None:
                continue
            blocked = " ".join(st["blocked"]) or "none"
            ignored = " ".join(st["ignored"]) or "none"
            lines.append(
                f"| {labels[key]} | {how} | `{st['SigBlk']}` | `{st['SigIgn']}` | {blocked} | {ignored} |"
            )
    return lines


def storm_table(run: Run) -> list[str]:
    storm: dict[str, list[dict[str, int]]] = run.results.details.get("storm", {})
    lines = [
        (
            "| init | signals sent | sending took (ms) | SIGUSR1 the child saw"
            " | init CPU per signal the child saw (µs) | alive after | answered |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for i in run.inits:
        rs = storm.get(i.key)
        if not rs:
            continue
        sent = statistics.median(kv["sent"] for kv in rs)
        took = statistics.median(kv["send_ns"] for kv in rs) / 1e6
        seen = statistics.median(kv["received"] for kv in rs)
        per = statistics.median(kv["run_ns"] / 1000 / max(kv["received"], 1) for kv in rs)
        alive = sum(kv["alive"] for kv in rs)
        ans = sum(kv["answered"] for kv in rs)
        lines.append(
            f"| {i.label} | {sent:,.0f} | {took:.0f} | {seen:,.0f} | {per:.2f} | {alive}/{len(rs)}"
            f" | {ans}/{len(rs)} |"
        )
    return lines


def inits_table(run: Run) -> list[str]:
    link = run.results.details.get("linkage", {})
    lines = ["| init | from | `--version` | linkage | path |", "| --- | --- | --- | --- | --- |"]
    for i in run.inits:
        lines.append(
            f"| {i.label} | {i.package} | `{i.version}` | {link.get(i.key, '?')} | `{i.path}` |"
        )
    return lines


def _nice(run: Run) -> str:
    meta: dict[str, Any] = run.results.details.get("meta", {})
    return str(meta.get("nice", "?"))


def method(run: Run) -> list[str]:
    p = run.plan
    return [
        (
            "- Every figure is measured for all inits in the same run, in interleaved rounds (round r"
            " visits the inits in an order rotated by r). A cell shows the **median over rounds** and,"
            " in brackets, the **min–max over rounds**. The best value of a row is in bold. The best"
            " peer is the peer with the best median; *ours ÷ best peer* is the ratio of the medians"
            " (values below a figure's resolution count as equal). Within 5 % is called on par."
            " Beyond that, the verdict says *behind* (or *ahead*) when the rounds agree: each round"
            " measured ours and the peer under the same load, and a one-sided sign test over the"
            f" rounds (ties left out) must give p < {family_alpha(run):.4f} (5 % shared out over"
            " the figures tested, so that a run makes a false claim anywhere with at most 5 %);"
            " otherwise it says *within noise*. Figures that are the same in every round (sizes)"
            " need no test."
        ),
        (
            f"- **{C_MUSL_LABEL}**: Debian's source `{cmusl.ORIG}`, accepted only with the sha256"
            f" that `{cmusl.DSC}` lists, compiled with `musl-gcc {' '.join(cmusl.CFLAGS)}`"
            " (the musl build upstream's README recommends is `CC=musl-gcc make`, whose Makefile"
            " passes -O3 instead of -Os; with musl the two binaries differ by a few hundred bytes)."
            f" **{RELEASE_LABEL}**: `dist/dumb-init_VERSION_{RELEASE_ARCH}` from"
            f" `python release/build.py --arch {RELEASE_ARCH} --binaries-only`."
            f" **{DEFAULT_LABEL}**: `cargo build --release` of this tree, the binary the wheel ships."
        ),
        (
            "- Each init runs in its default mode as `INIT -- CMD`, stdin `/dev/null`. All timed paths use"
            " small C helpers compiled here with `gcc -static` (`bench/c/`), never a shell. The"
            f" measurements and everything they start run at nice {_nice(run)}, the same for every init."
        ),
        (
            "- **Binary size**: file size. **Binary + shared libraries**: that plus every other file"
            " the running init maps (the dynamic loader and the C library, from `/proc/PID/maps`); for a"
            " static binary the two are the same."
        ),
        (
            f"- **Resident memory**: `VmRSS` of the init while its child sleeps in `pause()`;"
            f" {p.rss_rounds} rounds."
        ),
        (
            f"- **Start-up overhead**: wall time of fork+exec+wait of `INIT -- true-like` minus the"
            f" true-like program run directly; per round the median of {p.startup_runs} runs each;"
            f" {p.startup_rounds} rounds."
        ),
        (
            f"- **Signal-forward latency**: `kill(init, SIGUSR1)` until the child's handler has"
            f" written a byte to an inherited pipe; {p.siglat_signals} signals per round,"
            f" {p.siglat_gap_us} µs apart, {p.siglat_rounds} rounds; the same with the child"
            f" signalled directly is the *program alone* column."
        ),
        (
            f"- **Reaping**: `unshare --pid --fork --mount-proc INIT -- orphans {p.orphans}`; a helper"
            f" forks {p.orphans:,} children that exit at once and then exits itself, so the zombies are"
            f" re-parented to the init (PID 1); timed from the helper's exit until `kill(pid, 0)`"
            f" fails for all of them; {p.reap_rounds} rounds."
        ),
        (
            f"- **Exit latency**: the child writes its clock to a pipe and exits; timed until the"
            f" init's exit wakes the parent (pidfd); per round the median of {p.exit_runs} runs;"
            f" {p.exit_rounds} rounds; *program alone* is the child's own exit seen by its parent."
        ),
        (
            f"- **Idle**: `voluntary_ctxt_switches + nonvoluntary_ctxt_switches` of the init over"
            f" {p.idle_seconds:.0f} s while its child sleeps, after 1 s of settling; all inits idle"
            f" side by side; {p.idle_rounds} rounds."
        ),
        (
            f"- **Storm**: {p.storm_signals:,} `SIGUSR1` sent to the init as fast as one process can;"
            f" then `SIGUSR2`, which the child answers with how many `SIGUSR1` it saw (standard signals"
            f" coalesce, so fewer than sent is normal, and the CPU figure also depends on how many reach the init one by one, which varies with load). CPU of the init over the storm from"
            f" `/proc/PID/stat` utime+stime (10 ms ticks) and from `/proc/PID/schedstat` (ns);"
            f" {p.storm_rounds} rounds."
        ),
        (
            "- **Signal state**: `SigBlk`/`SigIgn` of the child from `/proc/CHILD/status` when the"
            " init was started (by `bench-withsig`) with a clean state except `SIGINT` ignored; and"
            " again with `SIGTERM` and `SIGUSR2` also blocked. *Program alone* shows what a plain"
            " `execve` passes on."
        ),
    ]


def _counted(notes: list[str]) -> list[str]:
    """Each distinct note once, with how often it occurred."""
    counts: dict[str, int] = {}
    for n in notes:
        counts[n] = counts.get(n, 0) + 1
    return [f"{n} (×{c})" if c > 1 else n for n, c in counts.items()]


def _linkage_note(run: Run) -> str:
    link = run.results.details.get("linkage", {})
    groups: dict[str, list[str]] = {}
    for i in run.inits:
        groups.setdefault(link.get(i.key, "?"), []).append(i.label)
    return "; ".join(f"{kind}: {', '.join(names)}" for kind, names in sorted(groups.items())) + "."


ARCH_ORDER = ("x86_64", "aarch64", "armv7", "i686", "ppc64le", "s390x", "riscv64")


def arch_sizes() -> list[str]:
    """The size of each architecture's release binary in dist/ (release/build.py builds all
    seven; only this machine's is measured above)."""
    version = cargo_version()
    found = {
        p.name.removeprefix(f"dumb-init_{version}_"): p.stat().st_size
        for p in (REPO / "dist").glob(f"dumb-init_{version}_*")
        if p.is_file() and p.suffix != ".deb"  # the Debian packages share the name's start
    }
    if not found:
        return [f"No release binaries of {version} in dist/ (`tox -e release` builds them)."]
    lines = [
        (
            f"The release binaries of {version} in dist/, as `release/build.py` built them (lean;"
            " linked by Rust's lld where nightly has the target's musl, else by zig with its own,"
            " musl 1.2.5 either way); the figures above measure the x86_64 one only."
        ),
        "",
        "| architecture | bytes | KiB |",
        "| --- | ---: | ---: |",
    ]
    order = {arch: i for i, arch in enumerate(ARCH_ORDER)}
    for arch in sorted(found, key=lambda a: (order.get(a, len(order)), a)):
        lines.append(f"| {arch} | {found[arch]:,} | {found[arch] / 1024:.1f} |")
    return lines


def markdown(run: Run) -> str:
    m = run.machine
    lines = [
        "# Benchmarks",
        "",
        "Generated by `tox -e bench` (`python bench/run.py`); do not edit by hand.",
        "",
        f"- Date: {run.started} ({run.mode} run, {run.duration_s / 60:.1f} min)",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}; kernel {m['kernel']}; {m['os']}",
        (
            f"- Load average before / after: {run.load_before} / {run.load_after}"
            " (the machine was shared with other work)"
        ),
        f"- Toolchain: {m['rustc']}; {m['gcc']}; Python {m['python']}",
        "",
        *inits_table(run),
        "",
        "## Results",
        "",
        *table(run),
        "",
    ]
    if run.chart:
        lines += [f"![ratio of each init's figure to the best peer's]({run.chart})", ""]
    lines += ["## Goals", "", *goal_check(run), ""]
    lines += ["## Release binary targets", ""]
    lines += [*targets.section(run.inits, run.results, family_alpha(run)), ""]
    lines += ["## Release binary sizes by architecture", "", *arch_sizes(), ""]
    lines += ["## The child's signal state", ""]
    lines += sigstate_table(run)
    lines += ["", "## Signal storm", "", *storm_table(run), ""]
    abs_st = run.results.figures.get("startup_abs", {})
    if abs_st:
        labels = {i.key: i.label for i in run.inits} | {DIRECT: "program alone"}
        lines += ["## Start-up, absolute", "", "| run | fork+exec+wait (µs) |", "| --- | --- |"]
        for key in [DIRECT] + [i.key for i in run.inits]:
            if key in abs_st:
                f = abs_st[key]
                lines.append(f"| {labels[key]} | {fmt(f.value)} ({fmt(f.lo)}–{fmt(f.hi)}) |")
        lines.append("")
    lines += ["## How each figure is measured", "", *method(run), ""]
    notes = [
        (
            "tini, when it is not PID 1 and not started with `-s`, prints a warning that it is not a"
            " subreaper on every start; that is its default behaviour and is part of its figures."
        ),
        _linkage_note(run),
        (
            "In their default modes all dumb-inits signal the child's whole process group (the"
            " child runs `setsid`), while tini and catatonit signal the child alone."
        ),
        *_counted(run.results.notes),
    ]
    lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(lines)


def summary(run: Run) -> str:
    """5-9 lines for the README: each of ours against the best peer, and the release targets."""
    ours = _ours(run)
    if not ours:
        return "No build of this tree was measured.\n"
    rs = rows(run)
    names = {i.key: i.label for i in run.inits}
    by = {r.metric.key: r for r in rs}
    several = len(ours) > 1

    def pair(key: str, who: bool = True) -> str:
        """'OURS vs BEST (NAME)'; with two of ours 'default build A, release binary B vs ...'."""
        r = by.get(key)
        if r is None:
            return "n/a"
        u = f" {r.metric.unit}" if r.metric.unit else ""
        mine = [
            (f"{short(o)} " if several else "") + f"{fmt(r.figs[o.key].value, r.metric.integer)}{u}"
            for o in ours
            if o.key in r.figs and r.figs[o.key].rounds
        ]
        if not mine:
            return "n/a"
        best = r.figs[r.best_key] if r.best_key else Figure()
        text = f"{', '.join(mine)} vs {fmt(best.value, r.metric.integer)}{u}"
        return f"{text} ({names.get(r.best_key or '', '?')})" if who else text

    def each(values: dict[str, str]) -> str:
        """One value when all of ours agree, else each with its short name."""
        if len(set(values.values())) == 1:
            return next(iter(values.values()))
        return ", ".join(f"{short(o)} {values[o.key]}" for o in ours)

    peers = _peers(run)
    leaky = [
        f"{p.label} {_sig_ok(run, p.key).replace('**', '')}"
        for p in peers
        if _sig_ok(run, p.key) != "clean"
    ]
    answered = each({o.key: _storm_ok(run, o.key).split("(")[-1].rstrip(")") for o in ours})
    sig = each({o.key: _sig_ok(run, o.key).replace("**", "") for o in ours})
    m = run.machine
    who = "ours (the wheel's default build, then the x86_64 release binary)" if several else "ours"
    lines = [
        (
            f"Benchmarks ({m['cores']}-core {m['cpu']}, kernel {m['kernel']}, {run.started[:10]}; full table"
            f" in docs/benchmarks.md, `tox -e bench`) against {', '.join(p.label for p in peers)}"
            " (Debian's packages; the musl build made from Debian's source);"
            f" {who} vs the best peer, medians:"
        ),
        (
            f"- Signal forwarding {pair('siglat_med')}, p99 {pair('siglat_p99')};"
            f" exit latency {pair('exitlat')}."
        ),
        f"- Start-up overhead {pair('startup')}; reaping 10,000 orphans as PID 1 {pair('reap')}.",
        (
            f"- Idle wake-ups in 5 s: {pair('idle')}. 100,000 signals: survived and the child still"
            f" answered in {answered} rounds; init CPU {pair('storm_run')}."
        ),
        f"- Child's signal state with SIGINT ignored at start: {sig}"
        + (f" ({'; '.join(leaky)})." if leaky else "."),
        (
            f"- Binary {pair('size')}; {pair('size_loaded', False)} counting shared libraries;"
            f" resident memory {pair('rss')}."
        ),
    ]
    for o in ours:
        # "- Release binary: clearly behind ..." with two of ours, "- Clearly behind ..." with one.
        who = f"{short(o).capitalize()}: " if several else ""
        behind = [r.metric.title for r in rs if r.versus[o.key].verdict.startswith("**behind")]
        noisy = [
            r.metric.title for r in rs if r.versus[o.key].verdict.startswith("slightly behind")
        ]
        said: list[str] = []
        if behind:
            said.append("clearly behind the best peer on: " + "; ".join(behind) + ".")
        if noisy:
            said.append("slightly behind, within noise, on: " + "; ".join(noisy) + ".")
        if not behind and not noisy:
            said.append("at least as good as the best peer on every figure (within 5 %).")
        lines += [f"- {who}{text}" if who else f"- {text[0].upper()}{text[1:]}" for text in said]
    lines.append(targets.summary_line(run.inits, run.results, family_alpha(run)))
    return "\n".join(lines) + "\n"
