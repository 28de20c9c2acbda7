"""A finished (or stopped, or failed) run as its journal tells it, for the change ticket.

:func:`build` reads a journal into a :class:`Report`: who ran it against which
host, the releases and API versions, when it started and ended, how long the
stream manager was down against the last rehearsal, every step with its times,
outcome, actions and output, the warnings, the properties decisions and the
nodegroups before and after. ``report_md`` and ``report_html`` render it
(with what they share in ``report_format``); ``runbook log``'s lines are
runbook.log's.

Nothing here adds secrets: the journal is masked as it is written, and of the
fleet snapshot (whose launch configs hold cloud settings) only names, regions
and counts are read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pwd
import shlex
import sys
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from runbook.earlier_runs import last_downtime
from runbook.hoststate import HostState, HostStateError, Snapshot, standing_origins
from runbook.journal import (
    JournalError,
    Record,
    cutover_began,
    first_record,
    in_use,
    read,
    text_of,
    texts_of,
    unwritten,
)
from runbook.journal_replay import (
    Replay,
    faults_recovered,
    faults_staged,
    journal_scenario,
    journal_unattended,
    leaves_of,
    left_behind,
    merged_flags,
    not_undone_of,
    nothing_to_undo_of,
    replay,
    run_pace_of,
    said_as_warning,
    seconds_between,
    stopped_with_its_journal,
    way_back_finished,
)
from runbook.model import (
    AFTER_UPGRADE,
    AFTER_WAY_BACK,
    NODEGROUP_RECREATED,
    PROPERTIES_STEP,
    SERVICE_ANSWERED,
    UNDONE_DID,
    UPLOADED,
    AfterTheWayBack,
    Leaves,
    Outcome,
    after_the_way_back,
    signal_cause,
)
from runbook.standing import before_another_attempt
from runbook.statedir import default_dir, rehearsals_dir
from runbook.streams import silence, write_whole
from runbook.wholefile import atomic_write

# What a shell that died of SIGPIPE reports: `runbook report | head -1`.
EXIT_CLOSED_PIPE = 141


class ReportError(JournalError):
    """A journal that cannot be reported on, or a report that cannot be
    written; one line naming the file."""


@dataclass
class Action:
    """A command, API call, upload or edit as it was run."""

    ts: str
    kind: str
    text: str
    # ok, failed or unknown; None when no end was recorded (in doubt).
    status: str | None = None
    exit: int | None = None
    error: str = ""
    # When its end was recorded, and, where the SSH connection was lost while
    # it waited or ran, when it was back (operator trial 56, F4: the report
    # dated an mv at its request, 80 s before the host was back to run it).
    ended: str | None = None
    connection_back: str | None = None


@dataclass(frozen=True)
class Note:
    """A note a step left in the journal, such as a warning, for the report."""
    step: str
    ts: str
    kind: str
    text: str
    # When the same was said again (a resumed session looks again).
    again: tuple[str, ...] = ()


def moment(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        when = datetime.fromisoformat(ts)
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def clock(ts: str | None, day: str | None = None) -> str:
    """13:59:01, with the date when it is not `day`'s."""
    when, first = moment(ts), moment(day)
    if when is None:
        return "-"
    if first is not None and when.date() != first.date():
        return when.strftime("%Y-%m-%d %H:%M:%S")
    return when.strftime("%H:%M:%S")


def said_once(notes: list[Note]) -> list[Note]:
    """Each step's note once, where it was first said, with when it was said
    again (re-trial: a skipped step's warning, listed once per session)."""
    first: dict[tuple[str, str], Note] = {}
    for note in notes:
        seen = first.get((note.step, note.text))
        first[(note.step, note.text)] = note if seen is None else \
            dataclasses.replace(seen, again=(*seen.again, note.ts))
    return list(first.values())


# How an attempt can end that leaves the step not done: a report says so even
# when a later attempt (a retry, a resume) got the step done.
BAD_ENDS = ("failed", "in-doubt")


@dataclass
class Attempt:
    """One go at a step: its check and, when the check did not find it done,
    its run, up to the end the journal records. A resume that trusts an
    earlier run's "done" is no attempt."""

    # Which run of the journal it belongs to: 1, then 2 for the first resume...
    run: int
    started: str | None = None
    ended: str | None = None
    # As the step-end says; "in-doubt" too for an attempt cut off with no end.
    state: str = "in-doubt"
    detail: str = ""
    elapsed_s: float | None = None
    # Its check found the outcome in place: nothing ran.
    found: bool = False
    # It got past its check to run (a step-start): one without an end was cut
    # off. A skip, or a refusal at the check, never ran (operator trial).
    ran: bool = False
    # The operator aborted it: what runbook did about it, in words ("" if not).
    aborted: str = ""
    # ...by stopping it (x), the run going on to its question.
    stopped: bool = False
    # Left running when runbook went (the operator's d, a closed terminal):
    # who left it, in words ("" if not).
    left: str = ""
    # What the step showed from the end of the attempt before to this one's.
    lines: list[tuple[str, str]] = field(default_factory=list)
    # One with no end: the last record of its run. It ran at least until then
    # (operator trial: a step killed with -9 read "-" or "unknown" as its time).
    seen_until: str | None = None

    @property
    def bad(self) -> bool:
        return self.state in BAD_ENDS

    @property
    def cut_off(self) -> bool:
        """It ran, and no end of it is on record: its running time is not."""
        return self.ran and self.elapsed_s is None


@dataclass
class StepRun:
    """One step as the report shows it: its attempts, actions and output."""
    id: str
    state: str = "not reached"
    # The first attempt's start and the last one's end.
    started: str | None = None
    ended: str | None = None
    # The last attempt's running time; `took` adds every attempt's up.
    elapsed_s: float | None = None
    detail: str = ""
    skip_reason: str = ""
    tries: list[Attempt] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    # (stream, line): out, err or info, as the journal kept them.
    lines: list[tuple[str, str]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    # A cutover step done (or left in doubt), and what the way back the run
    # ended with did with its work: undone; partly undone, some left
    # (recreate's); or none of it, the way back could not (operator trial 54).
    after_the_way_back: AfterTheWayBack | None = None
    # What that way back did with its work, said after "then": most steps'
    # it undid; delete-nodegroups' it made anew (run-start's way_back_did).
    way_back_did: str = UNDONE_DID

    @property
    def undone(self) -> bool:
        """Undone by the way back the run ended with."""
        return self.after_the_way_back is AfterTheWayBack.UNDONE

    @property
    def attempts(self) -> int:
        """Its goes at getting it done: a skip was none (operator trial: a step
        skipped, then run on resume, read "2 attempts")."""
        return sum(1 for t in self.tries if t.state != "skipped")

    @property
    def took(self) -> float | None:
        """The running time of every attempt, added up: not the waits between
        them (a prompt, a night between a stop and a resume)."""
        known = [t.elapsed_s for t in self.tries if t.elapsed_s is not None]
        return round(sum(known), 1) if known else None

    @property
    def failures(self) -> list[Attempt]:
        """The attempts that did not get the step done, its last one included
        when the step ended that way."""
        return [t for t in self.tries if t.bad]

    @property
    def recovered(self) -> bool:
        """A step that failed (or was left in doubt) in some attempt and came
        to another end later: a report must not show it as a plain "done"."""
        return bool(self.failures) and self.state not in BAD_ENDS


@dataclass(frozen=True)
class Nodegroup:
    """A nodegroup by its names and counts only: never a launch config's body."""

    name: str
    regions: tuple[str, ...]
    launch_config: str
    scale_policy: str
    origins: int | None
    nodes: int | None = None


@dataclass
class Fleet:
    """The nodegroups before the cutover and after it, side by side."""
    snapshot: str | None = None
    taken: str | None = None
    api_version: str | None = None
    # Why the snapshot could not be read, when it could not.
    problem: str | None = None
    launch_configs: list[str] = field(default_factory=list)
    scale_policies: list[str] = field(default_factory=list)
    rows: list[tuple[Nodegroup | None, Nodegroup | None]] = field(default_factory=list)


@dataclass
class Downtime:
    """How long the stream manager was down, against the estimate if there is one."""
    began: str | None = None
    ended: str | None = None
    seconds: float | None = None
    # False: the run ended with the stream manager still down.
    complete: bool = False
    # The time of the journal's last record: as far as it knows of a run cut off.
    last_seen: str | None = None
    estimate_s: float | None = None
    estimate_from: Path | None = None
    estimate_is_rehearsal: bool = True
    # Each time the run ended (cut off, or stopped) while the stream manager
    # was down, and was resumed: the gaps are downtime too (operator trial).
    breaks: list[Break] = field(default_factory=list)


@dataclass
class Break:
    """The run ended while the stream manager was down, and went on later."""
    ended: str  # its last record's time
    how: str  # "cut off", or the outcome it ended with ("stopped")
    step: str | None  # the step it ended in, or the last one before it
    in_step: bool  # True: in that step; False: after it
    resumed: str


@dataclass
class Report:
    """Everything the change ticket's report says, read from one journal."""
    path: Path
    operator: str = ""
    host: str = ""
    fingerprint: str | None = None
    config: str = ""  # the last session's: the one resume and rollback commands name
    # Each config the run's sessions used, in order, once each (trial 57 F14:
    # a run resumed with another config named only the last).
    configs: list[str] = field(default_factory=list)
    rehearsal: bool = False
    # The pace the run went at (run_pace_of): None when unknown.
    pace: float | None = None
    # A rehearsal's faults, as --fault gave them: what failed on purpose.
    faults: list[str] = field(default_factory=list)
    # Those staged whose step never ran: nothing failed of them (trial 56 F1).
    faults_never_up: list[str] = field(default_factory=list)
    # Those come up whose step recovered after reconnecting (trial 58, L7).
    faults_recovered: list[str] = field(default_factory=list)
    # --yes answered every step (journal_unattended): None when mixed.
    unattended: bool | None = False
    # A rehearsal's upgrade path (journal_scenario): its estimate is one of it.
    scenario: str | None = None
    # The journal says the way back began (Record.WAY_BACK), and why (the first
    # time: who chose it; journals before it was said have none).
    way_back_began: bool = False
    way_back_why: str | None = None
    # The way back's steps, as its record listed them when it began.
    way_back_steps: list[str] = field(default_factory=list)
    started: str | None = None
    ended: str | None = None
    outcome: str | None = None
    exit_code: int | None = None
    # How its last run's journal went under it, where that stopped the run
    # (journal._stopped_here); "" otherwise.
    journal_lost: str = ""
    runs: int = 0
    version_from: str | None = None
    version_to: str | None = None
    api_from: str | None = None
    api_to: str | None = None
    # What the new release said when it first answered.
    service: str | None = None
    # What the old release said when it answered again on the way back.
    service_back: str | None = None
    api_back: str | None = None
    steps: list[StepRun] = field(default_factory=list)
    warnings: list[Note] = field(default_factory=list)
    # What the steps said is left to do once the upgrade is done (AFTER_UPGRADE).
    after: list[Note] = field(default_factory=list)
    # What the way back's steps said they left on the host (AFTER_WAY_BACK), and
    # what the cutover's steps that acted leave that it does not undo (leaves).
    after_way_back: list[Note] = field(default_factory=list)
    left_by_way_back: list[str] = field(default_factory=list)
    # What the steps said they left in the upload folder (UPLOADED): path -> folder.
    uploaded: dict[str, str] = field(default_factory=dict)
    # Things about the record itself: a repaired journal, a detached command.
    remarks: list[str] = field(default_factory=list)
    # An unfinished run: what serves now, and the commands that go on from there.
    standing: str = ""
    going_on: list[tuple[str, str]] = field(default_factory=list)  # (what, command)
    # A run that went back: what the next attempt must see to first.
    before_another_attempt: str = ""
    downtime: Downtime = field(default_factory=Downtime)
    fleet: Fleet = field(default_factory=Fleet)
    facts: dict[str, Any] = field(default_factory=dict)

    def step(self, step_id: str) -> StepRun | None:
        return next((s for s in self.steps if s.id == step_id), None)

    @property
    def skipped(self) -> list[StepRun]:
        return [s for s in self.steps if s.state == "skipped"]

    @property
    def failed(self) -> list[StepRun]:
        return [s for s in self.steps if s.state in BAD_ENDS]

    @property
    def recovered(self) -> list[StepRun]:
        return [s for s in self.steps if s.recovered]

    @property
    def properties(self) -> StepRun | None:
        return self.step(PROPERTIES_STEP)

    @property
    def rolled_back(self) -> bool:
        """The way back ended: the old release serves again, and no upgrade
        stands. Also when the run's end was cut off as it was written, but the
        records show it (operator trial 54): the cutover's end written
        complete once the way back began, and every step it listed done."""
        steps = [self.step(step_id) for step_id in self.way_back_steps]
        return way_back_finished(self.outcome, self.way_back_began, self.downtime.complete,
                                 [step.state if step is not None else None for step in steps])

    @property
    def to_do_after(self) -> list[Note]:
        """What is left to do after an upgrade that finished: none for a run
        that did not (what it left is said by where it stands)."""
        if self.outcome != Outcome.DONE.value:
            return []
        if self.downtime.began is None:
            return [*self.after, *self._upload_left(AFTER_UPGRADE)]  # nothing to go back from
        # What runbook's way back is for, and what a return by hand must see
        # to first (operator trial 54: "it is the way back", then refused).
        from runbook.standing import AFTER_A_FINISHED_UPGRADE, ONLY_UNDER_WAY

        said = f"{ONLY_UNDER_WAY}; {AFTER_A_FINISHED_UPGRADE}"
        return [*self.after, *self._upload_left(AFTER_UPGRADE),
                Note("", self.ended or "", AFTER_UPGRADE, said[0].upper() + said[1:])]

    @property
    def left_after_the_way_back(self) -> list[Note]:
        """What a way back that finished left on the host, for the change
        ticket's follow-ups (operator trial 56, F2): none for a run that did
        not go back, or whose way back did not finish (where it stands says
        that)."""
        if not self.rolled_back:
            return []
        return [*self.after_way_back,
                *(Note("", self.ended or "", AFTER_WAY_BACK, text[0].upper() + text[1:])
                  for text in self.left_by_way_back),
                *self._upload_left(AFTER_WAY_BACK)]

    def _upload_left(self, kind: str) -> list[Note]:
        """The upload folder's files as the journal names them, one item a
        folder, with the command that removes those files and nothing else
        (re-trial 56b, F3: the whole distribution, listed nowhere). runbook
        never runs it: another attempt's upload takes what it finds whole."""
        folders: dict[str, list[str]] = {}
        for path, folder in self.uploaded.items():
            folders.setdefault(folder, []).append(path)
        when = ("the upgrade no longer needs them" if kind == AFTER_UPGRADE else
                "another attempt's upload takes the files it finds whole there rather than "
                "sending them again; once none follows")
        return [Note("upload", self.ended or "", kind,
                     f"the upload folder {folder} still holds "
                     f"{', '.join(PurePosixPath(path).name for path in paths)}: {when}, "
                     "remove them: rm -f -- " + " ".join(shlex.quote(path) for path in paths))
                for folder, paths in folders.items()]

    @property
    def went_back(self) -> bool:
        """The way back began (finished or not): no upgrade stands as it was,
        and the downtime holds more than a cutover."""
        return self.rolled_back or self.way_back_began


# --- reading ---------------------------------------------------------------------------


def newest_journal(folder: Path) -> Path:
    """The newest run in `folder` (the user's state dir unless told otherwise)
    or its rehearsals/, where `runbook rehearse` keeps its journals. Not an
    empty one: a run starting now has claimed it and written nothing yet."""
    found = sorted((path for where in (folder, folder / "rehearsals") if where.is_dir()
                    for path in where.glob("*.jsonl") if not unwritten(path)), key=_mtime)
    if not found:
        raise ReportError(f"{folder}: no journal here or in its rehearsals/; name the one "
                          "to read (a rehearsal with --sandbox keeps its own in "
                          "SANDBOX/.operator/runs/)")
    return found[-1]


def journal_records(path: Path) -> tuple[list[dict[str, Any]], str | None]:
    """A journal's records, and what to say of a last record torn mid-write
    (None when there is none): it is left out, never in silence (operator
    trial), since the host may have gone one action further."""
    cut: list[int] = []
    # All of it first: a damaged line further down is one error, not half a report.
    records = list(read(path, torn=cut.append))
    if not records:
        # Most often a journal a runbook claimed as it started (journal.claim)
        # and left unwritten: one starting now, or one killed before its run
        # began (operator trial: "not a runbook journal" read as foreign).
        if in_use(path):
            raise ReportError(f"{path}: holds no records yet: a runbook starting now has "
                              "claimed it for its run; try again once the run is under way")
        raise ReportError(f"{path}: holds no records: no run was written in it (a runbook "
                          "that claimed it was stopped before its run began, or it is no "
                          "journal); there is nothing to report")
    said = (f"the journal's last record was cut off as it was written ({cut[0]} bytes: "
            "runbook was killed, the machine stopped, or the disk filled) and is left out; "
            "the host may "
            "have gone one action further than this says") if cut and not in_use(path) \
        else None  # a run writing it now may be half way through a record
    return records, said


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _owner(path: Path) -> str:
    """Who wrote the journal: it is created mode 600 by the operator's run."""
    try:
        uid = path.stat().st_uid
    except OSError:
        return ""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


# What an abort did to an action it cut short, by the action's kind: its
# status, and the words the report says it in. An API request or a wait is
# not here: the request stands once sent, and runbook only stopped waiting.
_CUT_SHORT = {
    "shell": ("told to stop", "runbook told the host to stop the command it ran"),
    # Staged, then put in place by one rename (Remote.replace_file).
    "editfile": ("stopped", "runbook stopped its edit: the file it edited is as it was or "
                 "whole as edited"),
    # A new attempt keeps the part whose checksum matches (Remote.upload).
    "upload": ("stopped part-way", "runbook stopped the transfer: what reached the host "
               "stays, and a new attempt goes on from it"),
}


class _Reader:
    """One pass over the records, in order."""

    def __init__(self, path: Path) -> None:
        self.report = Report(path=path)
        self.steps: dict[str, StepRun] = {}
        self.open: dict[tuple[str, str, int], Action] = {}
        # The keys of `open` this run added (since its run-start).
        self.open_this_run: set[tuple[str, str, int]] = set()
        self.stopped_at: str | None = None
        # The nodegroups the run rebuilt, by the name of the one they replace.
        self.recreated: dict[str, Nodegroup] = {}
        # Each step's attempt under way (started, no end yet).
        self.going: dict[str, Attempt] = {}
        # What each step showed since its last attempt ended: the next one's.
        self.said: dict[str, list[tuple[str, str]]] = {}
        # The cutover's steps, as the runs that listed them said.
        self.cutover: set[str] = set()
        # What each step leaves that the way back does not undo (run-start).
        self.leaves: dict[str, Leaves] = {}
        # Of those, whether the way back could not touch it at all, as
        # recorded (None in a journal from before: journal_replay.not_undone_of).
        self.not_undone: dict[str, bool] | None = None
        # What the way back does with a step's work, where not undo it (run-start).
        self.way_back_did: dict[str, str] = {}
        # The step the last step record named: where a run ended between steps.
        self.last_step: str | None = None
        # A lost connection not yet settled: its remark's index, and the
        # attempts to reconnect so far.
        self.lost: tuple[int, int] | None = None

    def _showed(self, step_id: str, lines: list[tuple[str, str]]) -> None:
        """Lines the step showed: its own, and its attempt's so far."""
        self.step(step_id).lines.extend(lines)
        self.said.setdefault(step_id, []).extend(lines)

    def step(self, step_id: str) -> StepRun:
        if step_id not in self.steps:
            self.steps[step_id] = StepRun(step_id)
        return self.steps[step_id]

    def take(self, record: dict[str, Any]) -> None:
        ts = text_of(record.get("ts"))
        downtime = self.report.downtime
        before, downtime.last_seen = downtime.last_seen, ts or downtime.last_seen
        if record["event"] == Record.RUN_START and self.report.runs:
            self._seen_until(before or ts)
            self._resumed(before or ts, ts)
        read = _READS.get(record["event"])
        if read is not None:
            read(self, record, ts, text_of(record.get("step")))
        step_id = text_of(record.get("step"))
        if step_id and record["event"] in (Record.STEP_START, Record.STEP_END):
            self.last_step = step_id

    def _seen_until(self, last: str | None) -> None:
        """The attempts still going as their run's records end at `last`."""
        for attempt in self.going.values():
            attempt.seen_until = last

    def _resumed(self, ended: str, ts: str) -> None:
        """A run of this journal begins after another: a break in the
        downtime if the stream manager was down as that one ended."""
        report, downtime = self.report, self.report.downtime
        if downtime.began is None or downtime.complete:
            return
        how = report.outcome or "cut off"
        going = next(iter(self.going), None)
        step = going or self.last_step
        downtime.breaks.append(Break(ended, how, step, going is not None, ts))

    def _run_start(self, record: dict[str, Any], ts: str, _step_id: str) -> None:
        report = self.report
        self._settle_loss("did not reconnect before that run ended")
        # An attempt still going when the run was cut off ended there, in doubt.
        for going_id, cut in self.going.items():
            cut.lines = self.said.pop(going_id, [])
        self.going.clear()
        self.open_this_run.clear()
        report.runs += 1
        report.journal_lost = ""
        report.started = report.started or ts
        report.config = text_of(record.get("config")) or report.config
        if report.config and report.config not in report.configs:
            report.configs.append(report.config)
        report.host = text_of(record.get("host")) or report.host
        report.rehearsal = bool(record.get("rehearsal"))
        report.operator = text_of(record.get("operator")) or report.operator
        for listed in record.get("steps") or []:
            self.step(text_of(listed))
        self.cutover.update(text_of(listed) for listed in record.get("cutover") or [])
        self.leaves.update(leaves_of(record))
        self.not_undone = merged_flags(self.not_undone, record, "not_undone")
        self.way_back_did.update(texts_of(record, "way_back_did"))
        report.outcome = report.exit_code = None
        report.ended = None

    def _reconnecting(self, record: dict[str, Any], ts: str, _step_id: str) -> None:
        if record.get("attempt") != 1 and self.lost is not None:
            self.lost = (self.lost[0], self.lost[1] + 1)
            return
        self._settle_loss("did not reconnect")
        # Each loss once, with why (operator trial: a drop mid-cutover left
        # no trace in the report, which read as a quiet night), and what the
        # run did then (trial 54: "reconnected or gave up as the steps say").
        self.report.remarks.append(
            f"{ts}: the SSH connection to {text_of(record.get('host'))} was lost "
            f"({text_of(record.get('reason'))})")
        self.lost = (len(self.report.remarks) - 1, 1)

    def _gave_up(self, record: dict[str, Any], _ts: str, _step_id: str) -> None:
        within = record.get("within_s")
        self._settle_loss("gave up reconnecting" + (
            f" after {within:g}s" if isinstance(within, int | float) else ""))

    def _settle_loss(self, how: str, at: str | None = None) -> None:
        """Say what the run did after the connection was lost: `how`, with
        the attempts it made (journalled, one reconnecting record each), and
        `at`, when it was back."""
        if self.lost is None:
            return
        index, attempts = self.lost
        self.lost = None
        tries = f"{attempts} attempt" + ("" if attempts == 1 else "s")
        when = f" at {clock(at, self.report.started)}" if at else ""
        said = f"reconnected{when} after {tries}" if how == "reconnected" else f"{how} ({tries})"
        self.report.remarks[index] += f"; the run {said}"

    def _connected(self, record: dict[str, Any], ts: str, _step_id: str) -> None:
        report = self.report
        report.fingerprint = report.fingerprint or text_of(record.get("fingerprint")) or None
        if self.lost is not None:
            # A command asked before the connection was back waited for it
            # (or ran on, detached, across the gap): its time alone is not
            # when it ran.
            for key in self.open_this_run:
                action = self.open.get(key)
                if action is not None and action.connection_back is None:
                    action.connection_back = ts
        self._settle_loss("reconnected", ts)

    def _journal_repaired(self, record: dict[str, Any], ts: str, _step_id: str) -> None:
        self.report.remarks.append(f"{ts}: the journal was repaired at line "
                                   f"{record.get('line')} ({record.get('dropped_bytes', 0)} "
                                   "bytes of a torn record dropped)")

    def _detached(self, record: dict[str, Any], ts: str, _step_id: str) -> None:
        report = self.report
        steps = ", ".join(text_of(s) for s in record.get("steps") or []) or "no step"
        # A step may be waiting on the Stream Manager API, not on a
        # command (operator trial: recreate "went on on the host").
        cause = signal_cause(record.get("exit_code"))
        who = cause or "the operator left"
        for left in map(text_of, record.get("steps") or []):
            if left in self.going:  # the operator's choice, or a signal: not a crash
                self.going[left].left = cause or "the operator left runbook"
        if not record.get("steps"):
            # At a question nothing ran (trial: "while no step ran on").
            report.remarks.append(f"{ts}: {who} while the run waited on the operator; "
                                  "no step was running")
        elif report.rehearsal:
            # The rehearsal host stops with runbook (trial: the terminal
            # said so, the report said it all went on).
            report.remarks.append(f"{ts}: {who} while {steps} ran; the rehearsal host "
                                  "stopped with runbook, and what ran there ended")
        else:
            report.remarks.append(f"{ts}: {who} while {steps} ran on; what it had "
                                  "started went on without runbook")

    def _aborted(self, record: dict[str, Any], ts: str, _step_id: str) -> None:
        for aborted in (text_of(s) for s in record.get("steps") or []):
            # This run's actions only: one an earlier run left open was
            # cut off by that run's end, not by this abort (review).
            going = [self.open[key] for key in self.open_this_run & self.open.keys()
                     if key[0] == aborted]
            # A command is told to stop (told, not known: the link may be
            # down); a request already sent stands, and a wait just ends
            # (trial: "was stopped" of DELETEs sent and a service started).
            stopped = [action for action in going if action.kind in _CUT_SHORT]
            for action in stopped:
                action.status = _CUT_SHORT[action.kind][0]
                action.error = "the operator aborted the step"
            what = "; ".join(dict.fromkeys(_CUT_SHORT[a.kind][1] for a in stopped)) or \
                "no command of it was running; runbook stopped waiting"
            if aborted in self.going:
                self.going[aborted].aborted = what
                self.going[aborted].stopped = bool(record.get("went_on"))
            if record.get("went_on"):  # stopped (x): the run went on to its question
                self.report.remarks.append(
                    f"{ts}: the operator stopped {aborted} while it ran: {what}; the run went "
                    "on to its question, and what it had done by then stands")
            else:
                self.report.remarks.append(f"{ts}: the operator aborted {aborted}: {what}, "
                                           "and what it had done by then stands")

    def _confirm(self, record: dict[str, Any], _ts: str, step_id: str) -> None:
        if step_id:
            self.stopped_at = step_id if record.get("answer") == "stop" else None

    def _step_start(self, _record: dict[str, Any], ts: str, step_id: str) -> None:
        if not step_id:
            return
        step = self.step(step_id)
        attempt = Attempt(self.report.runs, started=ts, ran=True)
        step.tries.append(attempt)
        self.going[step_id] = attempt
        step.started = step.started or ts
        step.state, step.ended = "in-doubt", None

    def _step_ended(self, record: dict[str, Any], ts: str, step_id: str) -> None:
        if step_id:
            self._step_end(self.step(step_id), record, ts)

    def _action_start(self, record: dict[str, Any], ts: str, step_id: str) -> None:
        if not step_id:
            return
        action = Action(ts, text_of(record.get("kind")), text_of(record.get("text")))
        self.step(step_id).actions.append(action)
        key = (step_id, text_of(record.get("attempt")), int(record.get("n") or 0))
        self.open[key] = action
        self.open_this_run.add(key)

    def _action_end(self, record: dict[str, Any], ts: str, step_id: str) -> None:
        if not step_id:
            return
        key = (step_id, text_of(record.get("attempt")), int(record.get("n") or 0))
        ended = self.open.pop(key, None)
        if ended is not None:
            ended.status = text_of(record.get("status")) or None
            ended.ended = ts
            exit_status = record.get("exit")
            ended.exit = exit_status if isinstance(exit_status, int) else None
            ended.error = text_of(record.get("error"))

    def _output(self, record: dict[str, Any], ts: str, step_id: str) -> None:
        if step_id:
            lines = [(text_of(stream), text_of(line)) for stream, line in record.get("lines") or []]
            self._showed(step_id, lines)
            # A warning said as the step's info line (a skipped step's, before
            # the cutover) is the run's as the TUI marks it (TUI trial: the
            # report said "None" of a cutover gone ahead on three).
            self.report.warnings += [Note(step_id, ts, "warning", line)
                                     for stream, line in lines
                                     if stream == "info" and said_as_warning(record, line)]

    def _note(self, record: dict[str, Any], ts: str, step_id: str) -> None:
        report = self.report
        note = Note(step_id, ts, text_of(record.get("kind")), text_of(record.get("text")))
        if step_id:
            self.step(step_id).notes.append(note)
            # Among its output, where the screen and `runbook log` show it
            # (operator trial: a failed step's notes were missing there).
            self._showed(step_id, [("info", note.text)])
        if said_as_warning(record, note.text):
            report.warnings.append(note)
        if note.kind == AFTER_UPGRADE:
            report.after.append(note)
        if note.kind == AFTER_WAY_BACK:
            report.after_way_back.append(note)
        path, folder = text_of(record.get("path")), text_of(record.get("folder"))
        # Only a file right in the folder: the command made of it removes
        # nothing else (re-trial 56b, F3).
        if note.kind == UPLOADED and folder and PurePosixPath(path).parent == \
                PurePosixPath(folder) and ".." not in PurePosixPath(path).parts:
            report.uploaded.setdefault(path, folder)
        if note.kind == SERVICE_ANSWERED and record.get("side") == "old":
            # The old release on the way back: not what the upgrade went to.
            report.service_back = note.text
            report.api_back = text_of(record.get("api_version")) or report.api_back
        elif note.kind == SERVICE_ANSWERED:
            report.service = report.service or note.text
            report.version_to = report.version_to or text_of(record.get("install_version"))
            report.api_to = report.api_to or text_of(record.get("api_version"))
        if note.kind == NODEGROUP_RECREATED:
            self._recreated(record)

    def _facts(self, record: dict[str, Any], _ts: str, _step_id: str) -> None:
        if isinstance(record.get("facts"), dict):
            self.report.facts.update(record["facts"])
        # Said anew once a step learnt what they name.
        self.leaves.update(leaves_of(record))
        self.not_undone = merged_flags(self.not_undone, record, "not_undone")

    def _cutover_start(self, record: dict[str, Any], ts: str, _step_id: str) -> None:
        downtime = self.report.downtime
        downtime.began = downtime.began or cutover_began(record, ts)

    def _cutover_end(self, record: dict[str, Any], ts: str, _step_id: str) -> None:
        downtime = self.report.downtime
        # A resumed cutover ends again; the complete one is the downtime.
        if not downtime.complete:
            downtime.ended = ts
            downtime.seconds = _number(record.get("downtime_s"))
            downtime.complete = bool(record.get("complete", True))

    def _way_back(self, record: dict[str, Any], _ts: str, _step_id: str) -> None:
        report = self.report
        report.way_back_began = True
        # Each of its steps, those a stop left to come too (operator trial 53).
        for listed in record.get("steps") or []:
            self.step(text_of(listed))
            if text_of(listed) not in report.way_back_steps:
                report.way_back_steps.append(text_of(listed))
        why = record.get("why")
        # The first says who chose it; a resumed run only goes on back (trial).
        if isinstance(why, str) and report.way_back_why is None:
            report.way_back_why = why

    def _run_end(self, record: dict[str, Any], ts: str, _step_id: str) -> None:
        report = self.report
        self._settle_loss("did not reconnect")
        report.ended = ts
        report.outcome = text_of(record.get("outcome")) or None
        code = record.get("exit_code")
        report.exit_code = code if isinstance(code, int) else None
        lost = record.get("journal_lost")
        report.journal_lost = lost if isinstance(lost, str) else ""
        before = record.get("before")
        if report.journal_lost:
            self._stopped_with_its_journal(before if isinstance(before, dict) else {}, ts)

    def _stopped_with_its_journal(self, before: dict[str, Any], ts: str) -> None:
        """The steps running as the run's journal went under it, ended as the
        replay ends them (stopped_with_its_journal), not left cut off."""
        for step_id, attempt in self.going.items():
            state, detail = stopped_with_its_journal(step_id, before, self.report.journal_lost)
            step = self.step(step_id)
            attempt.ended, attempt.detail = ts, detail
            attempt.lines = self.said.pop(step_id, [])
            step.ended = ts
            if state is None:  # it did nothing: the step is as the try before left it
                attempt.state = "stopped"
                earlier = step.tries[-2] if len(step.tries) > 1 else None
                # Not begun before this try: not reached, as the replay's
                # pending (review 61b, F6: "stopped" here, pending there).
                step.state = earlier.state if earlier is not None else "not reached"
                step.detail = (earlier.detail if earlier is not None else "") or detail
            else:
                attempt.state = step.state = state.value
                step.detail = detail
        self.going.clear()

    def _step_end(self, step: StepRun, record: dict[str, Any], ts: str) -> None:
        state = text_of(record.get("state"))
        if record.get("already") and step.state == "done" and step.ended:
            return  # a resumed run trusting what this journal already says
        attempt = self.going.pop(step.id, None)
        if attempt is None:  # ended at its check: found done, or could not look
            attempt = Attempt(self.report.runs, found=bool(record.get("already")))
            step.tries.append(attempt)
        attempt.ended, attempt.state = ts, state
        attempt.detail = text_of(record.get("detail"))
        attempt.elapsed_s = _number(record.get("elapsed_s"))
        attempt.lines = self.said.pop(step.id, [])
        step.state = state
        step.ended = ts
        step.elapsed_s = _number(record.get("elapsed_s"))
        step.detail = text_of(record.get("detail"))
        step.skip_reason = text_of(record.get("reason")) if state == "skipped" else ""
        if self.stopped_at == step.id:
            self.stopped_at = None

    def _recreated(self, record: dict[str, Any]) -> None:
        after = Nodegroup(text_of(record.get("new")), _regions(record.get("regions")),
                          text_of(record.get("launch_config")), text_of(record.get("scale_policy")),
                          _count(record.get("origins")))
        self.recreated[text_of(record.get("old"))] = after

    def finish(self) -> Report:
        report = self.report
        self._settle_loss("had not reconnected when the journal ends")
        self._seen_until(report.downtime.last_seen)
        # Said after a step's last end (or while it was cut off): its last attempt's.
        for step_id, lines in self.said.items():
            step = self.steps.get(step_id)
            if step is not None and step.tries:
                step.tries[-1].lines.extend(lines)
        if self.stopped_at is not None and self.stopped_at in self.steps:
            stopped = self.steps[self.stopped_at]
            if stopped.state == "not reached":
                stopped.state = "stopped"
                stopped.detail = "the operator stopped the run here"
        report.steps = list(self.steps.values())
        report.warnings = said_once(report.warnings)
        report.after = said_once(report.after)
        report.after_way_back = said_once(report.after_way_back)
        if report.rolled_back:
            # What the cutover did, the way back undid: as done, its detail
            # (red5pro is the new release) read as the host's state (trial).
            untouched = not_undone_of(self.not_undone, self.leaves)
            # What the way back found nothing of to put back (its facts:
            # rollback-unit, where service-unit had not replaced the unit):
            # not said undone (operator re-trial 57b, F-G).
            nothing = nothing_to_undo_of(report.facts)
            for step in report.steps:
                # Not one whose work the way back leaves (recreate's, in the new
                # database): "Before another attempt" says so (operator trial).
                after = after_the_way_back(step.id, step.state, undoes=step.id not in self.leaves,
                                           not_undone=untouched, nothing_to_undo=nothing) \
                    if step.id in self.cutover else None
                went = after not in (None, AfterTheWayBack.NOTHING_TO_UNDO)
                step.after_the_way_back = after
                step.way_back_did = self.way_back_did.get(step.id, step.way_back_did)
                if went and step.state == "in-doubt" and step.detail:
                    # Its advice (try again) was for a host the way back has
                    # since put back (re-trial: read beside "undone").
                    step.detail = f"before the way back: {step.detail}"
        facts = report.facts
        report.version_from = text_of(facts.get("live_version")) or None
        report.version_to = text_of(facts.get("new_version")) or report.version_to or None
        report.api_from = text_of(facts.get("api_version")) or None
        report.api_to = text_of(facts.get("new_api_version")) or report.api_to or None
        report.operator = report.operator or _owner(report.path)
        return report


# How the reader takes each kind of record; the others say nothing to a report.
_READS: dict[str, Callable[[_Reader, dict[str, Any], str, str], None]] = {
    Record.RUN_START: _Reader._run_start,
    Record.RECONNECTING: _Reader._reconnecting,
    Record.RECONNECT_GAVE_UP: _Reader._gave_up,
    Record.CONNECTED: _Reader._connected,
    Record.JOURNAL_REPAIRED: _Reader._journal_repaired,
    Record.DETACHED: _Reader._detached,
    Record.ABORTED: _Reader._aborted,
    Record.CONFIRM: _Reader._confirm,
    Record.STEP_START: _Reader._step_start,
    Record.STEP_END: _Reader._step_ended,
    Record.ACTION_START: _Reader._action_start,
    Record.ACTION_END: _Reader._action_end,
    Record.OUTPUT: _Reader._output,
    Record.NOTE: _Reader._note,
    Record.FACTS: _Reader._facts,
    Record.CUTOVER_START: _Reader._cutover_start,
    Record.CUTOVER_END: _Reader._cutover_end,
    Record.WAY_BACK: _Reader._way_back,
    Record.RUN_END: _Reader._run_end,
}


def _regions(value: Any) -> tuple[str, ...]:
    return tuple(text_of(r) for r in value) if isinstance(value, list) else ()


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def build(path: Path, *, estimate_from: Sequence[Path] | None = None) -> Report:
    """The report of the run in the journal at `path`.

    The downtime estimate is the newest finished cutover among the journals in
    `estimate_from` (default: the rehearsals in the user's state dir and the
    journals beside this one) of a run at this run's pace."""
    records, torn = journal_records(path)
    if not any(r["event"] == Record.RUN_START for r in records):
        raise ReportError(f"{path}: records no run (no {Record.RUN_START} record)")
    reader = _Reader(path)
    for number, record in enumerate(records, start=1):
        try:
            reader.take(record)
        except (TypeError, ValueError, AttributeError) as exc:
            raise ReportError(f"{path}:{number}: a {record.get('event')} record that does not "
                              f"read ({exc}); the journal is damaged") from None
    report = reader.finish()
    history = _replayed(path, report)  # once, for the two that read it
    _completed_unrecorded(report, history)
    if torn is not None:
        report.warnings.append(Note("", text_of(records[-1].get("ts")), "journal", torn))
    starts = [r for r in records if r["event"] == Record.RUN_START]
    report.pace = run_pace_of(starts, (r for r in records if r["event"] == Record.NOTE))
    report.unattended = journal_unattended(starts)
    report.scenario = journal_scenario(starts)
    # Each run's own (a resume may stage others), once each, in order.
    report.faults, report.faults_never_up = faults_staged(records)
    report.faults_recovered = faults_recovered(records)
    report.fleet = _fleet(report, reader.recreated)
    report.standing, report.going_on = _where_it_stands(
        path, report, history, as_of=text_of(records[-1].get("ts")) or None, cutover=reader.cutover)
    left = left_behind(reader.leaves,
                       lambda step_id: bool((step := report.step(step_id)) and step.actions))
    report.before_another_attempt = before_another_attempt(report.outcome, left.values())
    report.left_by_way_back = [said.sentence for said in left.values()]
    _estimate(report, estimate_from)
    return report


def _replayed(path: Path, report: Report) -> Replay | None:
    """The journal's replay, where the report reads it: a run unfinished
    (_where_it_stands), or a downtime with no complete end on record
    (_completed_unrecorded). None otherwise, or where the journal cannot be
    read again (what is wrong with it is said elsewhere in the report)."""
    finished = report.outcome in (Outcome.DONE.value, Outcome.ROLLED_BACK.value)
    if finished and (report.downtime.complete or report.downtime.began is None):
        return None
    try:
        return replay(path)
    except (OSError, JournalError):
        return None


def _completed_unrecorded(report: Report, history: Replay | None) -> None:
    """A cutover completed by its last step's end, the run cut off before
    its cutover-end record (journal_replay.cutover_completed_by): complete
    here as everywhere (review 58a, H1)."""
    downtime = report.downtime
    if history is None or downtime.complete or downtime.began is None:
        return
    completed = history.completed_unrecorded
    if completed is not None:
        downtime.complete, downtime.ended = True, completed
        downtime.seconds = history.downtime_s
        # A run cut off after that end broke no downtime: it had ended
        # (review 59a F3: the report called the gap downtime beside it).
        downtime.breaks = [gap for gap in downtime.breaks
                           if (seconds_between(gap.ended, completed) or 0) > 0]


def _where_it_stands(path: Path, report: Report, history: Replay | None, *, as_of: str | None,
                     cutover: Collection[str]) -> tuple[str, list[tuple[str, str]]]:
    """What the exit lines said of an unfinished run: what serves, and the
    commands that go on and go back (operator trial: the report, which a
    hand-over relies on, said only "stopped"). None for a finished run, whose
    releases say it, nor the commands for a throwaway rehearsal, whose
    sandbox is gone; a lasting one's journal is in its sandbox (trial: after
    kill -9 the report was the only hand-over, and named no command)."""
    from runbook.standing import (
        going_on,
        rehearse_command,
        rehearsed_way_back,
        resume_command,
        rollback_command,
        service_state,
    )

    if report.outcome in (Outcome.DONE.value, Outcome.ROLLED_BACK.value) or history is None:
        return "", []
    resume = rollback = None
    note = ""
    sandbox = _sandbox_of(path) if report.rehearsal else None
    if sandbox is not None:
        resume = rehearse_command(sandbox, path, headless=history.headless)
        ordered = [step for step in history.step_ids if step in cutover]
        back = rehearsed_way_back(history, resume, ordered, history.way_back)
        rollback, note = (back.command, back.note) if back is not None else (None, "")
    both = ""
    if report.config and not report.rehearsal:
        # Runs record their config's absolute path; an older journal's may be
        # relative to the folder its run was started in, which it does not
        # say: given as it was, never resolved here (operator trial 54: the
        # report named a config in the folder it was made in).
        relative = not Path(report.config).is_absolute()
        resume = resume_command(report.config, path, headless=history.headless,
                                as_given=relative)
        rollback = rollback_command(report.config, path, headless=history.headless,
                                    as_given=relative)
        if relative:
            both = (f"the config {report.config} is relative to the folder that run was "
                    "started in, which is not on record; run it from there, or give "
                    "the config's full path")
    lines = going_on(history, resume=resume, rollback=rollback, rollback_note=note, both=both)
    # "to go on: COMMAND", as the exit lines say it: a row's name and its command.
    return service_state(history, as_of=as_of), [
        (what.capitalize(), command)
        for what, command in (line.split(": ", 1) for line in lines)]


def _sandbox_of(journal: Path) -> Path | None:
    """The lasting sandbox a rehearsal's journal is kept in
    (SANDBOX/.operator/runs/), while it is there; None for a throwaway one's."""
    from runbook.rehearsal import OPERATOR_DIRNAME, STATE_DIRNAME

    runs = journal.parent
    sandbox = runs.parent.parent
    if runs.name == "runs" and runs.parent.name == OPERATOR_DIRNAME and \
            (sandbox / STATE_DIRNAME).is_dir():
        return sandbox
    return None


# --- the fleet, from the snapshot --------------------------------------------------------


def _snapshot(report: Report) -> Snapshot:
    """The snapshot this run took (the facts name it), or the host state's."""
    named = text_of(report.facts.get("snapshot"))
    if named and Path(named).is_file():
        return _read_snapshot(Path(named))
    address, _, port = report.host.rpartition("@")[2].rpartition(":")
    if not address or not port.isdigit():
        raise HostStateError(f"{named or 'no snapshot'}: not found, and the host "
                             f"{report.host!r} names no state folder")
    journal = report.path.resolve()
    # A throwaway rehearsal's snapshot outlives its sandbox in the rehearsals'
    # folder, whichever folder its journal was written to.
    roots = [journal.parent, journal.parent.parent, default_dir(), rehearsals_dir()]
    for root in dict.fromkeys(roots):
        snapshots = HostState(root, address, int(port)).snapshots()
        mine = [s for s in snapshots if Path(text_of(s.data.get("journal"))).name == journal.name]
        if mine:
            return mine[-1]
    if not named:
        # Not one lost: export-config takes it, and this run never did (trial).
        # (Not "took none": one written as the run was killed, before its
        # record, may be in another machine's host state: second review.)
        raise HostStateError("no snapshot of the nodegroups is on record for this run, here "
                             "or in the host state (export-config takes it before the cutover)")
    raise HostStateError(f"{named}: not found here or in the host state")


def _read_snapshot(path: Path) -> Snapshot:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise HostStateError(f"{path}: cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise HostStateError(f"{path}: is not a snapshot")
    return Snapshot(path, text_of(data.get("taken")), data.get("api_version"), data)


def _group_before(group: Any) -> Nodegroup | None:
    if not isinstance(group, dict):
        return None
    nodes = [n for n in group.get("nodes") or [] if isinstance(n, dict)]
    return Nodegroup(text_of(group.get("name")), _regions(group.get("regions")),
                     text_of(group.get("launchConfig")), text_of(group.get("scalePolicy")),
                     len(standing_origins(nodes)), len(nodes))


def _fleet(report: Report, recreated: dict[str, Nodegroup]) -> Fleet:
    fleet = Fleet()
    before: list[Nodegroup] = []
    try:
        snapshot = _snapshot(report)
    except HostStateError as exc:
        fleet.problem = str(exc)
    else:
        fleet.snapshot, fleet.taken = str(snapshot.path), snapshot.taken
        fleet.api_version = text_of(snapshot.api_version) or None
        for kind, names in (("launchconfigs", fleet.launch_configs),
                            ("scalepolicies", fleet.scale_policies)):
            found = snapshot.data.get(kind)
            if isinstance(found, dict):
                names.extend(sorted(text_of(name) for name in found))
        groups = snapshot.data.get("nodegroups")
        listed = groups if isinstance(groups, list) else []
        before = [g for g in map(_group_before, listed) if g is not None]
    left = dict(recreated)
    fleet.rows = [(group, left.pop(group.name, None)) for group in before]
    fleet.rows += [(None, group) for group in left.values()]
    return fleet


def downtime_estimate(journal: Path, folders: Iterable[Path] | None = None, *,
                      pace: float | None, unattended: bool | None = False,
                      scenario: str | None = None) -> tuple[float, Path] | None:
    """The downtime of the newest finished cutover in `folders` (default: the
    rehearsals in the user's state dir and the journals beside `journal`) of a
    run at `pace`, the pace of the run in `journal` (journal.run_pace), and
    the journal that says it: the estimate for that run. A fast rehearsal's
    time says nothing of a real cutover's, nor the other way round."""
    if folders is None:
        folders = [rehearsals_dir(), journal.parent]
    best: tuple[float, Path] | None = None
    journal = journal.resolve()
    # Only runs over before this one began: a report made later says what it
    # would have said then, whatever was rehearsed since.
    began = _began(journal)
    for folder in dict.fromkeys(f.resolve() for f in folders):
        found = last_downtime(folder, besides=journal, pace=pace, unattended=unattended,
                              scenario=scenario, before=began)
        if found is not None and (best is None or _mtime(found[1]) > _mtime(best[1])):
            best = found
    return best


def _estimate(report: Report, folders: Iterable[Path] | None) -> None:
    best = downtime_estimate(report.path, folders, pace=report.pace,
                             unattended=report.unattended, scenario=report.scenario)
    if best is None:
        return
    report.downtime.estimate_s, report.downtime.estimate_from = best
    first = first_record(best[1])
    if first is not None:
        report.downtime.estimate_is_rehearsal = bool(first.get("rehearsal", True))


def _began(journal: Path) -> float | None:
    """When the run in `journal` started; None for a run not begun yet."""
    first = first_record(journal)
    if first is None:
        return None
    with contextlib.suppress(KeyError, ValueError):
        return datetime.fromisoformat(str(first["ts"])).timestamp()
    return None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


# --- writing ---------------------------------------------------------------------------


def emit(chunks: Iterable[str], stream: TextIO | None = None) -> int:
    """Write to stdout; a reader that went away (`| head`) ends it quietly."""
    out = stream or sys.stdout
    try:
        for chunk in chunks:
            write_whole(out, chunk)
        out.flush()
    except BrokenPipeError:
        # Python flushes stdout again on exit and would complain there: point
        # it at /dev/null first.
        with contextlib.suppress(OSError, ValueError):
            silence(out.fileno())
        return EXIT_CLOSED_PIPE
    return 0


def write_private(path: Path, text: str) -> None:
    """The report as a file only the operator can read until they share it,
    whole or not at all: a full disk leaves the last report as it was (safety
    review: written in place, it left part of the new one). A terminal or a
    pipe named as the file is written to as it is."""
    data = text.encode("utf-8")
    try:
        if path.exists() and not os.path.isfile(os.path.realpath(path)):
            with path.open("wb") as stream:
                stream.write(data)
        else:
            atomic_write(path, data, private=True)
    except OSError as exc:
        raise ReportError(f"{path}: cannot write the report ({exc.strerror or exc})") from None
