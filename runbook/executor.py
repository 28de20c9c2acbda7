"""Runs the procedure strictly in order: check -> plan -> confirm -> run -> verify.

The executor never draws anything. It tells a front end (headless prompt, the
Textual app, a test) what happens through typed events (runbook.events) and
asks it to confirm each step, and it writes every record to the journal
*before* the front end hears of it. All text leaving the executor goes
through the run's redactor. A step acts through the RunContext it is handed
(runbook.run_context); here is which step runs, and what follows a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import itertools
import os
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, NoReturn, Protocol, TypeVar

from runbook import claim as host_claim
from runbook.config import ConfigError, Settings
from runbook.events import (
    Connected,
    CutoverEnded,
    CutoverStarted,
    Detached,
    Event,
    JournalNote,
    Output,
    Progress,
    ReconnectGaveUp,
    Reconnecting,
    RunEnded,
    RunStarted,
    StepChanged,
    WayBackStarted,
)
from runbook.facts import Facts
from runbook.hoststate import HostState, HostStateError, down_since
from runbook.jobs import LEFT_RUNNING, look_command
from runbook.journal import Journal, JournalWriteError, Record
from runbook.journal_replay import Replay, StepHistory
from runbook.model import (
    ALREADY_DONE,
    Action,
    Check,
    Leaves,
    Phase,
    StepReport,
    StepState,
    wall_clock,
)

# At home in the model, which screens load before the engine; the engine's
# callers name it here still.
from runbook.model import Outcome as Outcome
from runbook.redact import SHORT_SECRET, Redactor, too_short_to_mask
from runbook.run_context import (
    READ_ONLY_RERUNS,
    ApiFactory,
    RunContext,
    StepFront,
    cut_off,
    looked_at_again,
    outcome_unknown,
    redact_action,
)
from runbook.shell import (
    NOTHING_RAN,
    CommandTimeout,
    HostKeyRefused,
    JumpHostRefused,
    OutcomeUnknown,
    RemoteError,
)
from runbook.step import (
    CurlRenderer,
    NotInThisRun,
    PlanContext,
    ReviewLeftOpen,
    Step,
    StepFailed,
)
from runbook.visible import visible

if TYPE_CHECKING:
    from runbook.remote import Remote

T = TypeVar("T")
F = TypeVar("F", bound=Facts)

# What a step trusted from an earlier run's journal says first.
EARLIER_DONE = "done in the earlier run: "


class Answer(StrEnum):
    RUN = "run"
    SKIP = "skip"
    STOP = "stop"
    # Instead of this step, back to the old stream manager: once the cutover
    # has begun, the operator need not wait for a failure to choose it.
    ROLLBACK = "rollback"


# The journal's note, as a run goes on with a cutover, that the fleet snapshot
# it rebuilds from is not on this machine.
SNAPSHOT_NOT_HERE = "snapshot-not-here"

# The exit of a run the host's claim refused (ClaimRefused, a ConfigError):
# the CLI's for a refusal, README's exit-code table.
REFUSED_EXIT = 2


class _Unclaimed(Exception):
    """A step that changes the host met a claim that could not be made (its
    command cut off, say): it sends nothing unclaimed (review 60a F5), and
    its try again claims the host first."""


def _unclaimed(exc: BaseException) -> str:
    """Why a changing step stopped before its first action: the claim."""
    if isinstance(exc, CommandTimeout):
        how = "the claim got no answer in time"
    elif isinstance(exc, OutcomeUnknown):
        how = "the connection dropped as the claim was made"
    else:
        how = _reason(exc).rstrip(".")
    return (f"the host could not be claimed for this step: {how}. Nothing of this try was "
            "sent. Try it again: it claims the host first")


class _WayBackChosen(Exception):
    """The operator answered a step's confirmation with the way back."""

    def __init__(self, step_id: str, not_run: str) -> None:
        super().__init__(step_id)
        self.step_id, self.not_run = step_id, not_run


# How long before a step starts its early look at the claim (Executor.
# _look_early) may have begun and still stand for the look as it starts: a
# check takes milliseconds; one that took longer waited on something (a
# reconnect, a slow host) while another run could take the host.
_EARLY_LOOK_STANDS_S = 1.0


async def _bounded(look: Awaitable[T], otherwise: T) -> T:
    """A look at the host's claim, within the claim's own limit and a
    little more; `otherwise` where it cannot be made (a failure of its own,
    or the host's, is met by the change that follows)."""
    try:
        async with asyncio.timeout(host_claim.TIMEOUT_S + 5):
            return await look
    except Exception:
        return otherwise


@dataclass(frozen=True)
class _EarlyLook:
    """The look at the host's claim made beside a step's check (Executor.
    _look_early): when it `began` (monotonic), and whether the holder named
    this run (False for any other answer, or none)."""
    began: float
    task: asyncio.Task[bool]


@dataclass(frozen=True)
class Decision:
    """The operator's answer to a step's confirmation; `reason` says why a skip."""
    answer: Answer
    reason: str = ""


class Recovery(StrEnum):
    """What the operator does after a step failed."""

    RETRY = "retry"  # check again, and run it again where its outcome is not in place
    ROLLBACK = "rollback"  # back to the old stream manager (cutover only)
    STOP = "stop"


class FrontEnd(StepFront, Protocol):
    """What the operator sees and answers with: the one door into a run. Its
    tell and review (StepFront) are what a running step reaches too."""

    async def confirm(self, step: StepReport, plan: list[Action]) -> Decision:
        """Show the step's final plan and ask: run it, skip it, or stop."""

    async def recover(self, step: StepReport, *, can_roll_back: bool) -> Recovery:
        """The step failed (or is in doubt): try it again, roll back, or stop."""


def _reason(exc: BaseException) -> str:
    """Our own errors speak for themselves; anything else is named."""
    from runbook.smapi import SMApiError

    if isinstance(exc, StepFailed | RemoteError | SMApiError | _Unclaimed):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _known_hosts_line(exc: BaseException) -> str | None:
    """The known_hosts line a refused host key (or jump host) says to add, if
    `exc` is, or was raised from, that refusal."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, HostKeyRefused | JumpHostRefused):
            return seen.known_hosts_line
        seen = seen.__cause__ or seen.__context__
    return None


def _journalled(leaves: dict[str, Leaves]) -> dict[str, dict[str, str]]:
    """What each step leaves, as the journal keeps it: by step, its two
    fields (journal_replay.leaves_of reads them back)."""
    return {step: said.as_record() for step, said in leaves.items()}


class Executor(Generic[F]):
    def __init__(
        self,
        steps: Sequence[Step[F]],
        *,
        settings: Settings,
        facts: F,
        remote: Remote,
        api_factory: ApiFactory,
        curl: CurlRenderer,
        journal: Journal,
        front: FrontEnd,
        redactor: Redactor,
        host_state: HostState,
        resume: Replay | None = None,
        rollback: Sequence[Step[F]] = (),
        rollback_after: str | None = None,
        upgrade: Sequence[Step[F]] | None = None,
        opening_warnings: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.steps = list(steps)
        self.opening_warnings = list(opening_warnings)  # (kind, text), said as the run begins
        # The steps whose leaves (and not_undone) the journal keeps: the run's
        # own; for the way back alone, which runs none of the upgrade's, the
        # upgrade's it goes back from (review 56c, F2).
        self.upgrade = list(upgrade) if upgrade is not None else self.steps
        # The way back, offered when a cutover step fails; `rollback_after`
        # takes it once that step is done (a rehearsal of the way back).
        self.rollback = list(rollback)
        self.rollback_after = rollback_after
        self.resume = resume
        self.settings = settings
        self.remote = remote
        self.api_factory = api_factory
        self.curl = curl
        self.journal = journal
        self.front = front
        self.redactor = redactor
        self.host_state = host_state
        self.facts = facts
        self._facts_kept: dict[str, Any] | None = None  # as last journalled
        self._leaves_kept: dict[str, Leaves] | None = None  # as last journalled
        self._not_undone_kept: dict[str, bool] | None = None  # as last journalled
        self.skipped: dict[str, str] = {}
        if resume is not None:
            facts.load(resume.facts)
        self.reports = {s.id: StepReport(s.id) for s in [*self.steps, *self.rollback]}
        # The exit code a signal ends the process with (128 + its number),
        # once one detached the run: the run-end record says that one.
        self.ended_by: int | None = None
        # Steps this session has run (started), so far.
        self._ran: set[str] = set()
        # How each step's last attempt in this session ended (trial 58, L4:
        # a way back chosen at a retry said "tried before", not "failed").
        self._ended: dict[str, StepState] = {}
        # The jobs of an attempt left in doubt, waited for before a retry,
        # and forgotten only once waited for: the resumed run's among them
        # (review: a retry after a failed wait ran beside the earlier one's).
        self._left_running: dict[str, list[str]] = {
            step: list(history.in_flight_jobs)
            for step, history in (resume.steps.items() if resume is not None else ())
            if history.in_flight_jobs}
        # The step running now and the task that runs it, while the operator
        # can stop it; and the step they asked to stop (see stop_step).
        self._stoppable: tuple[str, asyncio.Task[Any]] | None = None
        self._stop_asked: str | None = None
        remote.on_connect = lambda: self._tell(
            Connected(remote.target, remote.fingerprint), Record.CONNECTED,
            host=remote.target, fingerprint=remote.fingerprint)
        remote.on_reconnecting = lambda attempt, wait, reason: self._tell(
            Reconnecting(remote.target, attempt, wait, reason), Record.RECONNECTING,
            host=remote.target, attempt=attempt, wait_s=round(wait, 1), reason=reason)
        remote.on_gave_up = lambda within, reason: self._tell(
            ReconnectGaveUp(remote.target, within, reason), Record.RECONNECT_GAVE_UP,
            host=remote.target, within_s=within, reason=reason)
        remote.on_left_running = self._left_running_on_host
        # The steps whose command a stop could not reach the host to end.
        self._unstopped: set[str] = set()
        # Wall clock, not monotonic: a resumed run counts downtime from the
        # cutover start that an earlier process recorded; the host's own
        # record wins, as it survives a lost or restarted journal.
        self.cutover_began: float | None = None
        # The way back was taken, in this run or the one it resumes: from then
        # on only the way back's end ends the cutover.
        self.going_back = False
        # Whether the skipped prepare steps were looked at again before this
        # session's first cutover step (once: a retry of it does not repeat it).
        self._skips_looked_at = False
        # Prepare steps skipped before the cutover began, kept so by a run
        # resumed after it (_keep_skipped): said, and looked at, once.
        self._kept_skipped: set[str] = set()
        # When the cutover under way began, as its journal and the host's
        # record say it: the host's claim names it (runbook.claim).
        self._cutover_at: str | None = None
        if resume is not None and resume.cutover_started:
            self.cutover_began = datetime.fromisoformat(resume.cutover_started).timestamp()
            self._cutover_at = resume.cutover_started
        # A record whose run was cut off before its journal said the cutover
        # began: nothing was sent, and this run begins it afresh, its clock
        # and its snapshot with it (review 58a, L1).
        host_state.drop_cutover_never_begun(resume)
        under_way = host_state.cutover()
        if under_way is not None:
            self.cutover_began = datetime.fromisoformat(under_way.began).timestamp()
            self._cutover_at = under_way.began
        # Its end on record, whatever the host's record says: the downtime is
        # the one recorded then, not ended again at this run's end.
        self._ended_on_record = resume is not None and resume.downtime_s is not None
        # The run it resumes completed the cutover (its complete end on
        # record): the new stream manager serves, and there is no way back
        # to take, as `runbook rollback`, the headless prompt and the TUI
        # have it (review 56b, F4). The host's record of that same cutover
        # may be left open (it could not be closed as it ended); it is
        # closed before the run (refuse_a_second_cutover), and does not make
        # the cutover under way again here. Only a record of another
        # journal's cutover would.
        self.cutover_completed = self._ended_on_record and (
            under_way is None or under_way.journalled_in(journal.path))
        # This run's claim on the host itself (runbook.claim), once taken; and
        # whether its cutover completed (or went back), which lets it go.
        self._claim = dataclasses.replace(
            host_claim.mine(str(journal.path.resolve()), ssh_user=settings.host.user),
            cutover=self._cutover_at or "")
        if self._cutover_at:  # the snapshot it rebuilds from, for a colleague to be told of
            self._claim = dataclasses.replace(self._claim, snapshot=self._snapshot_in_use())
        self._claimed = False
        self._claim_marked = bool(self._cutover_at)  # see _mark_claim
        self._claim_missed: set[str] = set()  # steps whose try found no host
        # Its claim taken by another run after steps of this one ran (_still_ours).
        self._claim_lost = False
        self._claim_note: host_claim.TakenOver | None = None
        # Where: the install's, whatever the SSH login (trial 60, F12).
        self._claim_place = host_claim.Place.of(settings)
        # Whose claim this run (or the one it continues) took: then what
        # serves is not its to say.
        from runbook.standing import taken_from

        self._taken_from = taken_from(resume) if resume is not None else None
        self._cutover_whole = False

    # -- plans ---------------------------------------------------------------

    def plan_context(self) -> PlanContext[F]:
        return PlanContext(self.settings, self.curl, self.facts, self.host_state,
                           self.journal.path)

    def plan_of(self, step: Step[F]) -> list[Action]:
        return [redact_action(a, self.redactor) for a in step.plan(self.plan_context())]

    # -- telling -------------------------------------------------------------

    def _tell(self, event: Event, record: Record | None = None, **fields: Any) -> None:
        """Journal first (when the event is a record of its own), then the front end."""
        if record is not None:
            self.journal.write(record, **fields)
        self.front.tell(event)

    def _set(self, step: Step[F], state: StepState, detail: str = "", **fields: Any) -> None:
        report = self.reports[step.id]
        report.state = state
        # A result often quotes the host (a command's error line): the
        # terminal escapes in it are shown, never acted on, wherever it goes.
        report.detail = visible(self.redactor(detail), keep="\n\t")
        if state not in (StepState.RUNNING, StepState.PENDING):
            self._ended[step.id] = state
            self.journal.write(Record.STEP_END, step=step.id, state=state.value,
                               detail=report.detail, elapsed_s=report.elapsed_s, **fields)
            self.keep_facts(always=True)
        self.front.tell(StepChanged(dataclasses.replace(report)))

    def keep_facts(self, *, always: bool = False) -> None:
        """What the steps have learnt, journalled so a resumed run starts from
        it: as each step ends, and before each action when it changed since, so
        a marker set before a change outlives a process killed during it
        (review: schema's import marker was lost with a kill -9 mid-import)."""
        facts = self.facts.record(self.redactor)
        if always or facts != self._facts_kept:
            # What the way back would leave, said anew where a step has learnt
            # what it names (the new database's login: README walkthrough,
            # the command that drops it was not given).
            leaves = self._leaves()
            not_undone = self._not_undone(leaves)
            more: dict[str, Any] = {"leaves": _journalled(leaves)} \
                if leaves != self._leaves_kept else {}
            if not_undone != self._not_undone_kept:
                more["not_undone"] = not_undone
            self.journal.write(Record.FACTS, facts=facts, **more)
            self._leaves_kept, self._not_undone_kept = leaves, not_undone
            # A copy: a record holds the facts' own dicts, which a step then
            # changes in place (second review: a checksum added to one went
            # unseen against itself).
            self._facts_kept = copy.deepcopy(facts)

    def _leaves(self) -> dict[str, Leaves]:
        """What each step leaves that the way back does not undo, as far as
        this run knows it now, masked as the journal is."""
        return {s.id: Leaves(self.redactor(said.stays), self.redactor(said.to_do),
                             self.redactor(said.command))
                for s in self.upgrade
                if (said := s.leaves(self.settings, self.facts)) is not None}

    def _not_undone(self, leaves: dict[str, Leaves]) -> dict[str, bool]:
        """Of each step that leaves something after the way back, whether it
        could not touch its work at all, as far as this run knows it now
        (Step.untouched_by_the_way_back): journalled as data beside `leaves`,
        so no reader looks for it in their words (review 56b, F6); the way
        back alone says it of the upgrade's steps (review 56c, F2)."""
        return {s.id: s.untouched_by_the_way_back(self.facts) for s in self.upgrade
                if s.id in leaves}

    def detach(self, *, exit_code: int | None = None) -> None:
        """Leave the command that runs now running on the host when the run is
        cancelled next. Its action stays open in the journal: in doubt, so a
        resumed run checks the host before doing it again. `exit_code`: the
        one the process will end with, when not the outcome's (a signal's)."""
        self.ended_by = exit_code
        self.remote.detached = True
        running = self._running()
        # The signal's exit code says who left: a closed terminal is no choice.
        by_signal = {} if exit_code is None else {"exit_code": exit_code}
        try:
            self._tell(Detached(tuple(running)), Record.DETACHED, steps=running, **by_signal)
        except JournalWriteError:
            # The detach is made all the same (a signal's handler must go on
            # to cancel the work: code review); the run ends saying the
            # journal failed, and its action stays open there, in doubt.
            self.front.tell(Detached(tuple(running)))

    def abort(self) -> None:
        """The operator aborts the steps running, before the run is cancelled:
        their commands are stopped on the host (Remote.run), and the journal
        says it was their choice, not a crash or a lost connection (trial: the
        report read "cut off", "no end recorded")."""
        running = self._running()
        if running:  # at a question nothing runs: that is a stop
            # A journal that failed says so as the run ends; the abort goes on.
            with contextlib.suppress(JournalWriteError):
                self.journal.write(Record.ABORTED, steps=running)

    def stop_step(self, step_id: str) -> bool:
        """The operator stops the step running now, without leaving the run:
        its command is told to stop on the host (Remote.run, as for an abort),
        and the step ends in doubt, with its question (try again, the way back
        once the stream manager is down, or stop). A wait that will not end
        (origins never in service) need not be sat out to its limit with the
        stream manager down. False unless `step_id` runs: one that ended as
        the operator asked is not taken for the next. Asked again while that
        stop is under way (its command being stopped), True again."""
        if self._stoppable is None:
            return False
        running, task = self._stoppable
        if running != step_id:
            return False
        if self._stop_asked is None:
            self._stop_asked = step_id
            task.cancel()
        return True

    def _left_running_on_host(self, job: str, limit: float, until: float) -> None:
        """A stop (an abort, x) could not reach the host: the command runs on
        there until its own limit. Said in one line under its step, and
        journalled as a note for `runbook log`, the report and the exit lines
        (the TUI's output is gone once it quits)."""
        said = (f"could not reach the host to stop its command: it runs on there until its "
                f"time limit of {limit:g}s ends it, by {wall_clock(until)} at the latest. To "
                f"look at it on the host, as the SSH user: `{look_command(job)}` lists what "
                "still runs of it, or says ended. "
                # A throwaway rehearsal's host goes as it ends: nothing resumes.
                + ("A retry waits for it first" if self.settings.rehearsal_throwaway else
                   "A retry, or a resumed run, waits for it first"))
        # RunContext names a job by its step first (job_name).
        step = next((sid for sid in self.reports if job.rsplit("-", 2)[0] == sid),
                    next(iter(self._running()), ""))
        if step:
            self._unstopped.add(step)
        # The abort goes on whatever the journal does (abort()).
        with contextlib.suppress(JournalWriteError):
            self.journal.write(Record.NOTE, step=step, kind=LEFT_RUNNING, text=said,
                               warning=True, job=job, until=round(until))
        self.front.tell(Output(step, "info", said, True) if step else JournalNote(said))

    def _running(self) -> list[str]:
        """The steps running now, in the procedure's order."""
        return [r.id for r in self.reports.values() if r.state is StepState.RUNNING]

    # -- the run -------------------------------------------------------------

    async def run(self) -> Outcome:
        resumed = self.resume is not None
        ids = tuple(s.id for s in self.steps)
        # A rehearsal's times stand only for runs at its pace (the downtime
        # estimate); a production run goes at the real one by definition.
        pace = self.settings.rehearsal_pace
        timed_as: dict[str, object] = (
            {"pace": pace} if self.settings.rehearsal and pace is not None else {})
        if self.settings.unattended:  # only said when so: older journals never are
            timed_as["unattended"] = True
        if self.settings.headless:
            timed_as["headless"] = True
        if self.settings.rehearsal and self.settings.rehearsal_scenario is not None:
            timed_as["scenario"] = self.settings.rehearsal_scenario
        if self.settings.rehearsal_faults:
            timed_as["faults"] = list(self.settings.rehearsal_faults)
        connected = await self._first_claim()
        # Where the claim is refused at a step's (the host out of reach as the
        # run began), the records from here are taken back (review 61b, F4).
        began_at = self.journal.size
        try:
            if self.rollback_after is not None:
                # A drill's turn back, for a resume to go on with (re-trial: a
                # resume without it finished the upgrade the drill was to undo).
                timed_as["rollback_after"] = self.rollback_after
            self._tell(RunStarted(self.settings.source, self.remote.target,
                                  self.settings.rehearsal, ids, resumed,
                                  down_since(self.host_state, self.resume)),
                       # The config's absolute path (operator trial 54: as given,
                       # relative, the report's commands named it from wherever the
                       # report was made); a rehearsal's as given, which tells its
                       # runs apart (cli.refusals.runs_of).
                       Record.RUN_START, config=self.settings.source if self.settings.rehearsal
                       else os.path.abspath(self.settings.source), host=self.remote.target,
                       rehearsal=self.settings.rehearsal, **timed_as, steps=list(ids),
                       cutover=[s.id for s in self.steps if s.phase is Phase.CUTOVER],
                       leaves=_journalled(leaves := self._leaves()),
                       not_undone=self._not_undone(leaves),
                       # What the way back does with a step's work where it does
                       # not simply undo it (delete-nodegroups'), for the report.
                       way_back_did={s.id: s.the_way_back_did for s in self.steps
                                     if s.the_way_back_did != Step.the_way_back_did},
                       resumed=resumed)
            if connected and self.remote.on_connect is not None:
                self.remote.on_connect()
            for note in (self.journal.repaired, self.journal.unlocked):
                if note:
                    self.front.tell(JournalNote(note))
            if self._claim_note:
                self._said_of_the_claim(self._claim_note)
                self._claim_note = None
            # A secret known before any step (the API token) too short to be
            # masked in free text: said once, now, and kept as the run's warning.
            for name in self.redactor.untold_short():
                said = too_short_to_mask(name)
                self.journal.write(Record.NOTE, step="", kind=SHORT_SECRET, text=said, warning=True)
                self.front.tell(JournalNote(said))
            for kind, said in self.opening_warnings:
                self.journal.write(Record.NOTE, step="", kind=kind, text=said, warning=True)
                self.front.tell(JournalNote(said))
            if (missing := self._snapshot_not_here()) is not None:
                self.journal.write(Record.NOTE, step="", kind=SNAPSHOT_NOT_HERE, text=missing,
                                   warning=True)
                self.front.tell(JournalNote(missing))
        except BaseException:
            # Before the run began (its first record did not fit, say): the
            # claim goes with it, as it said it changed nothing (review 60c, F3).
            await self._release_claim()
            raise
        outcome, refused = Outcome.DONE, False
        try:
            passed = self._drill_step_passed()
            if passed is not None:
                self.info(passed, f"--rollback-after {passed.id}: the earlier run had done "
                          "this step, so the way back begins now; the steps before it are "
                          "not looked at again")
                outcome = await self._roll_back(self._turned_back(passed, done_earlier=True))
            elif self.steps and not self._way_back_began():
                outcome = await self._steps(self.steps, then=self.rollback_after)
            else:  # `runbook rollback`, or a resumed run that was on its way back
                outcome = await self._roll_back(
                    "a resumed run goes on back" if self.steps else self._rollback_why())
        except JournalWriteError as exc:
            # The record ends at the last good line, the step in flight in
            # doubt: a resume after the disk is fixed checks it first.
            self.front.tell(RunEnded(Outcome.FAILED.value, Outcome.FAILED.exit_code, str(exc)))
            raise
        except host_claim.ClaimRefused:
            # Refused at a step's claim: no claim, so no step that changes
            # the host ran. The run ends as a refusal at its start does (exit
            # 2, the journal as it was before): journalled failed, exit 1, it
            # read as an unfinished run the next was offered (review 61b, F4).
            # Its claim taken after steps ran (_still_ours), it keeps its
            # record, which ends with the refusal's exit.
            refused = True
            self.ended_by = REFUSED_EXIT
            raise
        except (asyncio.CancelledError, KeyboardInterrupt):
            # Cancelled (ctrl+c, the app quitting): the journal must still end
            # with the run, and say it did not finish on its own.
            outcome = Outcome.STOPPED
            raise
        except BaseException:
            # Anything else is no one's choice: the run failed, as the
            # process's exit says (code review: journalled as stopped).
            outcome = Outcome.FAILED
            raise
        finally:
            try:
                taken_back = refused and not self._claimed and not self._claim_lost \
                    and self.cutover_began is None and self.journal.take_back(began_at)
                if not taken_back and self.journal.failure is None:
                    self._finish(Outcome.FAILED if refused else outcome)
            finally:
                await self._release_claim()
        return outcome

    def _snapshot_not_here(self) -> str | None:
        """As a run that goes on with a cutover under way begins: where the
        fleet snapshot the rest of it rebuilds from is not on this machine,
        what to put where. A colleague going on with a copy of the journal
        learnt it only as the fleet was to be rebuilt, in the downtime, with
        no file named (trial 62, F4). Said, not refused: where the snapshot
        is lost for good, the way back's other steps still bring the old
        stream manager back, and the fleet is rebuilt by hand."""
        if self.cutover_began is None or self.cutover_completed or self._ended_on_record:
            return None
        try:
            where = self.host_state.snapshot_not_here(self.journal.path,
                                                      self.facts.snapshot_in_use())
        except (HostStateError, OSError):
            return None  # the steps meet that in their own words
        if where is None:
            return None
        return (f"the fleet snapshot this cutover rebuilds the fleet from is not here: {where}. "
                "Do it before the step that rebuilds the fleet, which fails without it (copied "
                "later, try that step again)")

    def _snapshot_in_use(self) -> str:
        """The fleet snapshot the cutover rebuilds from, as a path here, for
        the claim kept for it to name (claim.cutover_refusal): the host's
        record's, else the run's (HostState.run_snapshot); empty where none."""
        with contextlib.suppress(HostStateError, OSError):
            under_way = self.host_state.cutover()
            if under_way is not None and under_way.snapshot:
                return under_way.snapshot
            found = self.host_state.run_snapshot(self.journal.path,
                                                 self.facts.snapshot_in_use())
            if found is not None:
                return os.path.abspath(found)
        return ""

    # -- the host's claim ------------------------------------------------------

    async def _first_claim(self) -> bool:
        """The host claimed before anything is journalled or asked: another
        run's claim refuses this one (HostClaimed, exit 2, the journal left
        unwritten). Where the host cannot be reached yet, the first step
        claims it (_claim_host), and says why it cannot."""
        # Its connection is journalled after the run's start, as it was
        # before the claim: refused, the journal stays unwritten, and goes
        # (no exit lines of a run that never began).
        on_connect, connected = self.remote.on_connect, list[bool]()
        self.remote.on_connect = lambda: connected.append(True)
        try:
            await self._claim_host()
        except (host_claim.HostClaimed, ConfigError, asyncio.CancelledError):
            raise
        except Exception:
            pass  # the first step says why, and tries again
        finally:
            self.remote.on_connect = on_connect
        return bool(connected)

    async def _claim_host(self) -> None:
        if self._claimed:
            return
        continues = self.resume.path if self.resume is not None else None
        self._claim, self._claim_note = await host_claim.take(
            self.remote, self._claim, self._claim_place, over=self.settings.take_over_host,
            continues=str(continues.resolve()) if continues is not None else None,
            config=self.settings.source)
        self._claimed = True

    async def claim_host(self, step: Step[F]) -> None:
        """The claim, before a step's action, where the run's start could not
        take it (the host not reached then, or its command cut off); tried
        once a try of a step. Where the host still cannot be reached, or the
        claim's command was cut off, or failed some other way, a step that
        only looks (read_only) goes on unclaimed, and meets an unreachable
        host in its own words (preflight's: nothing ran, the known_hosts
        line); any other step fails before its first action, and its try
        again claims first (review 60a F5, 60c F10: it acted unclaimed,
        unsaid). Another run's claim, or one that
        cannot be made there, stops the run. Once the cutover is under way,
        the claim says so (_mark_claim). A claim this run holds already is
        looked at as each step that changes the host starts (_still_ours)."""
        if not self._claimed:
            if step.id in self._claim_missed:
                return
            try:
                await self._claim_host()
            except (host_claim.HostClaimed, ConfigError):
                raise
            except Exception as exc:
                # Cut off, or no host reached at all: a step that changes the
                # host sends nothing unclaimed. Its action's own connection may
                # get through where the claim's did not (review 60c, F10: it
                # acted unclaimed, unsaid). One that only looks goes on.
                if not step.read_only:
                    raise _Unclaimed(_unclaimed(exc)) from exc
                self._claim_missed.add(step.id)
                return
            if self._claim_note:
                self._said_of_the_claim(self._claim_note)
                self._claim_note = None
        if step.phase is Phase.CUTOVER and self.cutover_began is None:
            # The cutover begins with this action: the claim says so before
            # it goes out, not from the next (review 60c, F1: a run cut off
            # in the first DELETE left a plain claim); and before the cutover
            # is on record, which it must not be where the claim cannot say
            # it, nor where this action's claim was only just made (review
            # 61b, F7).
            at = datetime.now(UTC).isoformat(timespec="milliseconds")
            await self._mark_before_the_cutover(at)
            self.begin_cutover(step, at=at)
        await self._mark_claim()

    def _said_of_the_claim(self, note: host_claim.TakenOver) -> None:
        # Whose: the exit lines say no more of the host than this run knows
        # (standing.service_state).
        self._taken_from = note.whose or "another run"
        self.journal.write(Record.NOTE, step="", kind=host_claim.TAKEN_OVER, text=note.said,
                           warning=True, whose=note.whose)
        self.front.tell(JournalNote(note.said, taken_from=self._taken_from))

    async def _release_claim(self) -> None:
        """Let the host's claim go, unless the run leaves a cutover under way:
        no other run may enter that (a stop, a crash, a failed step in it).
        Where it stays (the host out of reach, sudo gone), it is said: the
        operator left believing the host free, a colleague refused later
        (review 62, G2)."""
        if not self._claimed:
            return
        if self.cutover_began is not None and not self._cutover_whole:
            await self._mark_claim(again=True)
            return
        self._claimed = False
        try:
            # A lost connection is tried once more, not waited for with
            # backoff (a host that stayed out of reach was waited for once).
            async with asyncio.timeout(host_claim.TIMEOUT_S + self.remote.connect_timeout + 5):
                why = await host_claim.release(self.remote, self._claim, self._claim_place)
        except TimeoutError:
            why = "the host gave no answer in time"
        except Exception as exc:
            why = _reason(exc)
        if why is None:
            return
        said = visible(self.redactor(host_claim.stays(self._claim_place, why)))
        with contextlib.suppress(JournalWriteError):  # said all the same
            self.journal.write(Record.NOTE, step="", kind=host_claim.CLAIM_LEFT,
                               text=said, warning=True)
        self.front.tell(JournalNote(said))

    async def _still_ours(self, step: Step[F], early: _EarlyLook | None = None) -> None:
        """As a step that changes the host starts, the claim this run holds is
        looked at once more: another machine's --take-over-host may have taken
        it while this run waited at a question (trial 60, F5), and two runs in
        one cutover lose the fleet. Once only before the cutover's first
        change, a run taken over later went on: it moved red5pro aside under
        the taker's way back, and in prepare changed the host with no claim,
        letting a third run in (trial 62, F3, F5). Taken, the step does not
        start and the run stops as a refusal does (exit 2): it holds no claim
        to let go or mark. One short command a step, none for a step that
        only looks. A look that cannot be made lets the change meet that.
        `early`: the look made beside the step's check (_look_early), which
        stands for this one where it found the claim this run's, just now."""
        if not self._claimed or step.read_only:
            return
        # Marked for the cutover under way, a claim gone went with the run
        # that ended that cutover (a colleague's way back from a copy of the
        # journal lets it go as it ends), or was removed by hand once it was
        # ended so: taken again, this run went on over the old release put
        # back (trial 62, F3). Before, one removed by hand is this run's again.
        if early is not None and await early.task and \
                time.monotonic() - early.began <= _EARLY_LOOK_STANDS_S:
            return
        # Anything else the early look found (another run, nobody, no
        # answer, or an answer from before a long check) is looked at again:
        # a refusal, or a claim taken again, rests on a look made now.
        marked = bool(self._claim.cutover)
        other = await self._whose_claim(marked)
        if other is None:
            return
        if other is host_claim.GONE:
            said = (f"this run's claim on the host, kept for the cutover under way, is gone "
                    f"({self._claim_place.where} on the host): another run that went on with "
                    "this cutover (its way back, say) has ended it, or it was removed by hand. "
                    f"Nothing of {step.id} was sent, and this run stops here. Find out what "
                    "that run did, and what serves now, before anything more")
        else:
            said = host_claim.taken_refusal(other, self._claim_place.where, step.id)
        self._claimed, self._claim_lost = False, True
        # In the journal too, where the report and `runbook log` read why the
        # run ended here, with the step it did not start: as that step's
        # warning, which the front ends say as the refusal (said once).
        self.journal.write(Record.OUTPUT, step=step.id, lines=[["info", self.redactor(said)]],
                           warning=True)
        raise host_claim.ClaimTaken(self.remote.target, said,
                                     when="once that run has ended, and what it did is known")

    async def _whose_claim(self, marked: bool) -> host_claim.Claim | None:
        """Who holds the host's claim now, where not this run (GONE: nobody,
        for a claim `marked` for the cutover); None where it is this run's,
        or the host could not say."""
        return await _bounded(host_claim.taken_from_us(
            self.remote, self._claim, self._claim_place, retake=not marked), None)

    def _look_early(self, step: Step[F]) -> _EarlyLook | None:
        """Under --yes, the look at the claim a changing step starts with
        (_still_ours), made beside the step's check: nobody waits at the
        question between them, so it sees the host as a look after the
        answer would, and the cutover's steps follow one another a short
        root command sooner (issue 12: six of them in the downtime). At the
        keys, the question may last minutes: the look waits for its answer.
        Made after any wait for an earlier attempt (_settled), as long; and
        a check that took long is looked at again (_EARLY_LOOK_STANDS_S)."""
        if not self.settings.unattended or not self._claimed or step.read_only:
            return None
        return _EarlyLook(time.monotonic(), asyncio.create_task(self._claim_still_mine()))

    async def _claim_still_mine(self) -> bool:
        """Whether the holder names this run: a look only (it may be cut off
        as the step does not start, and must leave the claim as it was)."""
        return await _bounded(host_claim.still_mine(self.remote, self._claim,
                                                    self._claim_place), False)

    async def _mark_before_the_cutover(self, at: str) -> None:
        """The claim marked with the cutover about to begin `at`: where it
        cannot be (sudo taken away meanwhile), the step fails before its
        first change, nothing of the cutover on record, saying why: a plain
        claim lets a colleague's --take-over-host into the cutover (review
        60a, F10), and the mark was let fail unsaid (review 61b, F7)."""
        marked = dataclasses.replace(self._claim, cutover=at, snapshot=self._snapshot_in_use())
        try:
            async with asyncio.timeout(host_claim.TIMEOUT_S + 5):
                why = await host_claim.mark(self.remote, marked, self._claim_place)
        except Exception as exc:
            # Cut off too: whether it was marked is not known, so the cutover
            # does not begin; its try again marks it afresh.
            why = _reason(exc) if not isinstance(exc, TimeoutError) else "no answer in time"
        if why is not None:
            raise _Unclaimed(
                f"the cutover did not begin: the host's claim ({self._claim_place.where}) "
                f"could not be marked for it, and another run could take over a cutover under "
                f"a plain claim. {why.rstrip('.')}. Nothing of the cutover was sent, and the "
                "live stream manager is as it was: try the step again once this is fixed, "
                "or stop")
        self._claim, self._claim_marked = marked, True

    async def _mark_claim(self, *, again: bool = False) -> None:
        """The claim kept on the host says the cutover under way, and when it
        began: no run but one that goes on with it may take it then, with
        --take-over-host either (review 60a, F10). A cutover this run begins
        is marked before it begins (_mark_before_the_cutover); this marks a
        claim that names another start (a record found under way), at the
        next action, and `again` as the run ends if that try failed; a
        failure there is left unsaid: the claim then refuses others as any
        run's does."""
        if self._cutover_at is None or (self._claim_marked and not again) \
                or self._claim.cutover == self._cutover_at:
            return
        self._claim_marked = True
        if not getattr(self.remote, "connected", True):
            return
        marked = dataclasses.replace(self._claim, cutover=self._cutover_at,
                                     snapshot=self._snapshot_in_use())
        with contextlib.suppress(Exception):
            async with asyncio.timeout(host_claim.TIMEOUT_S + 5):
                if await host_claim.mark(self.remote, marked, self._claim_place) is None:
                    self._claim = marked

    async def _steps(self, steps: Sequence[Step[F]], *, then: str | None = None) -> Outcome:
        """The steps in order; a failed one is retried, rolled back from or
        stopped at, as the operator says."""
        try:
            for step in steps:
                if step.id == then:  # a drill: whoever confirms it must know
                    self.info(step, f"--rollback-after {step.id}: once this step is done, "
                              "runbook takes the way back to the old stream manager instead "
                              "of going on")
                outcome = await self._one(step)
                while outcome is Outcome.FAILED:
                    can_roll_back = self._way_back_open(step)
                    self.reports[step.id].way_back_open = can_roll_back
                    choice = await self.front.recover(
                        dataclasses.replace(self.reports[step.id]), can_roll_back=can_roll_back)
                    if choice is Recovery.RETRY:
                        self.info(step, "trying again: its check looks first; a step it does "
                                        "not find done waits for its confirmation again")
                        outcome = await self._one(step, again=True)
                    elif choice is Recovery.ROLLBACK and can_roll_back:
                        ended = "was stopped" if self.reports[step.id].stopped else "failed"
                        return await self._roll_back(f"{step.id} {ended}, and the operator "
                                                     "chose the way back")
                    else:
                        # A step the operator stopped, then the run: stopped
                        # by them (exit 3, as a quit's abort), not failed.
                        return Outcome.STOPPED if self.reports[step.id].stopped else outcome
                if outcome is not Outcome.DONE:
                    return outcome
                if step.id == then:
                    self.info(step, "rolling back after this step, as asked")
                    return await self._roll_back(self._turned_back(step))
        except _WayBackChosen as chosen:
            # Not "at X's question" (trial: a report read it as X's fault, when
            # X was only the next step, asked on a resume mid-cutover).
            return await self._roll_back(self._chosen_why(chosen))
        return Outcome.DONE

    def _chosen_why(self, chosen: _WayBackChosen) -> str:
        """Why the way back, chosen at a step's question. On a resume, at a
        step before the cutover looked at again, where the cutover stood
        (trial 61, F6: "asked to run preflight next", and not where)."""
        asked = next((s for s in self.upgrade if s.id == chosen.step_id), None)
        cutover = [s for s in self.upgrade if s.phase is Phase.CUTOVER]
        if self.resume is None or asked is None or asked.phase is Phase.CUTOVER or not cutover:
            return (f"the operator chose it when the runbook asked to run {chosen.step_id} "
                    f"next, {chosen.not_run}")
        earlier = self.resume

        def finished(step: Step[F]) -> bool:
            now = self.reports[step.id].state
            state = now if now is not StepState.PENDING else earlier.state(step.id)
            return state in (StepState.DONE, StepState.SKIPPED)

        done = [i for i, step in enumerate(cutover) if finished(step)]
        last = done[-1] if done else -1
        stood = ", ".join([f"after {cutover[last].id}"] * (last >= 0)
                          + [f"before {cutover[last + 1].id}"] * (last + 1 < len(cutover)))
        return (f"the operator chose it on resuming, with the cutover stopped {stood} (the "
                f"runbook asked about {chosen.step_id} first, {chosen.not_run})")

    def _rollback_why(self) -> str:
        """Why `runbook rollback` goes back: the upgrade's step that failed or
        was left in doubt last, where there is one (trial 58, L4: the report's
        Way back row said only "runbook rollback")."""
        earlier = self.resume
        if earlier is None:
            return "runbook rollback"
        if earlier.way_back_taken:
            # Going on with a way back already taken: its own step stuck is
            # no reason the operator chose it (review 59a F9).
            return "going on where it stopped (runbook rollback)"
        stuck = [(step_id, earlier.state(step_id)) for step_id in earlier.step_ids
                 if earlier.state(step_id) in (StepState.FAILED, StepState.IN_DOUBT)]
        if not stuck:
            return "runbook rollback"
        step_id, state = stuck[-1]
        ended = "failed" if state is StepState.FAILED else "was left in doubt"
        return f"{step_id} {ended}, and the operator chose the way back (runbook rollback)"

    def _turned_back(self, step: Step[F], *, done_earlier: bool = False) -> str:
        """Why the way back begins after `step`, as --rollback-after asks: a
        drill's practice where this run began as one (or resumes one). Where
        it resumes a run that was no drill, the operator chose to go back: from
        the step that failed there (operator trial 53: read "practised"), or
        from where it stopped or was cut off (review: `runbook run` takes
        --rollback-after too, and a real way back was written up as a drill)."""
        earlier = self.resume
        if earlier is None or earlier.rollback_after is not None:
            done = " done in the earlier run," if done_earlier else ""
            return f"--rollback-after {step.id}:{done} practised from there"
        failed = next(
            (s for s in earlier.step_ids if earlier.state(s) is StepState.FAILED), None)
        if failed is not None:
            return (f"{failed} failed in the earlier run; resumed with --rollback-after "
                    f"{step.id}, the way back to the old stream manager from there")
        done = f" ({step.id} done in the earlier run)" if done_earlier else ""
        return (f"the earlier run, an upgrade, ended before it finished; resumed with "
                f"--rollback-after {step.id}{done}, the way back to the old stream manager "
                "from there")

    def _way_back_open(self, step: Step[F]) -> bool:
        """Whether the way back can be taken at `step`: any forward step once a
        cutover is under way. A resumed run looks at prepare's steps again, and
        one failing then (the new database gone) is when the way back is needed
        most (operator trial). The one rule: the front ends offer it by what
        the step's report says (StepReport.way_back_open)."""
        return self._way_back_closed(step) is None

    def _way_back_closed(self, step: Step[F]) -> str | None:
        """Why the way back cannot be taken at `step`, in the operator's
        words; None when it can."""
        from runbook.standing import ONLY_UNDER_WAY, took_over

        if step.phase is Phase.ROLLBACK:
            return "this is the way back already"
        if self.cutover_began is None and self._taken_from is not None:
            return ("nothing to go back from in this run, which began no cutover: "
                    f"{took_over(self._taken_from)}")
        if self.cutover_began is None:
            return ("nothing to go back from: the cutover has not begun, and the live stream "
                    "manager serves as before")
        if self.cutover_completed:
            return ("nothing to go back from: the cutover is complete, and the new stream "
                    f"manager serves; {ONLY_UNDER_WAY}")
        if not self.rollback:
            return "this run has no way back to take"
        return None

    def _drill_step_passed(self) -> Step[F] | None:
        """The --rollback-after step, when the resumed run had done it: the
        drill turns back at once. Going through the steps first asked for
        every look again (preflight), with the stream manager down, before
        the way back it was resumed for (left since stop 37)."""
        step = next((s for s in self.steps if s.id == self.rollback_after), None)
        earlier = self._earlier(step) if step is not None else None
        if step is None or earlier is None or earlier.state is not StepState.DONE:
            return None
        return step if self.rollback and not self._way_back_began() else None

    def _way_back_began(self) -> bool:
        """The resumed run had taken the way back: the host is part way back to
        the old stream manager, so the run goes on back. Going forward from
        there would redo what the operator chose to undo, on a half-restored host."""
        if self.resume is None or self.cutover_began is None:
            return False
        # Killed after `r`, before the way back's first check was recorded
        # (it can wait minutes on a reconnect), the run went forward (review).
        return self.resume.way_back_chosen(s.id for s in self.rollback)

    async def _roll_back(self, why: str) -> Outcome:
        """The way back's steps; `why` goes into the journal, for the report."""
        self.going_back = True
        # Its steps, for the report to list those a stop leaves to come (trial 53).
        steps = [step.id for step in self.rollback]
        self._tell(WayBackStarted(tuple(steps)), Record.WAY_BACK, why=why, steps=steps)
        outcome = await self._steps(self.rollback)
        if outcome is not Outcome.DONE:
            return outcome
        return Outcome.ROLLED_BACK

    def _close_host_record(self, how: str, last: Step[F]) -> None:
        """The host's record of the cutover ends with it. Written here, after
        the host was changed, a record that cannot be (a full disk, a file in
        the way) is said, not raised: it ended the run before the journal's
        last records, as exit 2, "nothing on the host changed" (code review).
        The next run closes it from this journal (refuse_a_second_cutover)."""
        try:
            self.host_state.end_cutover(how)
        except HostStateError as exc:
            self.info(last, f"the stream manager is {how}, but this machine's record of the "
                      f"cutover could not be closed: {exc}. Until it is, the next run against "
                      "this host takes the cutover as still under way; once the folder can be "
                      "written, that run closes it from this journal")

    def _finish(self, outcome: Outcome) -> None:
        if self.cutover_began is not None:
            # Downtime ends only when the last cutover step is done (or the way
            # back is); a run that stops earlier leaves the stream manager down,
            # as does a way back stopped part way, even after the last cutover
            # step (operator trial: --rollback-after recreate, then a stop,
            # recorded "upgraded" with nothing running).
            last = [s for s in self.steps if s.phase is Phase.CUTOVER][-1:]
            complete = outcome is Outcome.ROLLED_BACK or (
                not self.going_back and bool(last)
                and self.reports[last[0].id].state.finished)
            self._cutover_whole = complete or self.cutover_completed
            # A cutover that completed on record is not ended again: counted
            # from its start to this run's end, a second end told a downtime
            # of however long the run was left cut off (the report and the
            # replay read the first complete end, older journals' too).
            if not self._ended_on_record:
                downtime = round(time.time() - self.cutover_began, 1)
                self._tell(CutoverEnded(complete, downtime), Record.CUTOVER_END,
                           complete=complete, downtime_s=downtime)
            # The host's record closes after the journal says the cutover
            # ended. Killed between the two, the next run closes it from the
            # journal (refuse_a_second_cutover); in the other order a resumed
            # run read no end, said the new stream manager was down and
            # offered the way back over it (review 57a, F1).
            if outcome is Outcome.ROLLED_BACK:
                self._close_host_record("rolled back", self.rollback[-1])
            elif complete:
                self._close_host_record("upgraded", last[0])
        # (Operator trial: a run a SIGTERM stopped was journalled, and reported,
        # as exit 3, where the shell saw 143.)
        exit_code = outcome.exit_code if self.ended_by is None else self.ended_by
        left, not_undone, nothing = self._after_the_way_back(outcome)
        self._tell(RunEnded(outcome.value, exit_code, before_another_attempt=left,
                            not_undone=not_undone, nothing_to_undo=nothing),
                   Record.RUN_END, outcome=outcome.value, exit_code=exit_code)

    def _after_the_way_back(self, outcome: Outcome
                            ) -> tuple[dict[str, Leaves], tuple[str, ...], tuple[str, ...]]:
        """What a way back leaves to see to before the next attempt, the steps
        it could not touch at all and those it found nothing of to undo, from
        the journal as the exit lines and the report read them: every run of
        it, for a way back that went on from an earlier run's recreate."""
        from runbook.journal import JournalError
        from runbook.journal_replay import replay

        if outcome is not Outcome.ROLLED_BACK:
            return {}, (), ()
        try:
            history = replay(self.journal.path)
        except (JournalError, OSError):
            return {}, (), ()  # the exit lines and the report say what they can read
        return (history.left_by_the_way_back(), tuple(history.not_undone_by_the_way_back()),
                tuple(history.nothing_to_undo_by_the_way_back()))

    async def _settle_the_upgrade(self, step: Step[F]) -> None:
        """What the upgrade's steps left running on the host (a drop does not
        stop a `systemctl start`), waited for before the way back looks: it
        found nothing running, and the start went on to bring the new release
        up behind it (review)."""
        ours = {s.id for s in self.rollback}
        for forward, jobs in list(self._left_running.items()):
            if forward not in ours:
                await self._settle_earlier_attempt(step, jobs, of=f"the {forward} attempt")
                self._left_running.pop(forward, None)

    async def _settle_earlier_attempt(self, step: Step[F], jobs: list[str], *,
                                      of: str = "the earlier attempt") -> None:
        """A command of the earlier attempt (`of`) may still run on the host (a
        drop does not stop it). Starting the step again beside it would run it
        twice at once: wait until it ends (its own time limit bounds that),
        and stop it if it outlives that."""
        for job in jobs:
            found = await self.remote.job_status(job)
            if found is None:
                continue
            self.info(step, f"{of}'s command still runs on the host (pids "
                      f"{', '.join(map(str, found.pids))}); waiting for it to end, at most "
                      f"{found.left:.0f}s")
            deadline = time.monotonic() + found.left
            while found is not None and time.monotonic() < deadline:
                left = deadline - time.monotonic()
                self.front.tell(Progress(step.id, found.most - left, found.most,
                                         f"waiting for {of}: {left:.0f}s left",
                                         of_limit=True))
                await asyncio.sleep(min(1.0, max(0.1, left)))
                found = await self.remote.job_status(job)
            if found is not None:
                self.info(step, "it outlived its time limit: stopping it")
                if not await self.remote.stop_job(job):
                    raise StepFailed(f"{of} (session {found.session}) still "
                                     "runs on the host and could not be stopped; stop it by "
                                     "hand before running the step again")
            self.info(step, f"{of} has ended")

    async def _look(self, step: Step[F], ctx: RunContext[F]) -> Check:
        """The step's check; a check cut off by a lost connection changed
        nothing, so it looks again once the connection is back."""
        return await looked_at_again(lambda: step.check(ctx),
                                     lambda line: self.info(step, line))

    async def _find_out(self, step: Step[F], ctx: RunContext[F],
                        lost: Exception) -> tuple[StepState, str]:
        """After an action whose end was never heard: re-open the connection,
        let what still runs of it end, and ask the step's own check whether
        its outcome is in place. Nothing is run again here: a step that only
        looks comes back PENDING (to run again), any other IN_DOUBT (the
        operator decides) unless its check and verify prove it done."""
        said = str(lost).rstrip(".")
        if self.remote.gave_up and isinstance(lost, OutcomeUnknown):
            # It has just waited out the reconnect limit: a second wait as long,
            # with the stream manager perhaps down, would learn nothing new
            # (trial: 4m29s against the 120s it names). Retry settles first.
            return StepState.IN_DOUBT, (f"{said}. What it did is not known: check on the "
                                        "host, or retry, which waits for what the first "
                                        "attempt left running and looks before it runs "
                                        "anything")
        # A command the host's own timeout ended lost no connection, and would
        # only outlive its limit again if run again (review).
        link_lost = cut_off(lost)
        self.info(step, f"{said}; " + ("reconnecting to find out what it did" if link_lost
                                       else "looking at the host to find out what it did"))
        try:
            await self.remote.connect()
            await self._settle_earlier_attempt(step, ctx.jobs_in_doubt)
            found = await step.check(ctx)
            proof = await step.verify(ctx) if found.done else found
        except JournalWriteError:
            raise
        except Exception as exc:  # could not look: the outcome stays unknown
            return StepState.IN_DOUBT, (f"{said}, and finding out what it did failed too: "
                                        f"{_reason(exc)}. Check before running it again.")
        if link_lost:
            self.info(step, "reconnected")
        if proof.done:
            after = "the connection was lost" if link_lost else "its command ran out of time"
            return StepState.DONE, f"{proof.detail} (found in place after {after})"
        if step.read_only and not link_lost:
            return StepState.FAILED, (f"{said}. The step only looks at the host, so nothing "
                                      "changed: try it again once the host answers in time, "
                                      "or give it longer ([timeouts] in the config)")
        if step.read_only:
            self.info(step, "it only looks at the host: running it again")
            return StepState.PENDING, ""
        if found.under_way:
            # Offered the way back from a healthy upgrade (operator trial: a
            # drop as the service started; it answered ten seconds later).
            self.info(step, f"it is under way on the host ({found.detail}): running the "
                            "step again waits for it, and does nothing twice")
            return StepState.PENDING, ""
        looked = "Reconnected" if link_lost else "Looked again"
        return StepState.IN_DOUBT, (f"{said}. {looked}: the check does not find the outcome "
                                    f"in place ({found.detail or 'not done'}); retry runs the "
                                    "step again from its check")

    def _failure(self, step: Step[F], exc: BaseException) -> str:
        """Why the step failed; a cutover step's failure before the cutover
        began also says that nothing changed, and the way on (operator trial:
        the API's error alone, beside "serves as before")."""
        said = _reason(exc)
        if isinstance(exc, RemoteError) and not isinstance(exc, OutcomeUnknown) \
                and exc.unsent is not None:
            # Trial 59 F7: mid-cutover, whether the command ran is what the
            # operator must know (a rename done or not), and the screen had
            # shown it as if sent.
            # After a known_hosts line to add, on a line of its own: nothing
            # is put after it on that line.
            then = "\n" if _known_hosts_line(exc) is not None else ". "
            said = said.rstrip(".").removesuffix(NOTHING_RAN)
            said = (f"{said}{then}Its command was never sent to the host: it did "
                    "not run, and changed nothing there")
        # A claim's own words say what was sent and the way on (review 60c,
        # F13: said twice); and where another run took the host, what serves
        # is not this run's to say.
        if step.phase is Phase.CUTOVER and self.cutover_began is None \
                and not isinstance(exc, _Unclaimed):
            again = "" if isinstance(exc, NotInThisRun) else \
                ": try the step again once this is fixed, or stop"
            said = (f"{said.rstrip('.')}; nothing was changed yet (the cutover has not begun, "
                    f"and the live stream manager is as it was){again}")
        return said

    def _prepare_unfinished(self) -> list[str]:
        return [s.id for s in self.steps
                if s.phase is Phase.PREPARE and not self.reports[s.id].state.finished]

    async def _say_what_skipped_steps_left(self) -> str | None:
        """Before this session's first cutover step (once), each prepare step
        skipped is looked at again, and what its check does not find in place is a
        warning of that step, which the cutover steps' questions repeat: the
        operator's word stands, but on what the host shows (operator trial:
        properties skipped as done by hand, though it was not, and
        start-service waited out two limits in the downtime).

        Where the check says the cutover cannot work without it
        (Check.cutover_needs), the cutover does not begin: the refusal is
        returned, for the first cutover step to fail with, nothing changed
        (trial 53: a warning line went by, and a piped id began a cutover
        that start-service could only fail). Looked at again on a retry, so
        what was done by hand meanwhile lets it begin."""
        refusals: list[str] = []
        blocking: list[str] = []
        for skipped in self.steps:
            if skipped.phase is not Phase.PREPARE or skipped.id in self._kept_skipped or \
                    self.reports[skipped.id].state is not StepState.SKIPPED:
                continue
            found = await self._look_at_skipped(skipped)
            if not found.done and found.cutover_needs and self.cutover_began is None:
                reason = self.skipped.get(skipped.id)
                why = f" ({reason})" if reason else ""
                blocking.append(skipped.id)
                refusals.append(
                    f"{skipped.id} was skipped{why}, and its check does not find its outcome "
                    f"in place: {found.detail or 'not done'}. Begun so, "
                    f"{found.cutover_needs}")
                continue
            if not found.done:
                self.info(skipped, f"warning: {skipped.id} was skipped, and its check does "
                          f"not find its outcome in place: {found.detail or 'not done'}. The "
                          "cutover goes ahead on your word; to run it first, stop at the "
                          f"cutover's question ({self._offered_again(skipped.id)})",
                          warning=True)
        if not refusals:
            self._skips_looked_at = True
            return None
        first = " and ".join(blocking)
        if self.settings.rehearsal_throwaway:
            # Its host goes as it ends: nothing for --resume to go on with.
            run_it = (f"this rehearsal's host goes when it ends, so stop here (q), then "
                      f"rehearse again and let {first} run")
        else:
            run_it = f"stop here (q) and go on with --resume, which offers {first} again"
        return ("the cutover cannot begin: " + " ".join(refusals) + ". Nothing was changed: "
                f"the old stream manager still serves. Run the step first: {run_it}; or, "
                "once you have done by hand what it does, try again (t): its check looks "
                "again first")

    def _offered_again(self, step_id: str) -> str:
        """Where a skipped step is offered again: a resumed run, or, for a
        throwaway rehearsal (its host gone as it ends), a new one."""
        if self.settings.rehearsal_throwaway:
            return f"a new rehearsal offers {step_id} again"
        return f"a resumed run offers {step_id} again"

    async def _look_at_skipped(self, step: Step[F]) -> Check:
        """What a skipped step's check finds on the host; a check that fails
        is said as what it found."""
        try:
            return await self._look(step, RunContext(self, step))
        except JournalWriteError:
            raise
        except Exception as exc:  # what its check says is said, whatever it is
            return Check(False, f"its check says: {self._failure(step, exc)}")

    async def _keep_skipped(self, step: Step[F], reason: str) -> Outcome:
        """A prepare step skipped before the cutover began, met again by a
        run resumed after it began: settled, and not asked about again. The
        cutover went ahead on that skip; a prepare step run now would run in
        the downtime, on a host half changed (operator trial: each resume
        mid-cutover asked again about every prepare step skipped the night
        before). Said once, with what its check finds, as the look before a
        cutover says it (which then passes over it)."""
        self._kept_skipped.add(step.id)
        found = await self._look_at_skipped(step)
        why = f" ({reason})" if reason else ""
        said = (f"skipped before the cutover began{why}; the cutover is under way, so it is "
                "not offered again")
        if not found.done:
            said = (f"warning: {step.id} was {said}, and its check does not find its outcome "
                    f"in place: {found.detail or 'not done'}. If the cutover needs it, do by "
                    "hand what it does, or take the way back at the next question")
        self.info(step, said, warning=not found.done)
        self.skipped[step.id] = reason
        self._set(step, StepState.SKIPPED, f"skipped in the earlier run: {reason}"
                  if reason else "skipped in the earlier run", reason=reason)
        return Outcome.DONE

    def _earlier(self, step: Step[F]) -> StepHistory | None:
        return self.resume.steps.get(step.id) if self.resume is not None else None

    def begin_cutover(self, step: Step[F], *, at: str | None = None) -> None:
        """The first change a cutover step makes begins the cutover, and its
        downtime: a step that fails before it (the API refusing the listing
        before any DELETE) changed nothing, and the live stream manager serves
        as before (operator trial: it was said to be down, with the way back
        offered). On the host's record first, before the change is sent: from
        here on every run rebuilds from the snapshot taken before this moment."""
        if step.phase is Phase.PREPARE or self.cutover_began is not None:
            return
        # The journal's size the record keeps is one on disk: a power cut
        # before the cutover's start reaches it reads as cut off, not as an
        # older copy put back (review 60c, F9).
        self.journal.sync()
        began = self.host_state.begin_cutover(self.journal.path, self.facts.snapshot_in_use(),
                                              at=at)
        self.cutover_began = datetime.fromisoformat(began.began).timestamp()
        self._cutover_at = began.began
        self._tell(CutoverStarted(step.id, self.cutover_began), Record.CUTOVER_START,
                   step=step.id, began=began.began)
        report = self.reports[step.id]
        if report.state is StepState.RUNNING and report.way_back_open != (
                opened := self._way_back_open(step)):
            # Asked before the cutover began, its report said no way back;
            # the question it comes back to (stopped, failed) offers it from
            # now, and a front end reads that off the running step's report
            # (the TUI's stop dialog), not from its own reading of the events.
            report.way_back_open = opened
            self.front.tell(StepChanged(dataclasses.replace(report)))

    def info(self, step: Step[F], text: str, *, warning: bool = False) -> None:
        """What the runbook says of a step, journalled as the step's own info
        lines are: `runbook log` shows what the screen did (operator trial).
        `warning`: one the front ends mark and the report lists; journalled
        either way, as a record without it is an older runbook's
        (journal_replay.said_as_warning)."""
        said = self.redactor(text)
        self.journal.write(Record.OUTPUT, step=step.id, lines=[["info", said]], warning=warning)
        self.front.tell(Output(step.id, "info", said, warning))

    async def _one(self, step: Step[F], *, again: bool = False) -> Outcome:
        """One attempt at a step: trusted from the journal, or looked at, then
        asked, then run, skipped, or left for the way back. `again`: tried
        again in this run, so what the earlier run said of it is past."""
        report = self.reports[step.id]
        self._new_attempt(report)
        earlier = None if again else self._earlier(step)
        if (trusted := self._done_earlier(step, earlier)) is not None:
            return trusted
        skipped_before = earlier.skip_reason if earlier is not None and \
            earlier.state is StepState.SKIPPED else None
        if skipped_before is not None and step.phase is Phase.PREPARE \
                and self.cutover_began is not None:
            return await self._keep_skipped(step, skipped_before)
        if (refused := await self._cutover_refused(step)) is not None:
            return refused
        ctx = RunContext(self, step)
        if not await self._settled(step):
            return Outcome.FAILED
        # After any wait for an earlier attempt: that wait may be long.
        early = self._look_early(step)
        try:
            return await self._look_ask_and_run(step, ctx, report, earlier, skipped_before,
                                                early)
        finally:
            # Where the step did not start (found done, skipped, its check
            # failed, the run stopped), its answer is wanted no more: let it
            # end (cut off, its command is told to stop and its shell closed),
            # but not wait out an unreachable host's limit.
            if early is not None:
                await asyncio.wait([early.task], timeout=_EARLY_LOOK_STANDS_S)
                early.task.cancel()
                await asyncio.wait([early.task])

    async def _look_ask_and_run(self, step: Step[F], ctx: RunContext[F], report: StepReport,
                                earlier: StepHistory | None, skipped_before: str | None,
                                early: _EarlyLook | None) -> Outcome:
        """The step's check, its question, and what the answer asks for."""
        already = await self._looked_at(step, ctx)
        if already is None:
            return Outcome.FAILED
        self.journal.write(Record.CHECK, step=step.id, done=already.done,
                           detail=self.redactor(already.detail))
        if already.done:
            report.found_done = True
            self._set(step, StepState.DONE, f"{ALREADY_DONE}{already.detail}", already=True)
            return Outcome.DONE
        self._say_why_it_is_asked_again(step, earlier, already, skipped_before)
        decision = await self._ask(step, report, already, skipped_before)
        if decision.answer is Answer.STOP:
            return Outcome.STOPPED
        if decision.answer is Answer.ROLLBACK:
            self._way_back_instead(step, earlier)
        if decision.answer is Answer.SKIP:
            return self._skip(step, decision, already)
        self.skipped.pop(step.id, None)
        return await self._run(step, ctx, early)

    @staticmethod
    def _new_attempt(report: StepReport) -> None:
        """A new attempt: how the last one ended (stopped) is past, even when
        this one fails at its check (review: it still read "was stopped")."""
        report.stopped = False
        report.found_done = report.done_earlier = False
        report.retry_helps = True
        report.known_hosts_line = None
        # Nor its running time: found done, or skipped, this attempt ran nothing
        # (operator trial: the report added the last attempt's time again).
        report.elapsed_s = None

    def _done_earlier(self, step: Step[F], earlier: StepHistory | None) -> Outcome | None:
        """Done in the earlier run, and not one that looks again: trusted from
        the journal. After cutover the same check can be looking at a
        different stream manager (the new one answers on the same address),
        and "not in place" would invite deleting what was rebuilt. Only steps
        that were in doubt, failed or never ran are checked again."""
        looks_again = step.read_only or step.recheck_when_resumed or (
            step.recheck_until_cutover and self.cutover_began is None)
        if earlier is None or earlier.state is not StepState.DONE or looks_again:
            return None
        # Said once, however many runs back (operator trial: each resume
        # wrapped the words of the one before).
        said = earlier.detail.removeprefix(EARLIER_DONE).removeprefix(ALREADY_DONE)
        self.reports[step.id].done_earlier = True
        self._set(step, StepState.DONE, f"{EARLIER_DONE}{said}", already=True)
        return Outcome.DONE

    async def _cutover_refused(self, step: Step[F]) -> Outcome | None:
        """A cutover step that may not begin: a prepare step not done nor
        skipped with a reason, or a skipped one the cutover needs. The way
        back needs no prepare step: it undoes a cutover, whatever a resumed
        run has not looked at again."""
        if step.phase is not Phase.CUTOVER:
            return None
        unfinished = self._prepare_unfinished()
        if unfinished:
            self._set(step, StepState.FAILED,
                      "cutover cannot begin: these prepare steps are not done or skipped "
                      f"with a reason: {', '.join(unfinished)}")
            return Outcome.FAILED
        # Each session, mid-cutover too (re-trial: resumed after
        # promote-new, carry-over skipped again went unsaid, and
        # start-service failed on the missing licence in the downtime).
        if not self._skips_looked_at:
            refused = await self._say_what_skipped_steps_left()
            if refused is not None:
                self._set(step, StepState.FAILED, refused)
                return Outcome.FAILED
        return None

    async def _settled(self, step: Step[F]) -> bool:
        """What an earlier attempt left running, waited for; False, with the
        step failed, where that fails: nothing may run beside it."""
        # What an earlier attempt left running on the host: a resumed run's, in
        # the journal; this run's, from the attempt left in doubt (review: once
        # the reconnect had given up, a retry ran the unzip beside the first).
        left = list(self._left_running.get(step.id, []))
        try:
            if left:
                await self._settle_earlier_attempt(step, left)
            # Forgotten only once settled: a retry while the host is still
            # away fails here, and the one after it must wait all the same.
            self._left_running.pop(step.id, None)
            if self.rollback and step is self.rollback[0]:
                await self._settle_the_upgrade(step)
            return True
        except JournalWriteError:
            raise  # nothing more may happen unrecorded
        except Exception as exc:  # any failure to look is a reason not to act
            self._could_not_look(step, exc)
            return False

    async def _looked_at(self, step: Step[F], ctx: RunContext[F]) -> Check | None:
        """The step's check; None, with the step failed, where it fails: any
        failure to look is a reason not to act."""
        try:
            return await self._look(step, ctx)
        except JournalWriteError:
            raise  # nothing more may happen unrecorded
        except Exception as exc:
            self._could_not_look(step, exc)
            return None

    def _could_not_look(self, step: Step[F], exc: Exception) -> None:
        report = self.reports[step.id]
        report.retry_helps = not isinstance(exc, NotInThisRun)
        report.known_hosts_line = _known_hosts_line(exc)
        self._set(step, StepState.FAILED, self._failure(step, exc))

    def _say_why_it_is_asked_again(self, step: Step[F], earlier: StepHistory | None,
                                   already: Check, skipped_before: str | None) -> None:
        """Before the question: why a step the earlier run left in doubt, or
        skipped, is asked again."""
        report = self.reports[step.id]
        if earlier is not None and earlier.state is StepState.IN_DOUBT:
            started = "; ".join(earlier.in_flight) or "the step"
            # Its stop may not have reached the host (_left_running_on_host).
            unreached = self.resume is not None and any(
                note.get("kind") == LEFT_RUNNING and note.get("step") == step.id
                for note in self.resume.notes)
            told = "the host could not be reached to stop its command" if unreached else \
                "a command was told to stop"
            how = (f"in the earlier run the operator aborted it while it ran {started} ({told}; "
                   "a request already sent stands)" if earlier.aborted else
                   f"the earlier run started {started} and never heard how it ended")
            # What the check found, said: it is what decides between a wait, a
            # retry and the way back (TUI trial: only "not in place").
            found = f" ({already.detail})" if already.detail else ""
            self.info(step, f"in doubt: {how}; the check does not find the outcome in "
                      f"place{found}, so it can run again")
        if skipped_before is not None:
            # A skip is a decision, not a fact about the host: a resumed run
            # offers the step again, and skipping keeps the earlier reason.
            report.detail = self.redactor(f"skipped in the earlier run: {skipped_before}")
            self.info(step, report.detail + (
                "; run it now, or skip it again" if step.skippable else
                "; a cutover step cannot stay skipped while its outcome is not in place"
                if step.phase is Phase.CUTOVER else
                "; it cannot be skipped now, as later steps rely on what it does"))

    def _way_back_instead(self, step: Step[F], earlier: StepHistory | None) -> NoReturn:
        """The operator chose the way back at this step's question: said of
        the step as it stands, run before or not."""
        # Re-trial: "was not run" of a step an earlier session had run
        # (and left failed), where the Steps table said otherwise.
        # Second review: after a retry in this session, too; re-trial: and
        # after an attempt that failed at its first look.
        tried = step.id in self._ran or (earlier is not None and (
            earlier.acted or earlier.state in (StepState.FAILED, StepState.IN_DOUBT)))
        # Done in the earlier run, and asked again as it looks again (trial
        # 54: "tried before" of a preflight that was done read as failed).
        done = step.id not in self._ran and earlier is not None \
            and earlier.state is StepState.DONE
        last = self._ended.get(step.id, earlier.state if earlier is not None else None)
        # Trial 58 (L4): say how a tried step ended, where it failed or was in doubt.
        how = "it had failed" if last is StepState.FAILED else \
            "it was left in doubt" if last is StepState.IN_DOUBT else "it had been tried before"
        self.info(step, ("not run again (it was done in the earlier run)" if done else
                         f"not tried again ({how})" if tried else
                         "not run") + ": the operator chose the way back to the old "
                  "stream manager instead")
        raise _WayBackChosen(step.id, "which was done in the earlier run, and was not run "
                             "again" if done else f"which {how[3:]}, and was "
                             "not tried again" if tried else "which was not run")

    def _skip(self, step: Step[F], decision: Decision, already: Check) -> Outcome:
        """The operator skipped the step, with their reason."""
        self.skipped[step.id] = decision.reason
        if already.cutover_needs and self.cutover_began is None:
            # Said now, in prepare, not first at the cutover's door.
            self.info(step, "the cutover will not begin while this step's check does not "
                      f"find its outcome in place (begun so, {already.cutover_needs}): do "
                      f"by hand what it does before then, or run it "
                      f"({self.settings.offers_again} offers it again)")
        self._set(step, StepState.SKIPPED, decision.reason or "skipped by the operator",
                  reason=decision.reason)
        return Outcome.DONE

    async def _ask(self, step: Step[F], report: StepReport, already: Check,
                   skipped_before: str | None) -> Decision:
        """Confirm until the answer is one the step allows; a skip's reason is
        masked, and an empty one keeps the reason of the skip it repeats."""
        report.destructive_now = step.destructive_now(self.plan_context())
        report.cutover_needs = already.cutover_needs if self.cutover_began is None else ""
        report.way_back_open = self._way_back_open(step)
        while True:
            decision = await self.front.confirm(dataclasses.replace(report), self.plan_of(step))
            reason = self.redactor(decision.reason)
            if decision.answer is Answer.SKIP and not reason and skipped_before:
                reason = skipped_before
            self.journal.write(Record.CONFIRM, step=step.id, answer=decision.answer.value,
                               reason=reason)
            closed = self._way_back_closed(step)
            if decision.answer is Answer.ROLLBACK and closed is not None:
                self.info(step, f"{closed}. Run the step, or stop.")
                continue
            if decision.answer is not Answer.SKIP or step.skippable:
                return Decision(decision.answer, reason)
            if step.phase is not Phase.PREPARE:
                why = (f"{step.id} cannot be skipped: its check does not find the outcome in "
                       f"place ({already.detail or 'not done yet'}), and the stream manager is "
                       "down until cutover ends. Run it, or stop.")
            else:
                why = (f"{step.id} cannot be skipped: every later step relies on what it "
                       "finds. Run it, or stop.")
            self.info(step, why)

    async def _run(self, step: Step[F], ctx: RunContext[F],
                   early: _EarlyLook | None = None) -> Outcome:
        report = self.reports[step.id]
        # Before the step starts: nothing of it is on record where the host
        # is another run's now.
        await self._still_ours(step, early)
        self._ran.add(step.id)
        self.journal.write(Record.STEP_START, step=step.id)
        started = time.monotonic()
        report.elapsed_s = None
        self._set(step, StepState.RUNNING)
        task = asyncio.current_task()
        assert task is not None, "a step runs in a task"
        self._stoppable = (step.id, task)
        try:
            for attempt in itertools.count(1):
                self._claim_missed.discard(step.id)
                state, detail = StepState.DONE, ""
                try:
                    await step.run(ctx)
                    proof: Check = await step.verify(ctx)
                    detail = proof.detail
                    if not proof.done:
                        state = StepState.FAILED
                        detail = f"the step ran but its outcome is not in place: {proof.detail}"
                except (JournalWriteError, host_claim.ClaimRefused):
                    # Nothing more may happen unrecorded; nor beside another
                    # run, nor where no claim can be made (sudo refused).
                    raise
                except ReviewLeftOpen as paused:
                    # The operator's pause: its question follows, as a step
                    # stopped with x, and its stop ends the run as theirs.
                    state, detail = StepState.NEEDS_REVIEW, str(paused)
                    report.stopped = True
                except Exception as exc:  # the API client and anything unforeseen end the step
                    if not outcome_unknown(exc):
                        state, detail = StepState.FAILED, self._failure(step, exc)
                        report.retry_helps = not isinstance(exc, NotInThisRun)
                        report.known_hosts_line = _known_hosts_line(exc)
                    else:
                        state, detail = await self._find_out(step, ctx, exc)
                        if state is StepState.PENDING and attempt < READ_ONLY_RERUNS:
                            ctx = RunContext(self, step)
                            continue  # it only looks: looking again is safe
                        if state is StepState.PENDING:
                            # Cut off every time: say by what (bad-input trial).
                            state, detail = StepState.IN_DOUBT, (
                                f"{_reason(exc).rstrip('.')}; cut off like this on each of its "
                                f"{attempt} tries, it never ended. Try it again once the "
                                "host's connection holds")
                break
        except asyncio.CancelledError:
            # Ours alone is taken back; the run's own (the app quitting, even
            # just after the stop was asked) still ends the run.
            if self._stop_asked != step.id or task.uncancel() > 0:
                raise
            # went_on: the run goes on to the step's question (a quit's abort
            # ends the run).
            self.journal.write(Record.ABORTED, steps=[step.id], went_on=True)
            report.stopped = True
            told = ("runbook could not reach the host to stop what it had running there, "
                    "which runs on until its time limit (its output says when)"
                    if step.id in self._unstopped else
                    "anything it had running on the host was told to stop")
            self._unstopped.discard(step.id)
            state, detail = StepState.IN_DOUBT, (
                f"stopped by the operator while it ran: {told}, and a request it had already "
                "sent stands (its output says which were sent). Whether its work is whole is "
                "not known: try again, which looks at the host before it runs anything")
        else:
            if self._stop_asked == step.id:
                # The stop came as the step ended, and an await that had its
                # result already (asyncio.wait_for) took it back: square the
                # task's count, or the next stop would end the whole run.
                task.uncancel()
                self.info(step, "it ended before the stop reached it")
        finally:
            self._stoppable, self._stop_asked = None, None
        report.elapsed_s = round(time.monotonic() - started, 1)
        if state is StepState.IN_DOUBT:
            self._left_running[step.id] = list(ctx.jobs_in_doubt)
        self._set(step, state, detail)
        return Outcome.DONE if state is StepState.DONE else Outcome.FAILED
