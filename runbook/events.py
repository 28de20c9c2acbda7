"""Everything the engine tells a front end, by name.

A front end (headless, the TUI, a test) learns what happens only through the
events here, each a typed dataclass handed to ``FrontEnd.tell``. The journal's
record names are runbook.journal.Record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from runbook.model import Leaves, StepReport


@dataclass(frozen=True)
class RunStarted:
    """A run began (or continued, `resumed`) against `host` with these steps."""
    config: str
    host: str
    rehearsal: bool
    steps: tuple[str, ...]
    resumed: bool
    # A run that continues a cutover: when the stream manager went down (a
    # wall clock), for front ends to say at once (hoststate.down_since).
    down_since: float | None = None


@dataclass(frozen=True)
class Connected:
    """The SSH connection is up (again); its host key was the trusted one."""

    host: str
    fingerprint: str | None


@dataclass(frozen=True)
class Reconnecting:
    """The SSH connection was lost; attempt `attempt` to re-open it starts in
    `wait_s` seconds. `reason` is why the previous one failed."""

    host: str
    attempt: int
    wait_s: float
    reason: str

    def said(self) -> str:
        """The line the front ends show in the running step's output."""
        later = f" in {self.wait_s:.0f}s" if self.wait_s >= 1 else ""
        return f"SSH connection lost ({self.reason}): reconnecting{later}, attempt {self.attempt}"


@dataclass(frozen=True)
class ReconnectGaveUp:
    """The SSH connection stays lost: attempts to re-open it went on for
    `within_s` seconds and stopped (`reason`: why the last one failed). None
    is made again until an action needs the host: after the operator's
    answer (review 62, G8: the status line said "reconnecting" meanwhile)."""

    host: str
    within_s: float
    reason: str

    def said(self) -> str:
        """The line the front ends show in the running step's output."""
        return (f"SSH connection lost ({self.reason}): gave up reconnecting after "
                f"{self.within_s:g}s")


@dataclass(frozen=True)
class NoEstimate:
    """The run learnt its times stand for no other's, nor another's for it
    (on a rehearsal host it was not started as one: trial 59 F5): a front end
    drops the downtime estimate it had."""
    why: str


@dataclass(frozen=True)
class JournalNote:
    """What the operator should know of the journal as the run begins: its
    last record, torn by a crash, was mended, or it cannot be locked."""
    message: str
    # Another run's claim on the host was taken: whose (runbook.claim), so
    # front ends say no more of what serves than this run knows.
    taken_from: str = ""


@dataclass(frozen=True)
class StepChanged:
    """A step moved on: its state, detail and time as they now stand."""
    report: StepReport


@dataclass(frozen=True)
class Output:
    """One line a step produced or said. ``stream``: cmd, out, err or info."""

    step_id: str
    stream: str
    line: str
    # A warning the step said (ctx.warn, ctx.note(..., warning=True)): the
    # front ends mark the step by it, as the report lists it (review 57a, F3:
    # each read it from the line's first word, by rules of its own).
    warning: bool = False


@dataclass(frozen=True)
class Progress:
    """How far a long action (an upload, a wait) has come."""
    step_id: str
    done: float
    total: float | None
    label: str
    # done and total are seconds of a time limit, not work: a share of them
    # would read as the wait being that far along.
    of_limit: bool = False


@dataclass(frozen=True)
class CutoverStarted:
    """The first cutover step began: from here the stream manager is down.
    `began` (wall clock) is runbook's record of that moment for this host,
    kept on the operator's machine (runbook.hoststate), which the journal and
    the report keep too: every clock counts from it (operator trial: counted
    from when a front end heard of it, they differed by a second)."""
    step_id: str
    began: float


@dataclass(frozen=True)
class CutoverEnded:
    """The run left the cutover: `complete` when the last cutover step is done;
    otherwise the stream manager is still down."""

    complete: bool
    downtime_s: float


@dataclass(frozen=True)
class WayBackStarted:
    """The way back to the old stream manager begins (chosen after a failure,
    `runbook rollback`, or a resumed run that was on it): from here no
    upgrade's cutover time is an estimate, even if it stops at its first
    question. `steps`: the way back's steps, in order, for a summary to list
    those a stop leaves to come (re-trial 53), as the report does."""

    steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class Detached:
    """The operator left; these steps' commands go on running on the host."""

    steps: tuple[str, ...]


@dataclass(frozen=True)
class RunEnded:
    """The run is over, with its outcome and the exit code the CLI gives."""
    outcome: str
    exit_code: int
    # Set when the journal could not be written: why the run stopped.
    journal_failure: str | None = None
    # After a way back: what its begun steps leave to see to before the next
    # attempt, by step: what stays and what to do (Step.leaves), as the
    # journal keeps them, for a front end to read each field, not to split a
    # sentence again (review 57a, F3). The exit lines say each as one
    # (runbook.standing.before_another_attempt).
    before_another_attempt: Mapping[str, Leaves] = field(default_factory=dict)
    # After a way back: the steps whose work it could not touch at all
    # (Step.untouched_by_the_way_back), from the journal as the report reads
    # them: "not undone", where the others it does not undo read "partly
    # undone" (review 56b, F6: found before by a sentence's words).
    not_undone: tuple[str, ...] = ()
    # After a way back: the cutover steps whose work it found none of to put
    # back (rollback-unit: service-unit had not replaced the unit), from the
    # journal as the report reads them: not said undone (review 58c, 4).
    nothing_to_undo: tuple[str, ...] = ()


Event = (RunStarted | Connected | Reconnecting | ReconnectGaveUp | JournalNote | NoEstimate
         | StepChanged | Output | Progress
         | CutoverStarted | CutoverEnded | WayBackStarted | Detached | RunEnded)
