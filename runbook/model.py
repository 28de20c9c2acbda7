"""Plain data the engine, the steps and every front end share.

Nothing here does I/O. A step's plan is a list of these actions, rendered
exactly as they will run (shell lines, curl lines, file edits) with secrets
already masked, so an operator can read, copy and check them before saying yes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class Phase(StrEnum):
    PREPARE = "prepare"
    CUTOVER = "cutover"
    # Back to the old stream manager on the old database, from any point of
    # the cutover: like cutover, the service is down until it ends.
    ROLLBACK = "rollback"


class Outcome(StrEnum):
    """How a run ended. Here, with the other words a screen needs before
    the engine is loaded (issue 12: the first paint loads no executor)."""
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"
    # The upgrade did not happen; the old stream manager runs again, whole.
    ROLLED_BACK = "rolled-back"

    @property
    def exit_code(self) -> int:
        return {Outcome.DONE: 0, Outcome.FAILED: 1, Outcome.STOPPED: 3,
                Outcome.ROLLED_BACK: 4}[self]

    @property
    def words(self) -> str:
        """How the operator reads this outcome ("rolled back", not the token)."""
        return outcome_words(self.value)


# How a run's end reads wherever the operator reads it: the exit line, the
# headless summary, the TUI's status row, the report. The values above are the
# journal's tokens and stay as they are, so that old journals still read; an
# operator trial read `rolled-back` as a code, not as what had happened.
_OUTCOME_WORDS = {
    Outcome.DONE.value: "done",
    Outcome.FAILED.value: "failed",
    Outcome.STOPPED.value: "stopped",
    Outcome.ROLLED_BACK.value: "rolled back",
}


# What ended a run or left its steps running, by the exit code runbook ends
# with on that signal (128 + its number; runbook.stopping).
BY_SIGNAL = {129: "the terminal closed (SIGHUP)", 143: "runbook was stopped (SIGTERM)"}

_ENDED = {
    Outcome.DONE.value: "it finished",
    Outcome.FAILED.value: "a step failed",
    Outcome.STOPPED.value: "it was stopped",
    Outcome.ROLLED_BACK.value: "it was rolled back",
}


def signal_cause(exit_code: object) -> str | None:
    """What a signal's exit code says ended the run or left it; None for any
    other code (the operator's own choice, or no code on record)."""
    return BY_SIGNAL.get(exit_code) if isinstance(exit_code, int) else None


def how_it_ended(outcome: object, exit_code: object = None) -> str:
    """A run's end as a clause ("it was stopped: the terminal closed (SIGHUP)");
    an outcome this build does not know is shown as stored."""
    said = _ENDED.get(outcome if isinstance(outcome, str) else "",
                      f"it ended {outcome_words(outcome)}")
    cause = signal_cause(exit_code)
    return f"{said}: {cause}" if cause else said


def outcome_words(value: object) -> str:
    """A run's outcome as a journal stores it, in words. A value this build
    does not know (a newer runbook's journal, a damaged one's list) is shown
    as stored, not hidden."""
    text = value if isinstance(value, str) else str(value)
    return _OUTCOME_WORDS.get(text, text)


class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    # An action was started but its outcome never came back (connection lost,
    # timeout, crash). Nothing reruns until the step's check has looked again.
    IN_DOUBT = "in-doubt"
    NEEDS_REVIEW = "needs-review"

    @property
    def finished(self) -> bool:
        return self in (StepState.DONE, StepState.SKIPPED)

    @property
    def words(self) -> str:
        """The state as the operator reads it: `in-doubt` is the journal's token."""
        return self.value.replace("-", " ")


def state_words(value: str) -> str:
    """A step's state as a journal stores it, in words. A value this build
    does not know (a newer runbook's journal) is shown as stored."""
    return StepState(value).words if value in _STATE_TOKENS else value


_STATE_TOKENS = frozenset(state.value for state in StepState)


@dataclass(frozen=True)
class Shell:
    """A command run on the stream manager host, exactly as shown."""

    command: str
    why: str = ""

    def render(self) -> str:
        return f"$ {self.command}"


@dataclass(frozen=True)
class Upload:
    """A file copied from the operator's machine to the host over SFTP."""

    local: str
    remote: str
    why: str = ""

    def render(self) -> str:
        return f"sftp put {self.local} -> {self.remote}"


@dataclass(frozen=True)
class ApiCall:
    """A Stream Manager REST call; ``curl`` is a copyable line, token masked."""

    method: str
    path: str
    curl: str
    why: str = ""

    def render(self) -> str:
        return self.curl


@dataclass(frozen=True)
class EditFile:
    """A file changed in place on the host; ``detail`` is a diff or summary.
    It keeps its owner and mode, or takes those of ``private_as`` (a file
    whose secrets it now carries)."""

    path: str
    summary: str
    detail: str = ""
    private_as: str = ""

    def render(self) -> str:
        text = f"edit {self.path}: {self.summary}"
        if self.private_as:
            text += f"; owner and mode as {self.private_as}"
        return f"{text}\n{self.detail}" if self.detail else text


@dataclass(frozen=True)
class Wait:
    """A bounded wait for something the step cannot make happen faster."""

    what: str
    timeout_s: float

    def render(self) -> str:
        return f"wait up to {self.timeout_s:g}s: {self.what}"


@dataclass(frozen=True)
class Note:
    """Something the operator should know that is not itself an action."""

    text: str

    def render(self) -> str:
        return f"note: {self.text}"


Action = Shell | Upload | ApiCall | EditFile | Wait | Note


def when_and_why(action: Action) -> str:
    """What a command or API call is for, and when it runs if not always
    ("only if ..."): the words a plan shows above it."""
    return action.why if isinstance(action, (Shell, ApiCall)) else ""


@dataclass(frozen=True)
class Check:
    """The answer of a step's check or verify: is the outcome in place?"""

    done: bool
    detail: str = ""
    # Not in place yet, but coming: what the step started goes on by itself
    # (a service that boots), and running the step again waits for it
    # without doing anything twice.
    under_way: bool = False
    # Not in place, and the cutover cannot work without it: why, in the
    # step's words (properties finding the template as shipped, whose
    # placeholders the new release would start on). A step skipped so keeps
    # the cutover from beginning (trial 53: one warning line, then the typed
    # id began a cutover whose start-service could only fail).
    cutover_needs: str = ""


# What the way back does with a cutover step's work, unless its step says
# otherwise: in a word for its row, and after "then" in a summary and a report.
UNDONE_WORD = "undone"
UNDONE_DID = "undone by the way back"
# What a step's "before another attempt" says when the way back could not undo
# any of its work (steps.cutover Recreate: the nodegroups it made are left in
# the new database), and how the summary, the report and the checklist say it
# then: not even partly undone (operator trial 54).
WAY_BACK_COULD_NOT = "which could not delete the nodegroups"
NOT_UNDONE = "not undone by the way back, which could not delete its nodegroups (see the warning)"
# ... and where it found none of the step's work to put back.
NOTHING_TO_UNDO = "nothing of it for the way back to undo"


class Leaves(NamedTuple):
    """What a cutover step's work leaves after the way back (Step.leaves):
    what stays, and what to do about it before another attempt ("" where the
    step says none). Two fields, not one sentence a reader splits again: the
    screen shows what stays beside the step, and what to do in its hint
    (review 57a, F3: a step found by its id among the words, and what to do
    cut at its own colon)."""

    stays: str
    to_do: str = ""
    # The command to_do names, alone (recreate's drop of the new database):
    # the hint gives it where the whole to_do does not fit its lines
    # (trial 61, F3: it sent the operator to a report not written yet).
    command: str = ""

    @property
    def sentence(self) -> str:
        """As the exit lines and the report say it: what stays, then what to do."""
        return f"{self.stays}: {self.to_do}" if self.to_do else self.stays

    def as_record(self) -> dict[str, str]:
        """As the journal keeps it, under its step's id (journal_replay.leaves_of)."""
        return {"stays": self.stays, "to_do": self.to_do,
                **({"command": self.command} if self.command else {})}



class AfterTheWayBack(StrEnum):
    """What a way back that ended did with a cutover step's work."""

    UNDONE = "undone"
    # Some of it stays (recreate: its nodegroups deleted, its launch configs
    # and scale policies left in the new database).
    PART_UNDONE = "part-undone"
    # None of it could be touched (recreate's nodegroups not deleted).
    NOT_UNDONE = "not-undone"
    # None of it was there to put back (service-unit, where it did not replace
    # the unit: operator re-trial 57b, F-G).
    NOTHING_TO_UNDO = "nothing-to-undo"


def after_the_way_back(step_id: str, state: str | None, *, undoes: bool,
                       not_undone: Collection[str],
                       nothing_to_undo: Collection[str] = ()) -> AfterTheWayBack | None:
    """What the way back did with cutover step `step_id`'s work, in a run it
    ended: nothing, where it found none of it to put back (`nothing_to_undo`:
    RunEnded.nothing_to_undo, the journal's facts); undone where it `undoes`
    it (StepCard.the_way_back_undoes: no after_the_way_back), not undone where
    the engine says it could not touch it (`not_undone`: RunEnded.not_undone,
    the journal's), else partly. None unless the step was done or left in
    doubt (`state`): a failure stays said, as it is why the way back was
    taken. The one rule for headless's summary, the TUI's rows and the report
    (review 56b, F6)."""
    if state not in (StepState.DONE.value, StepState.IN_DOUBT.value):
        return None
    if step_id in nothing_to_undo:
        return AfterTheWayBack.NOTHING_TO_UNDO
    if undoes:
        return AfterTheWayBack.UNDONE
    return AfterTheWayBack.NOT_UNDONE if step_id in not_undone else AfterTheWayBack.PART_UNDONE


def after_the_way_back_said(after: AfterTheWayBack, did: str = UNDONE_DID) -> str:
    """`after` as a summary and a report say it after the step's state:
    ", then undone by the way back" (`did`, the step's own words for it)."""
    if after is AfterTheWayBack.UNDONE:
        return f", then {did}"
    if after is AfterTheWayBack.NOT_UNDONE:
        return f", {NOT_UNDONE}"
    if after is AfterTheWayBack.NOTHING_TO_UNDO:
        return f", {NOTHING_TO_UNDO}"
    return ", partly undone by the way back"


# A step's result when its check found the outcome in place: nothing ran.
ALREADY_DONE = "already done: "

# A note's kind for what an upgrade that finished leaves to do after it (what
# it left behind, what changed, what it could not carry): the report's "After
# the upgrade" lists them for the change ticket (operator trial 53).
AFTER_UPGRADE = "after-upgrade"
# A note's kind for what a way back that finished leaves on the host (the
# failed tree it set aside, a unit backup, the new database): the report's
# "Left on the host after the way back" lists them (operator trial 56, F2).
AFTER_WAY_BACK = "after-way-back"
# A note's kind for a file a step left in the upload folder (the zip, the jar,
# unpack's marker), by its path in `path` and the folder in `folder`: both
# lists above say what it holds and how to remove it (re-trial 56b, F3).
UPLOADED = "uploaded"
# A note's kind for the host's claim a run's end could not let go (the host
# out of reach, sudo gone): the exit lines say it, with the command that
# removes it, until a later run of that journal begins (review 62, G2).
CLAIM_LEFT = "host-claim-left"
# The other names the report reads a run by: the steps write them from here,
# so a rename cannot quietly empty the report's fleet table.
SERVICE_ANSWERED = "service-answered"
# The fact (a procedure's, journalled plain: a sentence, or None) naming a
# service a failed step left running without serving: the exit lines say it
# while the stream manager is down (trial 58 L6: a new release left up without
# its database, unsaid), until a later attempt decides it again.
LEFT_RUNNING = "left_running"
# ... and the same of the way back's own start (the old release started and
# not serving), said beside where the way back stands (trial 61, F1).
WAY_BACK_LEFT_RUNNING = "way_back_left_running"
NODEGROUP_RECREATED = "nodegroup-recreated"
PROPERTIES_STEP = "properties"


@dataclass(frozen=True)
class StepCard:
    """What every front end (TUI, headless, `plan --json`) knows about a step
    before it runs. One rule decides how hard to ask: every cutover step takes
    the service down or changes what runs, so it asks for its id typed, as
    does every destructive step."""

    number: int
    id: str
    title: str
    phase: Phase
    summary: str
    caution: str = ""
    destructive: bool = False
    skippable: bool = True
    # Done in an earlier run, a resumed run looks at the host for it again:
    # it only looks (later steps rely on what it finds), or what it did can be
    # undone behind the runbook's back (a service that dies).
    looks_again: bool = False
    # ... and so until the cutover begins: made from the live install, which
    # is set aside from then on.
    looks_again_until_cutover: bool = False
    # A cutover step whose work the way back puts back; one that leaves it
    # (recreate's nodegroups in the new database) is not said undone.
    the_way_back_undoes: bool = True
    # ... in a word for its row once the way back is done, and in the words a
    # summary and a report give after "then": a step whose work the way back
    # makes anew rather than puts back says so (delete-nodegroups: the way
    # back recreates the nodegroups as new ones; operator trial: "undone").
    the_way_back_word: str = UNDONE_WORD
    the_way_back_did: str = UNDONE_DID
    # What to see to at once where the way back could not touch the step's
    # work at all (RunEnded.not_undone): the screen's last word says it.
    the_way_back_could_not: str = ""

    @property
    def needs_typed_confirmation(self) -> bool:
        return self.destructive or self.phase is not Phase.PREPARE

    @property
    def not_skippable_because(self) -> str | None:
        """Why this step cannot be skipped, in a few words; None when it can."""
        if self.skippable:
            return None
        if self.phase is Phase.PREPARE:
            return "the steps after it rely on what it finds"
        # True before the first cutover step too, when the stream manager still
        # serves: a step left out is what would leave it down.
        return "a step left out would leave the stream manager down, half upgraded" \
            if self.phase is Phase.CUTOVER else \
            "a step left out would leave the stream manager down, half restored"


# The pace of a real host: the documented durations, what a rehearsal's fake
# cloud calls its REAL_PACE. A production run goes at it by definition; only
# runs at the same pace can stand for each other's times.
REAL_PACE = 1.0


def duration(seconds: float) -> str:
    """4.2s, 12m05s, 1h02m: tenths under a minute, then cut, as a clock is,
    never rounded up and never below zero. The one rule for a run's times:
    the TUI, the headless run, the exit lines, the report. `?` for what a
    damaged journal can hold (Infinity, NaN)."""
    if not math.isfinite(seconds):
        return "?"
    whole, tenths = divmod(int(max(0.0, seconds) * 10), 10)
    if whole < 60:
        return f"{whole}.{tenths}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{(whole % 3600) // 60:02d}m"


def wall_clock(seconds: float) -> str:
    """A moment (seconds since the epoch) as the operator's wall clock shows it:
    the TUI's and headless's "down since"."""
    return time.strftime("%H:%M:%S", time.localtime(seconds))


def result_line(state: str, detail: str) -> str:
    """How a step ended, as the last line of its transcript (`runbook log`, the
    TUI's output): `done: …`, `in doubt: …`; a result that says it already
    ("already done: …") as it is (operator trial: "done: already done: …")."""
    words = state_words(state)
    if detail.startswith((words, f"already {words}")):
        return detail
    return f"{words}: {detail}"


# Why a step that usually asks for y wants its id typed this time
# (StepReport.destructive_now), as the TUI and headless say it.
DESTRUCTIVE_NOW = "this time its plan deletes or overwrites something on the host"


@dataclass
class StepReport:
    """Where a step stands: what a front end is told as the run goes."""

    id: str
    state: StepState = StepState.PENDING
    detail: str = ""
    elapsed_s: float | None = None
    # As it is asked now, its plan deletes something it does not always
    # (schema dropping its own unfinished import): its id typed, as a
    # destructive step's.
    destructive_now: bool = False
    # The operator stopped its last attempt (x): its question's stop is
    # theirs, not a failure's.
    stopped: bool = False
    # Trying it again in this run can mend its failure: not so for one refused
    # for a cause only a resumed run mends (re-trial: "try again" offered of
    # a changed fleet refused again, word for word).
    retry_helps: bool = True
    # Failed on a refused host key: the known_hosts line its detail says to
    # add, which the failure dialog shows unwrapped and copies (y). Data, not
    # parsed out of the detail (review: host output of that shape offered it).
    known_hosts_line: str | None = None
    # As it is asked in prepare, its check's Check.cutover_needs: skipped, it
    # keeps the cutover from beginning, which the TUI's skip dialog says before
    # the skip is confirmed (re-trial 53: said only after it). "" otherwise.
    cutover_needs: str = ""
    # As it is asked (or after its failure), the way back can be the answer:
    # the engine's one rule (Executor._way_back_open), which the front ends
    # offer by, not by their own reading of the events (review 56b, F4).
    way_back_open: bool = False
    # Its check found the outcome in place, and nothing ran: "already done"
    # where the front ends mark it, as data, not read from the detail's
    # first words (review 56b, F6). Not so of a step a resumed run trusts
    # from the journal: done in the earlier run, it acted then.
    found_done: bool = False
    # Done in the earlier run and trusted from its journal, not looked at
    # again: the front ends say it as they say a step found done (review 57d,
    # M1: the question after them still echoed a step from before them).
    done_earlier: bool = False
