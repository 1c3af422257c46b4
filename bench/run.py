"""Benchmark dumb-init (this tree: the wheel's default build and the x86_64 release binary)
against its peers: Debian's dumb-init, tini, tini-static, catatonit, and the C dumb-init
built here with musl from Debian's source.

    python bench/run.py            # full run (~7-9 min): writes docs/benchmarks.{md,png}
    python bench/run.py --quick    # ~1 min smoke run: writes bench/out/quick/
    python bench/run.py --binary PATH   # measure PATH instead of building this tree
    python bench/run.py --release-binary PATH   # instead of dist/dumb-init_VERSION_x86_64

The release binary is dist/dumb-init_VERSION_x86_64, made by
`python release/build.py --arch x86_64 --binaries-only` when it is not there yet.

Run as root on Linux (the reaping figure needs a PID namespace). Everything started is
killed and reaped before exit: the process is a child subreaper and cleans its subtree.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import subprocess
import sys
import time
from pathlib import Path

import chart
import inits
import machine
import procs
import raw
import report
from helpers import compile_helpers
from measure import FULL, QUICK, Results, measure_all

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="about one minute, fewer repetitions")
    ap.add_argument(
        "--binary", type=Path, help="our dumb-init to measure (default: build this tree)"
    )
    ap.add_argument(
        "--release-binary",
        type=Path,
        help="our release binary (default: dist/dumb-init_VERSION_x86_64, built when missing)",
    )
    ap.add_argument("--no-release", action="store_true", help="leave the release binary out")
    ap.add_argument(
        "--target-dir",
        type=Path,
        default=Path("/tmp/bench-target"),
        help="CARGO_TARGET_DIR for the build",
    )
    ap.add_argument(
        "--nice",
        type=int,
        default=-10,
        help="nice value for the measurements (default -10: less noise from other work)",
    )
    ap.add_argument(
        "--render", type=Path, help="do not measure: render the report again from a results JSON"
    )
    ap.add_argument("--peers-only", action="store_true", help="measure the peers alone")
    ap.add_argument("--no-install", action="store_true", help="do not apt-get missing peers")
    ap.add_argument(
        "--out",
        type=Path,
        help="where benchmarks.md/.png go (default docs/, or bench/out/quick/ with --quick)",
    )
    ap.add_argument(
        "--summary",
        type=Path,
        help="where SUMMARY.md goes (default bench/SUMMARY.md, or in --out with --quick)",
    )
    return ap.parse_args(argv)


def raise_priority(nice: int) -> int:
    """Run the measurements (and all they start) at this nice value, if we may."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except OSError as exc:
        log(f"could not set nice {nice}: {exc}")
    return os.getpriority(os.PRIO_PROCESS, 0)


def select_inits(args: argparse.Namespace, notes: list[str]) -> list[inits.Init]:
    """Ours (default build, then release binary), then the peers, C musl build after Debian's
    dumb-init."""
    install = not args.no_install
    peers = inits.find_peers(install=install, notes=notes)
    log("C dumb-init with musl: from the cache or Debian's source")
    c_musl = inits.c_musl_peer(HERE / "out" / "c-musl", install, notes)
    if c_musl is not None:
        after = next((n + 1 for n, p in enumerate(peers) if p.key == "dumb-init"), 0)
        peers.insert(after, c_musl)
    if args.peers_only:
        return peers
    binary = args.binary
    if binary is None:
        log(f"building this tree (release) into {args.target_dir}")
        binary = inits.build_ours(args.target_dir)
    ours = [inits.ours(binary.resolve(), how="given with --binary" if args.binary else "")]
    if not args.no_release:
        log("release binary: dist/, or release/build.py")
        release = inits.release_binary(notes, args.release_binary)
        ours += [release] if release is not None else []
    return [*ours, *peers]


def measure(args: argparse.Namespace) -> report.Run | None:
    """Select, build and measure; None when there is nothing (usable) to measure."""
    plan = QUICK if args.quick else FULL
    t0 = time.monotonic()
    started = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    res = Results()
    try:
        try:
            chosen = select_inits(args, res.notes)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            log(f"cannot measure this tree: {exc}")
            return None
        if not chosen:
            log("nothing to measure: " + "; ".join(res.notes))
            return None
        log("measuring: " + ", ".join(f"{i.label} ({i.path})" for i in chosen))
        helpers = compile_helpers(HERE / "out" / "helpers")
        res.details["meta"] = {"nice": raise_priority(args.nice)}
        load_before = machine.loadavg()
        measure_all(chosen, helpers, plan, res, log)
        load_after = machine.loadavg()
    finally:
        killed = procs.kill_descendants()
        if killed:
            log(f"cleaned up {killed} leftover processes")
    return report.Run(
        inits=chosen,
        results=res,
        machine=machine.describe(),
        plan=plan,
        mode="quick" if args.quick else "full",
        started=started,
        duration_s=time.monotonic() - t0,
        load_before=load_before,
        load_after=load_after,
        chart=None,
    )


def write(run: report.Run, out: Path, summary_path: Path) -> None:
    """docs (markdown and chart) and the README summary."""
    out.mkdir(parents=True, exist_ok=True)
    if chart.ensure_matplotlib():
        run = dataclasses.replace(run, chart="benchmarks.png")
        chart.draw(run, out / "benchmarks.png")
    else:
        run.results.notes.append("matplotlib could not be installed: no chart")
    (out / "benchmarks.md").write_text(report.markdown(run))
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(report.summary(run))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.out or (HERE / "out" / "quick" if args.quick else REPO / "docs")
    summary_path = args.summary or (out / "SUMMARY.md" if args.quick else HERE / "SUMMARY.md")
    if args.render:
        run = raw.load(args.render)
    else:
        procs.become_subreaper()
        measured = measure(args)
        if measured is None:
            return 2
        run = measured
        raw.save(run, HERE / "out" / f"results-{run.mode}.json")
    write(run, out, summary_path)
    log(f"done in {run.duration_s / 60:.1f} min: {out / 'benchmarks.md'}, {summary_path}")
    for n in run.results.notes:
        log(f"note: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
