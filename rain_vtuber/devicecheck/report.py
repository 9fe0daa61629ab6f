"""The device check's record: device-check.json and device-check.md, rewritten after every step.

A step is a function that fills its own dict with figures as it goes. It runs under a deadline
(its budget, cut to what is left of the run's). If it raises, what it recorded so far stays, with
status "failed", the error and the end of the traceback, and the run goes on to the next step.
The files are rewritten when a step starts ("running") and ends, so a run killed from outside
(the GPU machine's 10-minute command limit) still leaves every finished step on disk.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from rain_vtuber.utils.atomic import atomic_write
from rain_vtuber.utils.console import console

JSON_NAME = "device-check.json"
MARKDOWN_NAME = "device-check.md"
TRACEBACK_LINES = 12

Record = dict[str, Any]


@dataclass
class StepClock:
    """When the step must be done (time.perf_counter instant) and its budget in seconds."""

    deadline: float
    budget_s: float

    def left(self) -> float:
        return self.deadline - time.perf_counter()


@dataclass
class Report:
    """Every step's record plus the run's options, mirrored to `out` after each change."""

    out: Path
    options: dict[str, Any]
    budget_s: float
    steps: dict[str, Record] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    started_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def run(self, name: str, step: Callable[[Record, StepClock], str], budget_s: float) -> None:
        """Run `step` (it returns a one-line summary for the table); record and save whatever happens."""
        left = self.budget_s - (time.perf_counter() - self.started)
        record: Record = {"status": "running", "budget_s": round(min(budget_s, max(left, 0.0)), 1)}
        self.steps[name] = record
        if left <= 0:
            record.update(status="skipped", error=f"no time left of the run's {self.budget_s:g} s budget")
            self.save()
            return
        self.save()
        started = time.perf_counter()
        clock = StepClock(started + min(budget_s, left), min(budget_s, left))
        try:
            record["summary"] = step(record, clock)
            record["status"] = "ok"
        except Exception as err:  # noqa: BLE001 -- one step's failure is a result; the next step still runs
            record.update(status="failed", error=f"{type(err).__name__}: {err}",
                          traceback_tail=traceback.format_exc().strip().splitlines()[-TRACEBACK_LINES:])
        record["elapsed_s"] = round(time.perf_counter() - started, 1)
        outcome = record.get("summary") or record.get("error")
        console.print(f"device-check: {name} {record['status']} in {record['elapsed_s']} s: {outcome}", markup=False,
                      soft_wrap=True)
        self.save()

    @property
    def ok(self) -> bool:
        return all(record["status"] == "ok" for record in self.steps.values())

    def as_dict(self) -> Record:
        return {
            "started": self.started_at,
            "elapsed_s": round(time.perf_counter() - self.started, 1),
            "ok": self.ok,
            "options": self.options,
            "steps": self.steps,
        }

    def save(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        for name, text in ((JSON_NAME, json.dumps(self.as_dict(), indent=2, default=str)), (MARKDOWN_NAME, self.markdown())):
            atomic_write(self.out / name, text + "\n")  # a reader never sees half a file

    def markdown(self) -> str:
        """Status and key figures of each step, then the speed and kernel tables when there are any."""
        lines = [f"# Device check ({self.options.get('device')}, {'tiny' if self.options.get('tiny') else 'release'})", "",
                 "| step | status | time | key figures |", "|---|---|---|---|"]
        for name, record in self.steps.items():
            figures = record.get("summary") or record.get("error") or ""
            lines.append(f"| {name} | {record['status']} | {record.get('elapsed_s', '-')} s | {_cell(figures)} |")
        speed = self.steps.get("speed", {})
        rows = [(name, r) for name, r in speed.get("backends", {}).items() if "fps" in r]
        if rows:
            lines += ["", "| backend | fps | iteration p50 / p99 ms | latency p50 / p99 ms | peak MiB | build s | TFLOP/s | of limit |",
                      "|---|---|---|---|---|---|---|---|"]
            lines += [f"| {name} | {r['fps']} | {r['iteration_ms_p50']} / {r['iteration_ms_p99']} | "
                      f"{r['latency_ms_p50']} / {r['latency_ms_p99']} | {r['peak_device_mib'] or '-'} | {r['build_s']} | "
                      f"{r['tflops_per_s']} | {_percent(r['compute_fraction'])} |" for name, r in rows]
        kernels = speed.get("profile", {}).get("top", [])
        if kernels:
            lines += ["", f"Top kernels of one iteration ({speed['profile']['backend']}, {speed['profile']['sorted_by']}):", "",
                      "| kernel / op | self ms | share | calls |", "|---|---|---|---|"]
            lines += [f"| {_cell(k['name'][:90])} | {k['self_ms']} | {_percent(k['share'])} | {k['calls']} |" for k in kernels]
        return "\n".join(lines)


def _cell(text: str) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
