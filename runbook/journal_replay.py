"""What a journal says of a run, step by step: its :class:`Replay`.

Resume, the exit lines, the report and the front ends read a run through it:
which steps are done, which action was in flight when the journal stopped,
what the run had learnt, and the pace and answering its times were made at.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from runbook.journal import (
    JournalError,
    Record,
    cutover_began,
    flags_of,
    read,
    text_of,
)
from runbook.model import CLAIM_LEFT, REAL_PACE, WAY_BACK_COULD_NOT, Leaves, StepState, how_it_ended
from runbook.rehearsal import ON_A_REHEARSAL_HOST


@dataclass
class StepHistory:
    """What the journal says of one step: where it got to, and what is in doubt."""
    state: StepState = StepState.PENDING
    detail: str = ""
    skip_reason: str = ""
    # Actions started without a recorded end: their outcome is unknown.
    in_flight: list[str] = field(default_factory=list)
    # Their jobs on the host (runbook.jobs), to look for before a retry.
    in_flight_jobs: list[str] = field(default_factory=list)
    # Its last attempt was aborted by the operator (its commands stopped), not
    # cut off by a crash or a lost connection.
    aborted: bool = False
    # Some attempt of it started a change on the host (its reads are not
    # journalled): what it leaves is only there once it has.
    acted: bool = False
    # How long the attempt that got it to its state ran; one that only found
    # it so ran nothing, and leaves the time as it was.
    elapsed_s: float | None = None


def way_back_finished(outcome: str | None, way_back_began: bool, cutover_ended: bool,
                      listed: Sequence[str | None]) -> bool:
    """The way back finished: the run ended rolled back, or, its run-end cut
    off as it was written (operator trial 54), the records show it: the
    cutover's end written complete once the way back began, and every step it
    listed (their states, `listed`) done or skipped. The one rule for resuming
    (Replay) and the report (report.Report), each from its own reading."""
    if outcome == "rolled-back":
        return True
    return (outcome is None and way_back_began and cutover_ended and bool(listed)
            and all(state in (StepState.DONE, StepState.SKIPPED) for state in listed))


@dataclass
class Replay:
    """What a journal says about a run, step by step."""

    path: Path | None = None
    config: str | None = None
    host: str | None = None
    # Whether the run was a rehearsal; None when no run-start says.
    rehearsal: bool | None = None
    # Whether the journal held any record at all.
    empty: bool = True
    steps: dict[str, StepHistory] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    # What its last run said of the host's claim its end could not let go
    # (claim.stays); "" where it let it go, or kept it for a cutover under way.
    claim_left: str = ""
    # What the steps had learnt (versions, snapshot path...), as last recorded.
    facts: dict[str, Any] = field(default_factory=dict)
    cutover_started: str | None = None
    downtime_s: float | None = None
    # Where no cutover-end record says it, the time the last cutover step
    # ended done, which completed the cutover (cutover_completed_by).
    completed_unrecorded: str | None = None
    # The pace the run went at (journal_pace): None when unknown.
    pace: float | None = None
    # Whether --yes answered every step (journal_unattended): None when a
    # resume changed it.
    unattended: bool | None = False
    # Whether its last run was --headless: the commands that go on from it
    # are named so, as its exit lines name them.
    headless: bool = False
    # A rehearsal's upgrade path (journal_scenario), and whether any of its
    # runs rehearsed a fault: either makes its cutover no estimate for another.
    scenario: str | None = None
    faulted: bool = False
    # Its --fault faults whose step never ran (faults_staged): a resume
    # stages them again.
    faults_never_up: list[str] = field(default_factory=list)
    # The steps of the run, in order, as its latest start that listed any did.
    step_ids: list[str] = field(default_factory=list)
    finished: bool = False
    outcome: str | None = None
    # The exit code its last run ended with (128 + a signal's number when one ended it).
    exit_code: int | None = None
    # How its last run's journal went under it ("removed", "replaced by
    # another file", ...), where that stopped the run (journal._stopped_here);
    # "" otherwise.
    journal_lost: str = ""
    # The steps of the way back that began, in order: empty until it is taken.
    way_back: list[str] = field(default_factory=list)
    way_back_taken: bool = False
    # The way back's steps as its record listed them when it began.
    way_back_listed: list[str] = field(default_factory=list)
    # The step a drill turns back after (--rollback-after), as its last run
    # said: a resume goes on with it.
    rollback_after: str | None = None
    # What each step leaves that the way back does not undo (Step.leaves).
    leaves: dict[str, Leaves] = field(default_factory=dict)
    # Of each step that leaves something after the way back, whether the way
    # back could not touch its work at all, as last recorded
    # (Step.untouched_by_the_way_back); None in a journal written before
    # runbook recorded it (not_undone_of).
    not_undone: dict[str, bool] | None = None

    def state(self, step_id: str) -> StepState:
        return self.steps.get(step_id, StepHistory()).state

    def way_back_chosen(self, way_back: Iterable[str]) -> bool:
        """The operator chose the way back: its record, written as they chose
        it, before the first of its steps (`way_back`, their ids) looked at
        the host; in journals older than that record, a record of one of
        them. The one rule for the executor, the exit lines and the resume
        dialog (review: they had drifted apart)."""
        return self.way_back_taken or any(step in self.steps for step in way_back)

    def way_back_ended(self) -> bool:
        """The way back finished: the run ended rolled back, or, its run-end
        cut off as it was written (operator trial 54: reported as "the new
        stream manager serves"), the records show it: the cutover's end
        written complete once the way back began, and every step it listed
        done or skipped."""
        listed = self.way_back_listed or self.way_back
        return way_back_finished(self.outcome, self.way_back_taken, self.downtime_s is not None,
                                 [self.state(step) for step in listed])

    @property
    def ended_as(self) -> str | None:
        """How the run ended, "done" or "rolled-back", where it ended either
        way; a way back whose run-end was cut off as it was written counts as
        rolled back (way_back_ended). None for a run that did not finish. The
        one rule for what can be resumed and what the report says (review
        54b: the resume offered a way back the report called finished)."""
        if self.outcome in ("done", "rolled-back"):
            return self.outcome
        return "rolled-back" if self.way_back_ended() else None

    def how_it_ended(self) -> str:
        """How its last run ended, as a clause ("it was stopped: ..."): why,
        where its journal going under it stopped it (operator trial 60, F10:
        "a step failed", or "cut off", of a run that had stopped itself)."""
        if self.journal_lost:
            return f"it stopped: {lost_words(self.journal_lost)}"
        if self.outcome:
            return how_it_ended(self.outcome, self.exit_code)
        return "it was cut off without an end"

    def not_undone_by_the_way_back(self) -> list[str]:
        """The steps whose work the way back could not touch (not_undone_of)."""
        return not_undone_of(self.not_undone, self.leaves)

    def nothing_to_undo_by_the_way_back(self) -> list[str]:
        """The steps whose work the way back found none of (nothing_to_undo_of)."""
        return nothing_to_undo_of(self.facts)

    def left_by_the_way_back(self) -> dict[str, Leaves]:
        """What the steps that changed something leave that the way back does
        not undo (left_behind)."""
        return left_behind(self.leaves, lambda step: step in self.steps
                           and self.steps[step].acted)


def not_undone_of(recorded: Mapping[str, bool] | None,
                  leaves: Mapping[str, Leaves]) -> list[str]:
    """The steps whose work the way back could not touch at all, as the
    journal recorded them (`recorded`, every record's merged); a step with
    nothing recorded (its run was written before they were) by whether its
    `leaves` say so in the words runbook wrote then (model.WAY_BACK_COULD_NOT).
    Step by step, not journal by journal: `runbook rollback` going on with an
    older journal records none of the upgrade's steps (review 56c, F2). One
    rule for the replay and the report."""
    known = recorded or {}
    steps = [*leaves, *(step for step in known if step not in leaves)]
    return [step for step in steps
            if (known[step] if step in known else WAY_BACK_COULD_NOT in leaves[step].sentence)]


def nothing_to_undo_of(facts: Mapping[str, Any]) -> list[str]:
    """The cutover steps the way back found none of the work of to put back,
    as its steps record them in the facts (rollback-unit: service-unit had not
    replaced the unit; operator re-trial 57b, F-G). One rule for the replay
    (the run's end, so the front ends) and the report."""
    named = facts.get("nothing_to_undo")
    return [step for step in named if isinstance(step, str)] if isinstance(named, list) else []


def merged_flags(recorded: dict[str, bool] | None, record: dict[str, Any],
                 name: str) -> dict[str, bool] | None:
    """`recorded` with `record`'s `name` (flags_of) laid over it: None while
    no record has said any."""
    said = flags_of(record, name)
    if said is None:
        return recorded
    return {**(recorded or {}), **said}


def leaves_of(record: dict[str, Any]) -> dict[str, Leaves]:
    """A record's `leaves`, by step: what stays and what to do, as the
    executor journals them (Leaves.as_record). A journal written before they
    were kept apart holds one sentence a step, "what stays: what to do",
    read here alone, split at its first ": " (runbook's words of what stays
    held none then). Empty where the record has none."""
    found = record.get("leaves")
    if not isinstance(found, dict):
        return {}
    said: dict[str, Leaves] = {}
    for step, value in found.items():
        if isinstance(value, dict):
            said[text_of(step)] = Leaves(text_of(value.get("stays")), text_of(value.get("to_do")),
                                         text_of(value.get("command")))
        else:
            stays, _, to_do = text_of(value).partition(": ")
            said[text_of(step)] = Leaves(stays, to_do)
    return said


def said_as_warning(record: dict[str, Any], line: str) -> bool:
    """Whether a note, or an info line (`line`) of an output record, is a
    warning: as the record says (ctx.warn, ctx.note(..., warning=True)). A
    journal written before runbook recorded it is read here alone, by the
    word its warnings began with then, "warning:" (review 57a, F3: the
    screen and the report each had a word rule of their own)."""
    said = record.get("warning")
    if isinstance(said, bool):
        return said
    return line[:8].lower() == "warning:"


def left_behind(leaves: Mapping[str, Leaves],
                acted: Callable[[str], bool]) -> dict[str, Leaves]:
    """What each step that `acted` (an action on record) leaves that the way
    back does not undo, from the run-start's `leaves`: one rule for the
    replay and the report. A step that changed nothing leaves nothing
    (operator trial: a recreate that failed on its first read was said to
    leave nodegroups in the new database)."""
    return {step: said for step, said in leaves.items() if acted(step)}


class _Replaying:
    """One pass over a journal's records, in order, into its Replay."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.result = Replay(path=path)
        # Keyed by attempt too: a resumed step numbers its actions from 1 again.
        self.open_actions: dict[tuple[str, str, int], tuple[str, str | None]] = {}
        self.starts: list[dict[str, Any]] = []
        self.staging: list[dict[str, Any]] = []  # what faults_staged reads
        # The run's cutover steps, as its latest start that listed any did,
        # and when each step last ended: a cutover whose last step ended
        # done, its own end cut off, is complete (cutover_completed_by).
        self.cutover_steps: list[str] = []
        self.step_ended: dict[str, str] = {}
        # Each step's state and detail before its latest attempt began, and
        # the record a run whose journal went stopped before (its `before`).
        self.before_attempt: dict[str, tuple[StepState, str]] = {}
        self.stopped_before: dict[str, Any] = {}

    def read(self, record: dict[str, Any]) -> None:
        self.result.empty = False
        event = record.get("event")
        if event in (Record.RUN_START, Record.CONFIRM):
            self.staging.append(record)
        step = record.get("step", "")
        history = self.result.steps.setdefault(step, StepHistory()) if step else None
        reads = _REPLAYS.get(str(event))
        if reads is not None:
            reads(self, record, step, history)

    def _a_run_begins(self, record: dict[str, Any], _step: str,
                      _history: StepHistory | None) -> None:
        result = self.result
        self.starts.append(record)
        # A resumed run appends to the same journal: it reopens the story,
        # and its own end says where the host's claim is.
        result.claim_left = ""
        result.config = record.get("config")
        result.host = record.get("host")
        rehearsal = record.get("rehearsal")
        result.rehearsal = rehearsal if isinstance(rehearsal, bool) else None
        # The way back alone (`runbook rollback`) lists no upgrade steps:
        # the upgrade's are still the run's (operator trial: its exit
        # line counted every step held, the way back's too).
        result.step_ids = [str(s) for s in record.get("steps") or []] or result.step_ids
        result.headless = record.get("headless") is True
        # A drill stays one for every run of its journal: `runbook rollback`'s
        # own start names none (review 59a F7: cut off there, it read upgraded).
        drill = record.get("rollback_after")
        if isinstance(drill, str) and drill:
            result.rollback_after = drill
        self.cutover_steps = [str(s) for s in record.get("cutover") or []] or self.cutover_steps
        result.leaves.update(leaves_of(record))
        result.not_undone = merged_flags(result.not_undone, record, "not_undone")
        result.finished = False
        result.outcome = None
        result.journal_lost = ""
        self.stopped_before = {}

    def _the_way_back_is_taken(self, record: dict[str, Any], _step: str,
                               _history: StepHistory | None) -> None:
        self.result.way_back_taken = True
        listed = [str(s) for s in record.get("steps") or []]
        self.result.way_back_listed = listed or self.result.way_back_listed

    def _an_attempt_begins(self, _record: dict[str, Any], step: str,
                           history: StepHistory | None) -> None:
        if history is None:
            return
        self.before_attempt[step] = (history.state, history.detail)
        history.state = StepState.RUNNING
        # A new attempt: the run that began it settled the earlier ones
        # first (review: their commands read as in flight on a step done since).
        history.in_flight_jobs.clear()
        for key in [key for key in self.open_actions if key[0] == step]:
            del self.open_actions[key]
        history.aborted = False

    def _steps_aborted(self, record: dict[str, Any], _step: str,
                       _history: StepHistory | None) -> None:
        for aborted in record.get("steps") or []:
            if isinstance(aborted, str) and aborted in self.result.steps:
                self.result.steps[aborted].aborted = True

    def _an_action_begins(self, record: dict[str, Any], step: str,
                          history: StepHistory | None) -> None:
        if history is not None:
            history.acted = True
        key = (step, record.get("attempt", ""), record.get("n", 0))
        self.open_actions[key] = (record.get("text", ""), record.get("job"))

    def _an_action_ends(self, record: dict[str, Any], step: str,
                        history: StepHistory | None) -> None:
        ended = self.open_actions.pop((step, record.get("attempt", ""), record.get("n", 0)),
                                      None)
        if ended is not None and ended[1] and record.get("status") == "unknown" \
                and history is not None:
            # Its end never came back: the command may still run on the host.
            history.in_flight_jobs.append(ended[1])

    def _a_step_ends(self, record: dict[str, Any], step: str,
                     history: StepHistory | None) -> None:
        if history is None:
            return
        try:
            state = StepState(str(record.get("state")))
        except ValueError:
            raise JournalError(f"{self.path}: unknown step state {record.get('state')!r}") \
                from None
        if state is not history.state:
            # The end that made the step what it is: an attempt's, or a check
            # finding it done (no attempt of its own: review 59a F1, F2). A
            # resumed run's "done earlier" changes nothing and is no new end
            # (review 58c: it moved the downtime's end to the resume).
            self.step_ended[step] = str(record.get("ts", ""))
        elapsed = record.get("elapsed_s")
        if isinstance(elapsed, int | float) and not isinstance(elapsed, bool):
            history.elapsed_s = float(elapsed)
        elif state is not history.state:
            # Found so without running: no time of its own, and the last
            # one was another attempt's (second review: a failure's time
            # beside a later "done").
            history.elapsed_s = None
        history.state = state
        history.detail = record.get("detail", "")
        history.skip_reason = record.get("reason", "")

    def _a_note(self, record: dict[str, Any], _step: str,
                _history: StepHistory | None) -> None:
        self.result.notes.append(record)
        if record.get("kind") == CLAIM_LEFT:
            self.result.claim_left = text_of(record.get("text"))

    def _what_was_learnt(self, record: dict[str, Any], _step: str,
                         _history: StepHistory | None) -> None:
        result = self.result
        result.facts.update(record.get("facts", {}))
        result.leaves.update(leaves_of(record))
        result.not_undone = merged_flags(result.not_undone, record, "not_undone")

    def _the_cutover_begins(self, record: dict[str, Any], _step: str,
                            _history: StepHistory | None) -> None:
        self.result.cutover_started = self.result.cutover_started or cutover_began(
            record, str(record.get("ts", "")))

    def _the_cutover_ends(self, record: dict[str, Any], _step: str,
                          _history: StepHistory | None) -> None:
        # The first complete end is the downtime, as the report reads it:
        # a run resumed after it wrote another, timed to its own end, in
        # journals from before that stopped (an hour, for seconds down).
        if record.get("complete", True) and self.result.downtime_s is None:
            self.result.downtime_s = record.get("downtime_s")

    def _the_run_ends(self, record: dict[str, Any], _step: str,
                      _history: StepHistory | None) -> None:
        result = self.result
        result.finished = True
        result.outcome = record.get("outcome")
        code = record.get("exit_code")
        result.exit_code = code if isinstance(code, int) else None
        lost, before = record.get("journal_lost"), record.get("before")
        result.journal_lost = lost if isinstance(lost, str) else ""
        self.stopped_before = before if isinstance(before, dict) else {}

    def _stopped_with_its_journal(self, step: str, history: StepHistory) -> None:
        """A step running as its journal went: see stopped_with_its_journal."""
        state, words = stopped_with_its_journal(step, self.stopped_before,
                                                self.result.journal_lost)
        if state is None:  # as before the attempt; its words where it had none
            history.state, earlier = self.before_attempt.get(step, (StepState.PENDING, ""))
            history.detail = earlier or words
        else:
            history.detail = words
            history.state = state

    def ended(self) -> Replay:
        """The Replay once every record is read: what was left in doubt, and
        what the run's starts say of it as a whole."""
        result = self.result
        if result.way_back_taken:
            result.way_back = [step for step in result.steps if step not in result.step_ids]
        for (step, _attempt, _n), (text, job) in self.open_actions.items():
            history = result.steps.setdefault(step, StepHistory())
            history.in_flight.append(text)
            if job:
                history.in_flight_jobs.append(job)
            if history.state in (StepState.RUNNING, StepState.PENDING):
                history.state = StepState.IN_DOUBT
        for step, history in result.steps.items():
            # A step that started and never ended was cut off mid-way.
            if history.state is StepState.RUNNING:
                history.state = StepState.IN_DOUBT
                if result.journal_lost and not history.in_flight:
                    self._stopped_with_its_journal(step, history)
        if result.downtime_s is None and result.cutover_started is not None:
            last = cutover_completed_by(self.cutover_steps, result.state,
                                        result.way_back_taken, result.rollback_after)
            if last is not None:
                ended = self.step_ended.get(last, "")
                result.downtime_s = seconds_between(result.cutover_started, ended)
                result.completed_unrecorded = ended if result.downtime_s is not None else None
        result.pace = run_pace_of(self.starts, result.notes)
        result.unattended = journal_unattended(self.starts)
        result.scenario = journal_scenario(self.starts)
        result.faulted = any(start.get("faults") for start in self.starts)
        _, result.faults_never_up = faults_staged(self.staging)
        return result


# How the replay takes each kind of record; the others say nothing of the run.
_REPLAYS: dict[str, Callable[[_Replaying, dict[str, Any], str, StepHistory | None], None]] = {
    Record.RUN_START: _Replaying._a_run_begins,
    Record.WAY_BACK: _Replaying._the_way_back_is_taken,
    Record.STEP_START: _Replaying._an_attempt_begins,
    Record.ABORTED: _Replaying._steps_aborted,
    Record.ACTION_START: _Replaying._an_action_begins,
    Record.ACTION_END: _Replaying._an_action_ends,
    Record.STEP_END: _Replaying._a_step_ends,
    Record.NOTE: _Replaying._a_note,
    Record.FACTS: _Replaying._what_was_learnt,
    Record.CUTOVER_START: _Replaying._the_cutover_begins,
    Record.CUTOVER_END: _Replaying._the_cutover_ends,
    Record.RUN_END: _Replaying._the_run_ends,
}


def stopped_with_its_journal(step: str, before: Mapping[str, Any],
                             how: str) -> tuple[StepState | None, str]:
    """A step running as its journal went under its run (journal._stopped_here,
    `how`): the run stopped it before the record refused (`before`), nothing
    of it in flight. Before its attempt's first action it did nothing, and is
    as it was before that attempt (None); before a later one it failed part
    way; before its own end, that end is not on record, and it stays in
    doubt. With the words of why, which the first case keeps where the
    earlier attempt left none (a step not begun: pending, "not reached" in
    the report). One rule for the replay and the report (operator trial 60,
    F10: "in doubt", of a step that had sent nothing; review 61b, F6)."""
    if before.get("step") != step or before.get("event") != Record.ACTION_START:
        return StepState.IN_DOUBT, f"its end is not on record: the run's journal was {how}"
    n = before.get("n")
    if n == 1:
        return None, ("stopped before its first action, having changed nothing: the run's "
                      f"journal was {how}")
    return StepState.FAILED, (f"stopped before its action {n} (those before it ended): the "
                              f"run's journal was {how}")


def lost_words(how: str) -> str:
    """Why a run whose journal went under it stopped (Replay.journal_lost),
    as every reader says it."""
    return f"its journal was {how} during the run, so it stopped rather than act unrecorded"


def cutover_completed_by(cutover: Sequence[str], state: Callable[[str], StepState],
                         way_back_taken: bool, rollback_after: str | None) -> str | None:
    """The last cutover step, where its end completed the cutover though no
    cutover-end record says so: done or skipped, no way back taken, and no
    drill turning back after it; as the executor's end of a run has it. A
    run cut off between that step's end and its own (kill -9, a journal that
    could not be written) was read as down, with the way back offered over
    a new stream manager that serves (review 58a, H1). None otherwise."""
    last = cutover[-1] if cutover else None
    if last is None or way_back_taken or rollback_after == last:
        return None
    return last if state(last).finished else None


def seconds_between(began: str, ended: str) -> float | None:
    """From one journal time to another, to the tenth of a second, as a
    cutover-end's downtime; None where either is not a time."""
    try:
        return round((datetime.fromisoformat(ended)
                      - datetime.fromisoformat(began)).total_seconds(), 1)
    except (TypeError, ValueError):
        return None


def replay(path: Path) -> Replay:
    """What the journal at `path` says of its run, record by record."""
    replaying = _Replaying(path)
    for record in read(path):
        replaying.read(record)
    return replaying.ended()


def faults_staged(records: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """A rehearsal's faults, as each run's --fault gave them, once each in order:
    (those that came up, those that never did). One timed to a step comes up
    when the operator says run to that step in a run that staged it; one not
    timed to a step, as its run starts (rehearsal.faults.FaultSwitch). Trial 56
    F1: the report called a fault whose step never ran "failed on purpose"."""
    staged: list[str] = []
    came_up: set[str] = set()
    current: list[str] = []
    for record in records:
        event = record.get("event")
        if event == Record.RUN_START:
            current = [str(fault) for fault in record.get("faults") or ()]
            staged += [fault for fault in current if fault not in staged]
            came_up.update(fault for fault in current if "@" not in fault)
        elif event == Record.CONFIRM and record.get("answer") == "run":
            came_up.update(fault for fault in current
                           if fault.partition("@")[2] == record.get("step"))
    return ([fault for fault in staged if fault in came_up],
            [fault for fault in staged if fault not in came_up])


def faults_recovered(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """The step-timed faults that came up and that their step got over: the
    connection was lost and regained while it ran, and it then ended done
    (trial 58, L7: the report said an ssh-drop the step recovered from
    "failed on purpose")."""
    current: list[str] = []
    watching: dict[str, bool] = {}  # a fault come up, its step not ended: reconnected?
    recovered: list[str] = []
    for record in records:
        event = record.get("event")
        if event == Record.RUN_START:
            current = [str(fault) for fault in record.get("faults") or ()]
            watching = {}
        elif event == Record.CONFIRM and record.get("answer") == "run":
            watching.update((fault, False) for fault in current
                            if fault.partition("@")[2] == record.get("step"))
        elif event == Record.RECONNECTING:
            watching = dict.fromkeys(watching, True)
        elif event == Record.STEP_END:
            for fault in [f for f in watching if f.partition("@")[2] == record.get("step")]:
                if watching.pop(fault) and record.get("state") == StepState.DONE.value \
                        and fault not in recovered:
                    recovered.append(fault)
    return recovered


def run_pace_of(starts: Sequence[dict[str, Any]],
                notes: Iterable[Mapping[str, Any]]) -> float | None:
    """The pace a journal's runs went at (journal_pace), None where a run
    found itself on a rehearsal host it was not started as a rehearsal of:
    its pace, whatever its start says, is not known (trial 59 F5)."""
    if any(note.get("kind") == ON_A_REHEARSAL_HOST for note in notes):
        return None
    return journal_pace(starts)


def run_pace(start: dict[str, Any]) -> float | None:
    """The pace a run-start record says its run went at: REAL_PACE for a run
    on a real host, a rehearsal's own as recorded. None when the record does
    not say: a rehearsal journalled before the pace was, whose fake cloud may
    have run at any pace."""
    rehearsal = start.get("rehearsal")
    if rehearsal is False:
        return REAL_PACE
    pace = start.get("pace")
    if rehearsal is not True or isinstance(pace, bool) or not isinstance(pace, int | float):
        return None
    try:
        value = float(pace)
    except OverflowError:  # an int of hundreds of digits: a damaged journal's
        return None
    return value if math.isfinite(value) and value >= 0 else None


def journal_pace(starts: Iterable[dict[str, Any]]) -> float | None:
    """The pace of the run in a journal, from its run-start records: None when
    one of them does not say, or a resume went at another pace than the start
    (its cutover may have run partly at each)."""
    paces = [run_pace(start) for start in starts]
    if not paces or not all(same_pace(paces[0], pace) for pace in paces):
        return None
    return paces[0]


def journal_unattended(starts: Iterable[dict[str, Any]]) -> bool | None:
    """Whether --yes answered every step of the run in a journal (its
    run-starts say `unattended`); None when a resume answered otherwise than
    the start: its times hold some of an operator's pauses, not all."""
    answered = {start.get("unattended") is True for start in starts}
    return answered.pop() if len(answered) == 1 else None if answered else False


def journal_scenario(starts: Iterable[dict[str, Any]]) -> str | None:
    """The upgrade path a rehearsal's run-starts name (a sandbox keeps its
    scenario across resumes); None for a production run or an older journal."""
    named = {str(start["scenario"]) for start in starts if start.get("scenario")}
    return named.pop() if len(named) == 1 else None


def same_pace(mine: float | None, theirs: float | None) -> bool:
    """Whether one run's times can stand for another's: both paces known, and
    equal (a production run and a real-pace rehearsal go at the same)."""
    return mine is not None and theirs is not None and math.isclose(mine, theirs)
