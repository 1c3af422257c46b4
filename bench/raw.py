"""The raw results of a run as JSON (bench/out/results-MODE.json), and back, so a report
can be rendered again without measuring (`run.py --render FILE`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from inits import Init
from measure import Plan, Results
from report import Run
from stats import Figure


def save(run: Run, path: Path) -> None:
    data: dict[str, Any] = {
        "inits": [{**asdict(i), "path": str(i.path)} for i in run.inits],
        "figures": {m: {k: f.rounds for k, f in d.items()} for m, d in run.results.figures.items()},
        "details": run.results.details,
        "notes": run.results.notes,
        "plan": asdict(run.plan),
        "machine": run.machine,
        "mode": run.mode,
        "started": run.started,
        "duration_s": run.duration_s,
        "load_before": run.load_before,
        "load_after": run.load_after,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


def load(path: Path) -> Run:
    data = json.loads(path.read_text())
    res = Results(
        figures={m: {k: Figure(list(v)) for k, v in d.items()} for m, d in data["figures"].items()},
        details=data["details"],
        notes=data["notes"],
    )
    return Run(
        inits=[Init(**{**i, "path": Path(i["path"])}) for i in data["inits"]],
        results=res,
        machine=data["machine"],
        plan=Plan(**data["plan"]),
        mode=data["mode"],
        started=data["started"],
        duration_s=data["duration_s"],
        load_before=data["load_before"],
        load_after=data["load_after"],
        chart=None,
    )
