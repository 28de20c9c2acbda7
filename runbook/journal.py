"""Append-only JSON Lines journal: what happened, in order, on disk before anywhere else.

Each record is one line, flushed and fsynced before the front end hears of it,
so after a crash the journal says exactly which action was in flight. Resume
and the report read it back through :func:`replay`.

Records carry ``event`` plus event-specific fields; text is already redacted
by the caller (the executor passes everything through the run's redactor).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook.model import StepState


def default_dir() -> Path:
    """The user's state dir (XDG), where journals live unless --journal says otherwise."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "runbook"


class JournalError(Exception):
    """A journal that cannot be written or read back; one line naming the file."""


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Readable by the operator only: it holds hosts, paths and outputs.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise JournalError(f"{path}: cannot write the journal here "
                               f"({exc.strerror or exc})") from None
        try:
            # Two runs writing one journal would both act on the host.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise JournalError(f"{path}: another runbook is writing this journal; let it "
                               "finish or stop it first") from None
        # Line buffering is not enough: fsync per record is the promise.
        self._file = os.fdopen(fd, "a", encoding="utf-8")

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                  "mono": round(time.monotonic(), 3), "event": event, **fields}
        self._file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        return record

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def read(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a journal. A torn LAST line (a crash mid-write) is dropped;
    damage anywhere else is an error, because replaying around it would guess."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise JournalError(f"{path}: cannot be read as a journal ({exc})") from None
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                return
            raise JournalError(f"{path}:{number}: not a journal record; the file is damaged") \
                from None
        if not isinstance(record, dict) or not isinstance(record.get("event"), str):
            raise JournalError(f"{path}:{number}: not a journal record; the file is damaged")
        yield record


@dataclass
class StepHistory:
    state: StepState = StepState.PENDING
    detail: str = ""
    skip_reason: str = ""
    # Actions started without a recorded end: their outcome is unknown.
    in_flight: list[str] = field(default_factory=list)


@dataclass
class Replay:
    """What a journal says about a run, step by step."""

    path: Path | None = None
    config: str | None = None
    host: str | None = None
    steps: dict[str, StepHistory] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    # What the steps had learnt (versions, snapshot path...), as last recorded.
    facts: dict[str, Any] = field(default_factory=dict)
    cutover_started: str | None = None
    downtime_s: float | None = None
    finished: bool = False
    outcome: str | None = None

    def state(self, step_id: str) -> StepState:
        return self.steps.get(step_id, StepHistory()).state


def replay(path: Path) -> Replay:
    result = Replay(path=path)
    open_actions: dict[tuple[str, int], str] = {}
    for record in read(path):
        event = record.get("event")
        step = record.get("step", "")
        history = result.steps.setdefault(step, StepHistory()) if step else None
        if event == "run-start":
            # A resumed run appends to the same journal: it reopens the story.
            result.config = record.get("config")
            result.host = record.get("host")
            result.finished = False
            result.outcome = None
        elif event == "step-start" and history is not None:
            history.state = StepState.RUNNING
        elif event == "action-start":
            open_actions[(step, record.get("n", 0))] = record.get("text", "")
        elif event == "action-end":
            open_actions.pop((step, record.get("n", 0)), None)
        elif event == "step-end" and history is not None:
            try:
                history.state = StepState(record.get("state"))
            except ValueError:
                raise JournalError(f"{path}: unknown step state {record.get('state')!r}") \
                    from None
            history.detail = record.get("detail", "")
            history.skip_reason = record.get("reason", "")
        elif event == "note":
            result.notes.append(record)
        elif event == "facts":
            result.facts.update(record.get("facts", {}))
        elif event == "cutover-start":
            result.cutover_started = result.cutover_started or record["ts"]
        elif event == "cutover-end" and record.get("complete", True):
            result.downtime_s = record.get("downtime_s")
        elif event == "run-end":
            result.finished = True
            result.outcome = record.get("outcome")
    for (step, _n), text in open_actions.items():
        history = result.steps.setdefault(step, StepHistory())
        history.in_flight.append(text)
        if history.state in (StepState.RUNNING, StepState.PENDING):
            history.state = StepState.IN_DOUBT
    for history in result.steps.values():
        # A step that started and never ended was cut off mid-way.
        if history.state is StepState.RUNNING:
            history.state = StepState.IN_DOUBT
    return result


def unfinished(folder: Path, *, config: str | None = None) -> Replay | None:
    """The newest journal in `folder` whose run did not end with every step done.

    That is the run an operator would want to pick up again: stopped, failed,
    in doubt, or cut off without a run-end at all."""
    if not folder.is_dir():
        return None
    for path in sorted(folder.glob("*.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            history = replay(path)
        except JournalError:
            continue  # someone else's damaged file must not stop today's run
        if config is not None and history.config != config:
            continue
        if history.outcome != "done":
            return history
    return None
