"""What a replayed run leaves: per step, per job and per run (the Actions log and check runs)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.replay.events import Event


@dataclass
class StepResult:
    name: str
    id: str | None
    outcome: str  # success | failure | skipped
    conclusion: str
    outputs: dict[str, str] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""
    run: str | None = None
    uses: str | None = None
    seconds: float = 0.0
    summary: str = ""  # what the step appended to $GITHUB_STEP_SUMMARY
    steps: list[StepResult] = field(default_factory=list)  # a composite action's own steps


@dataclass
class JobResult:
    id: str
    status: str  # success | failure | skipped
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    workdir: Path | None = None
    permissions: Any = None
    display: str = ""  # the check run's name: the job's `name:`, "caller / called" for reusable ones
    reusable: bool = False

    def step(self, name_or_id: str) -> StepResult:
        for s in self.steps:
            if name_or_id in (s.id, s.name):
                return s
        raise KeyError(f"no step {name_or_id!r} in job {self.id}: {[s.name for s in self.steps]}")


@dataclass
class RunResult:
    workflow: str
    event: Event
    triggered: bool
    reason: str = ""
    jobs: dict[str, JobResult] = field(default_factory=dict)
    concurrency: Any = None
    cancelled: bool = False  # a concurrency group cancelled it before it ran

    @property
    def ok(self) -> bool:
        return self.triggered and not self.cancelled and all(j.status != "failure"
                                                             for j in self.jobs.values())

    @property
    def summary(self) -> str:
        return "\n".join(j.summary for j in self.jobs.values() if j.summary)

    def output(self) -> str:
        """Everything the steps printed, in order (what the Actions log would show)."""
        return "\n".join(s.stdout + s.stderr for j in self.jobs.values() for s in j.steps)

    def log(self) -> str:
        lines = [f"{self.workflow} on {self.event.name}: "
                 f"{'triggered' if self.triggered else 'not triggered: ' + self.reason}"]
        for job in self.jobs.values():
            lines.append(f"job {job.id}: {job.status}")
            for s in job.steps:
                lines.append(f"  [{s.outcome}] {s.name} ({s.seconds:.1f}s)")
                if s.outcome == "failure" or os.environ.get("REPLAY_VERBOSE"):
                    lines += ["    | " + ln for ln in (s.stdout + s.stderr).splitlines()[-40:]]
        return "\n".join(lines)


def read_kv_file(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV syntax: `key=value` lines and `key<<DELIM` heredocs."""
    out: dict[str, str] = {}
    if not path.exists():
        return out
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delim = line.split("<<", 1)
            body = []
            i += 1
            while i < len(lines) and lines[i] != delim:
                body.append(lines[i])
                i += 1
            out[key] = "\n".join(body)
        elif "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
        i += 1
    return out
