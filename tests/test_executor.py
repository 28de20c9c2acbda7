"""The executor's contract, with small steps that need no host.

The steps here are real Step implementations that only talk to the operator;
the host-facing paths are covered against the rehearsal host elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest

from runbook import config
from runbook.events import CutoverStarted, RunEnded, StepChanged
from runbook.executor import Answer, Decision, Executor, Outcome, Recovery
from runbook.facts import Facts
from runbook.hoststate import HostState, HostStateError, down_since
from runbook.journal import Journal, JournalWriteError, Record, read
from runbook.journal_replay import replay
from runbook.model import Action, Check, EditFile, Leaves, Note, Phase, Shell, StepState
from runbook.redact import Redactor
from runbook.remote import OutcomeUnknown
from runbook.step import PlanContext, Step, StepContext, StepFailed
from tests.polling import DEADLINE_S
from tests.scripted import HostlessRemote, ScriptedFrontEnd

SETTINGS = config.load(Path(__file__).parents[1] / "sample-configs" / "production.example.toml")
SECRET = "s3cr3t-token-value"


# These steps' host, which is none, but for the host's claim.
Remote = HostlessRemote


class Say(Step):
    phase: ClassVar[Phase] = Phase.PREPARE
    summary = "says something"

    def __init__(self, step_id: str, *, phase: Phase = Phase.PREPARE, done: bool = False,
                 fail: str = "", unknown: bool = False, verify_ok: bool = True,
                 changes: bool = False) -> None:
        self.id = step_id  # type: ignore[misc]
        self.title = step_id.title()  # type: ignore[misc]
        self.phase = phase  # type: ignore[misc]
        self.done, self.fail, self.unknown, self.verify_ok = done, fail, unknown, verify_ok
        self.changes = changes  # a change on the host, before any failure
        self.ran = False

    def plan(self, p: PlanContext) -> list[Action]:
        return [Note(f"{self.id} uses {SECRET}")]

    async def check(self, ctx: StepContext) -> Check:
        return Check(self.done, "was done before")

    async def run(self, ctx: StepContext) -> None:
        self.ran = True
        ctx.info(f"{self.id} running with {SECRET}")
        ctx.note("said", f"{self.id} said hello", to=SECRET)  # its data journalled too
        if self.changes:
            await ctx.act(Shell(f"touch /{self.id}", "a change"), _nothing)
        if self.fail:
            raise StepFailed(self.fail)
        if self.unknown:
            raise OutcomeUnknown("the connection dropped mid-way")

    async def verify(self, ctx: StepContext) -> Check:
        return Check(self.verify_ok, "looks right" if self.verify_ok else "nothing there")


def executor_for(tmp_path: Path, steps: list[Step], front: ScriptedFrontEnd, *,
                 resume: bool = False, **options: Any) -> Executor:
    """`steps` to run in tmp_path/run.jsonl; `resume`: continuing the run in it."""
    path = tmp_path / "run.jsonl"
    earlier = replay(path) if resume else None
    return Executor(steps, settings=SETTINGS, facts=Facts(), remote=Remote(SETTINGS.host),
                    api_factory=_no_api, curl=lambda *a, **k: "curl",
                    journal=Journal(path), front=front, redactor=Redactor([SECRET]),
                    host_state=HostState(tmp_path, "sm", 22), resume=earlier, **options)


async def run_steps(tmp_path: Path, steps: list[Step], front: ScriptedFrontEnd, *,
                    resume: bool = False, **options: Any) -> Outcome:
    executor = executor_for(tmp_path, steps, front, resume=resume, **options)
    try:
        return await executor.run()
    finally:
        executor.journal.close()


async def _nothing() -> None:
    return None


async def _no_api(fresh: bool) -> None:
    raise AssertionError("these steps never call the API")


def records(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]


async def test_steps_run_in_order_after_confirmation(tmp_path: Path) -> None:
    steps = [Say("a"), Say("b"), Say("c", phase=Phase.CUTOVER, changes=True)]
    front = ScriptedFrontEnd()
    outcome = await run_steps(tmp_path, steps, front)
    assert outcome is Outcome.DONE and outcome.exit_code == 0
    assert front.asked == ["a", "b", "c"]
    assert all(s.ran for s in steps)
    events = [r["event"] for r in records(tmp_path)]
    assert events[0] == "run-start" and events[-1] == "run-end"
    assert events.index("cutover-start") < events.index("cutover-end")
    assert replay(tmp_path / "run.jsonl").downtime_s is not None


async def test_a_rehearsals_opening_record_says_its_pace_and_a_runs_none(
        tmp_path: Path) -> None:
    """A fast rehearsal's cutover time is no estimate for a real one: the
    journal must say which pace each ran at. A production run's is the real
    pace by definition; a rehearsal that does not know its own records none."""
    for name, settings, recorded in (
            ("run", SETTINGS, {"rehearsal": False}),
            ("fast", replace(SETTINGS, rehearsal=True, rehearsal_pace=0.025),
             {"rehearsal": True, "pace": 0.025}),
            ("unsaid", replace(SETTINGS, rehearsal=True), {"rehearsal": True}),
            # --yes: its cutover holds none of an operator's pauses.
            ("yes", replace(SETTINGS, unattended=True), {"rehearsal": False,
                                                         "unattended": True})):
        journal = Journal(tmp_path / f"{name}.jsonl")
        executor = Executor([Say("a")], settings=settings, facts=Facts(),
                            remote=Remote(settings.host), api_factory=_no_api,
                            curl=lambda *a, **k: "curl", journal=journal,
                            front=ScriptedFrontEnd(), redactor=Redactor([SECRET]),
                            host_state=HostState(tmp_path, name, 22))
        try:
            await executor.run()
        finally:
            journal.close()
        start = next(read(journal.path))
        assert {k: start[k] for k in ("rehearsal", "pace", "unattended")
                if k in start} == recorded, name
        assert replay(journal.path).pace == settings.pace
        assert replay(journal.path).unattended is settings.unattended


async def test_a_step_already_done_is_not_asked_or_run(tmp_path: Path) -> None:
    steps = [Say("a", done=True), Say("b")]
    front = ScriptedFrontEnd()
    await run_steps(tmp_path, steps, front)
    assert front.asked == ["b"]
    assert not steps[0].ran
    assert front.final_state("a") == "done"


async def test_failure_stops_the_run_with_exit_1(tmp_path: Path) -> None:
    steps = [Say("a", fail="disk full on /usr/local"), Say("b")]
    front = ScriptedFrontEnd()
    outcome = await run_steps(tmp_path, steps, front)
    assert outcome is Outcome.FAILED and outcome.exit_code == 1
    assert not steps[1].ran
    assert front.final_state("a") == "failed"
    assert "disk full" in front.text()


async def test_a_result_quoting_the_host_shows_its_control_characters_as_escapes(
        tmp_path: Path) -> None:
    """A step's result often quotes the host (a command's error line): its
    ESC [2J and 8-bit CSI (U+009B) went raw to the headless terminal, the
    TUI's detail pane and the failure's dialog."""
    import re

    front = ScriptedFrontEnd()
    await run_steps(tmp_path, [Say("a", fail="unzip said: \x1b[2J \x9b31m bad\n\tline two")],
                    front)
    detail = front.detail("a")
    assert "unzip said: \\u001b[2J \\u009b31m bad\n\tline two" in detail, detail
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", front.text())


async def test_verify_failing_fails_the_step(tmp_path: Path) -> None:
    front = ScriptedFrontEnd()
    outcome = await run_steps(tmp_path, [Say("a", verify_ok=False)], front)
    assert outcome is Outcome.FAILED
    assert "nothing there" in front.states[-1][2]


async def test_unknown_outcome_leaves_the_step_in_doubt(tmp_path: Path) -> None:
    front = ScriptedFrontEnd()
    outcome = await run_steps(tmp_path, [Say("a", unknown=True)], front)
    assert outcome is Outcome.FAILED
    assert front.final_state("a") == "in-doubt"
    assert replay(tmp_path / "run.jsonl").state("a") is StepState.IN_DOUBT


async def test_skip_records_the_reason_and_stop_exits_3(tmp_path: Path) -> None:
    steps = [Say("a"), Say("b"), Say("c")]
    front = ScriptedFrontEnd({"a": Decision(Answer.SKIP, "done by hand"),
                              "b": Decision(Answer.STOP)})
    outcome = await run_steps(tmp_path, steps, front)
    assert outcome is Outcome.STOPPED and outcome.exit_code == 3
    assert not any(s.ran for s in steps)
    history = replay(tmp_path / "run.jsonl")
    assert history.state("a") is StepState.SKIPPED
    assert history.steps["a"].skip_reason == "done by hand"
    assert history.finished and history.outcome == "stopped"


# Test audit (stop 39): only "never ran" was tried; a prepare step that
# failed, or was left in doubt, must hold the cutover back as well.
@pytest.mark.parametrize("left", [None, StepState.FAILED, StepState.IN_DOUBT])
async def test_cutover_refuses_while_a_prepare_step_is_unfinished(
        tmp_path: Path, left: StepState | None) -> None:
    steps = [Say("a"), Say("cut", phase=Phase.CUTOVER)]
    executor_front = ScriptedFrontEnd()
    journal = Journal(tmp_path / "run.jsonl")
    executor = Executor(steps, settings=SETTINGS, facts=Facts(), remote=Remote(SETTINGS.host),
                        api_factory=_no_api, curl=lambda *a, **k: "curl", journal=journal,
                        front=executor_front, redactor=Redactor(),
                        host_state=HostState(tmp_path, "sm", 22))
    if left is not None:
        executor.reports["a"].state = left
    # Run only the cutover step, as a resume that lost its prepare state would.
    outcome = await executor._one(steps[1])
    journal.close()
    assert outcome is Outcome.FAILED
    assert not steps[1].ran
    assert "prepare steps are not done" in executor_front.states[-1][2]


async def test_secrets_never_reach_the_journal_or_the_front_end(tmp_path: Path) -> None:
    front = ScriptedFrontEnd()
    await run_steps(tmp_path, [Say("a")], front)
    journal_text = (tmp_path / "run.jsonl").read_text()
    assert SECRET not in journal_text
    assert SECRET not in front.text()
    assert all(SECRET not in a.render() for a in front.plans["a"])
    assert "a running with" in front.text()


async def test_cancelling_a_run_journals_it_as_stopped(tmp_path: Path) -> None:
    running = asyncio.Event()

    class Slow(Say):
        async def run(self, ctx: StepContext) -> None:
            running.set()
            await asyncio.Event().wait()  # runs until cancelled

    task = asyncio.create_task(run_steps(tmp_path, [Slow("slow")], ScriptedFrontEnd()))
    # Cancel only once the step is really running (not at a guessed moment).
    reached = asyncio.create_task(running.wait())
    await asyncio.wait({task, reached}, timeout=DEADLINE_S, return_when=asyncio.FIRST_COMPLETED)
    reached.cancel()
    assert not task.done(), f"the run ended before its step ran: {task.result()}"
    assert running.is_set(), "the step never started running"
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    history = replay(tmp_path / "run.jsonl")
    assert history.outcome == "stopped"
    assert history.state("slow") is StepState.IN_DOUBT


async def test_a_stopped_step_ends_in_doubt_and_the_run_goes_on_to_its_question(
        tmp_path: Path) -> None:
    """Left from stop 36: a step that will not end (a wait) could only be
    sat out to its limit or left with the whole app."""
    running = asyncio.Event()

    class Slow(Say):
        async def run(self, ctx: StepContext) -> None:
            running.set()
            await asyncio.Event().wait()  # runs until stopped

    front = ScriptedFrontEnd(recoveries={"slow": [Recovery.STOP]})
    executor = executor_for(tmp_path, [Slow("slow"), Say("after")], front)
    assert not executor.stop_step("slow"), "nothing runs yet"
    run = asyncio.create_task(executor.run())
    await asyncio.wait_for(running.wait(), DEADLINE_S)
    assert not executor.stop_step("after"), "only the step that runs"
    assert executor.stop_step("slow")
    assert executor.stop_step("slow"), "asked again: it is being stopped"
    outcome = await asyncio.wait_for(run, DEADLINE_S)
    executor.journal.close()
    # Operator trial: it ended "failed" (exit 1) where the README gives 3 for
    # a run the operator stopped, a step aborted included.
    assert outcome is Outcome.STOPPED, "stopped by the operator at its question"
    assert front.recovered == [("slow", False)], "its question came, in the same run"
    assert front.final_state("slow") == "in-doubt"
    assert "stopped by the operator" in front.detail("slow")
    assert [r["steps"] for r in records(tmp_path) if r["event"] == "aborted"] == [["slow"]]
    assert replay(tmp_path / "run.jsonl").state("slow") is StepState.IN_DOUBT


async def test_quitting_just_after_a_step_was_stopped_still_ends_the_run(
        tmp_path: Path) -> None:
    """Both cancels reach the run's task at once: taking back the stop's must
    not swallow the quit's, or the run would go on to the question with the
    app gone."""
    running = asyncio.Event()

    class Slow(Say):
        async def run(self, ctx: StepContext) -> None:
            running.set()
            await asyncio.Event().wait()

    front = ScriptedFrontEnd(recoveries={"slow": [Recovery.RETRY]})
    executor = executor_for(tmp_path, [Slow("slow")], front)
    run = asyncio.create_task(executor.run())
    await asyncio.wait_for(running.wait(), DEADLINE_S)
    assert executor.stop_step("slow")
    run.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(run, DEADLINE_S)
    executor.journal.close()
    assert run.cancelled()
    assert front.recovered == [], "no question after the quit"
    assert replay(tmp_path / "run.jsonl").outcome == "stopped"


async def test_a_stop_that_lands_as_the_step_ends_leaves_later_stops_working(
        tmp_path: Path) -> None:
    """Review: asyncio.wait_for (asyncssh's connect uses it) returns its
    result when the awaited future is done as the cancel arrives, swallowing
    the stop. The step then ended as usual, but the task still counted the
    cancel: the next stop ended the whole run, with no question."""
    running = asyncio.Event()
    finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    class Racing(Say):
        async def run(self, ctx: StepContext) -> None:
            running.set()
            await asyncio.wait_for(finished, DEADLINE_S)

    class Slow(Say):
        async def run(self, ctx: StepContext) -> None:
            running.set()
            await asyncio.Event().wait()

    front = ScriptedFrontEnd(recoveries={"b": [Recovery.STOP]})
    executor = executor_for(tmp_path, [Racing("a"), Slow("b")], front)
    run = asyncio.create_task(executor.run())
    await asyncio.wait_for(running.wait(), DEADLINE_S)
    running.clear()

    def at_once() -> None:  # the step's end and the stop, in one turn of the loop
        finished.set_result(None)
        assert executor.stop_step("a")

    asyncio.get_running_loop().call_soon(at_once)
    await asyncio.wait_for(running.wait(), DEADLINE_S)  # b runs: a ended on its own
    assert front.final_state("a") == "done"
    assert executor.stop_step("b")
    outcome = await asyncio.wait_for(run, DEADLINE_S)
    executor.journal.close()
    assert front.recovered == [("b", False)], "b's question came: the run went on"
    assert outcome is Outcome.STOPPED


async def test_a_retry_failing_at_its_check_after_a_stop_is_a_failure(tmp_path: Path) -> None:
    """Review: the stop's mark outlived the attempt it was about: a retry that
    failed at its check was said to have been stopped, and stopping there
    ended the run "stopped" (exit 3) over a failure."""
    running = asyncio.Event()

    class Unreachable(Say):
        looks = 0

        async def check(self, ctx: StepContext) -> Check:
            self.looks += 1
            if self.looks > 1:
                raise StepFailed("the new database cannot be reached")
            return Check(False)

        async def run(self, ctx: StepContext) -> None:
            running.set()
            await asyncio.Event().wait()

    front = ScriptedFrontEnd(recoveries={"slow": [Recovery.RETRY, Recovery.STOP]})
    executor = executor_for(tmp_path, [Unreachable("slow")], front)
    run = asyncio.create_task(executor.run())
    await asyncio.wait_for(running.wait(), DEADLINE_S)
    assert executor.stop_step("slow")
    outcome = await asyncio.wait_for(run, DEADLINE_S)
    executor.journal.close()
    assert front.recovered == [("slow", False), ("slow", False)]
    assert front.final_state("slow") == "failed"
    assert outcome is Outcome.FAILED


async def test_a_check_that_cannot_look_fails_the_step_not_the_run(tmp_path: Path) -> None:
    from runbook.smapi import SMApiError

    class Blind(Say):
        async def check(self, ctx: StepContext) -> Check:
            raise SMApiError("Could not connect to the stream manager at http://sm:5080")

    front = ScriptedFrontEnd()
    outcome = await run_steps(tmp_path, [Blind("blind"), Say("after")], front)
    assert outcome is Outcome.FAILED
    assert front.final_state("blind") == "failed"
    assert front.states[-1][2] == "Could not connect to the stream manager at http://sm:5080"
    assert front.asked == []
    assert replay(tmp_path / "run.jsonl").outcome == "failed"


async def test_a_step_that_cannot_be_skipped_is_asked_again(tmp_path: Path) -> None:
    class Essential(Say):
        can_skip = False

    answers = iter([Decision(Answer.SKIP, "in a hurry"), Decision(Answer.RUN)])
    front = ScriptedFrontEnd()
    front.answers = {}

    async def confirm(step, plan):  # type: ignore[no-untyped-def]
        front.asked.append(step.id)
        return next(answers)

    front.confirm = confirm  # type: ignore[method-assign]
    step = Essential("essential")
    outcome = await run_steps(tmp_path, [step], front)
    assert outcome is Outcome.DONE and step.ran
    assert front.asked == ["essential", "essential"]
    assert "cannot be skipped" in front.text()


async def test_a_journal_that_fails_mid_run_ends_it_as_failed(tmp_path: Path) -> None:
    """The disk fills during a step: the run stops at once as failed, the front
    end hears why, and the journal keeps every record up to the failure."""
    from tests.test_journal import _descriptor_of, _fill_the_disk_under

    class FillsTheDisk(Say):
        async def run(self, ctx: StepContext) -> None:
            await super().run(ctx)
            _fill_the_disk_under(_descriptor_of(tmp_path / "run.jsonl"))

    after = Say("after")
    front = ScriptedFrontEnd()
    with contextlib.suppress(JournalWriteError):
        outcome = await run_steps(tmp_path, [FillsTheDisk("fills"), after], front)
        raise AssertionError(f"the run went on without its journal ({outcome})")
    assert not after.ran
    ended = [event for event in front.events if isinstance(event, RunEnded)]
    assert ended and ended[-1].outcome == "failed"
    assert "No space left on device" in (ended[-1].journal_failure or "")
    records = list(read(tmp_path / "run.jsonl"))
    assert not [r for r in records if r["event"] in ("step-end", "run-end")
                and r.get("step", "fills") == "fills"], "nothing is recorded past the failure"
    assert replay(tmp_path / "run.jsonl").state("fills") is StepState.IN_DOUBT


async def test_a_journal_removed_mid_run_stops_it_before_the_next_action(
        tmp_path: Path) -> None:
    """Operator trial 59, F9: the journal removed during a run, and the run
    went on, through the cutover, writing into the removed file."""
    class RemovesTheJournal(Say):
        async def run(self, ctx: StepContext) -> None:
            await super().run(ctx)
            (tmp_path / "run.jsonl").unlink()

    after = Say("after")
    front = ScriptedFrontEnd()
    with contextlib.suppress(JournalWriteError):
        outcome = await run_steps(tmp_path, [RemovesTheJournal("removes"), after], front)
        raise AssertionError(f"the run went on without its journal ({outcome})")
    assert not after.ran
    ended = [event for event in front.events if isinstance(event, RunEnded)]
    assert ended and ended[-1].outcome == "failed"
    assert "was removed" in (ended[-1].journal_failure or ""), ended
    assert replay(tmp_path / "run.jsonl").state("removes") is StepState.IN_DOUBT


@pytest.mark.parametrize("how", ["removed", "replaced"])
@pytest.mark.parametrize("way_back", [False, True])
async def test_a_journal_removed_just_before_the_cutovers_end_keeps_the_runs_own_end(
        tmp_path: Path, how: str, way_back: bool) -> None:
    """The journal removed (or replaced) after the last step of the cutover
    (or of the way back) was done, before the cutover's end was recorded: the
    run had done its work, yet the records written back ended it failed
    (exit 1, "stopped rather than act unrecorded") and this machine's record
    of the cutover stayed open, so the next run took the stream manager as
    down. The records kept end as the run did, cutover ended, with its own
    exit code, and the host's record closes as when the journal stays."""
    last = "back" if way_back else "cut"
    path = tmp_path / "run.jsonl"

    class TakesTheJournalAway(ScriptedFrontEnd):
        def tell(self, event: Any) -> None:
            super().tell(event)
            if isinstance(event, StepChanged) and event.report.id == last \
                    and event.report.state is StepState.DONE:
                path.unlink()
                if how == "replaced":
                    path.write_text("someone else's\n")

    front = TakesTheJournalAway()
    options: dict[str, Any] = dict(rollback=[Say("back", phase=Phase.ROLLBACK)],
                                   rollback_after="cut") if way_back else {}
    outcome = Outcome.ROLLED_BACK if way_back else Outcome.DONE
    with pytest.raises(JournalWriteError) as raised:
        await run_steps(tmp_path, [Say("a"), Say("cut", phase=Phase.CUTOVER, changes=True)],
                        front, **options)
    said = str(raised.value)
    assert raised.value.exit_code == outcome.exit_code, said
    assert f"was {how if how == 'removed' else 'replaced by another file'} as the run ended" \
        in said and "rather than act unrecorded" not in said, said
    kept = path if how == "removed" else tmp_path / "run-kept.jsonl"
    ends = [r["event"] for r in read(kept) if r["event"] in ("cutover-end", "run-end")]
    assert ends == ["cutover-end", "run-end"], ends
    history = replay(kept)
    assert history.outcome == outcome.value and history.exit_code == outcome.exit_code, \
        history.how_it_ended()
    assert history.downtime_s is not None and not history.journal_lost, history
    state = HostState(tmp_path, "sm", 22)
    assert state.cutover() is None, "the host's record of the cutover stayed open"
    assert state.ended(history.cutover_started or "") == \
        ("rolled back" if way_back else "upgraded")


async def test_a_signal_stops_the_run_when_the_journal_cannot_take_its_record(
        tmp_path: Path) -> None:
    """SIGTERM while a step's command runs and the journal's disk is full: the
    detach record could not be written, its error escaped the signal handler
    before the work was cancelled, and every later signal was ignored as
    "already stopping"; kill no longer stopped runbook (code review, stop 48)."""
    import os
    import signal

    from runbook.stopping import Stopper
    from tests.test_journal import _descriptor_of, _fill_the_disk_under

    cancelled = asyncio.Event()

    class FillsTheDiskThenWaits(Say):
        async def run(self, ctx: StepContext) -> None:
            await super().run(ctx)
            _fill_the_disk_under(_descriptor_of(tmp_path / "run.jsonl"))
            os.kill(os.getpid(), signal.SIGTERM)
            try:
                await asyncio.sleep(DEADLINE_S)  # a command that goes on, on the host
            except asyncio.CancelledError:
                cancelled.set()
                raise

    executor = executor_for(tmp_path, [FillsTheDiskThenWaits("waits")], ScriptedFrontEnd())

    class Watched:  # as Session.detach hands it on
        def detach(self, *, exit_code: int | None = None) -> bool:
            executor.detach(exit_code=exit_code)
            return True

    stopper = Stopper()
    stopper.sessions.append(Watched())  # type: ignore[arg-type]

    async def work() -> int:
        try:
            return (await executor.run()).exit_code
        finally:
            executor.journal.close()

    with contextlib.suppress(JournalWriteError):
        code = await stopper.run(work())
        assert code == 128 + signal.SIGTERM
    assert cancelled.is_set(), "the work went on after SIGTERM"


async def test_a_run_ended_by_an_error_outside_its_steps_is_journalled_as_failed(
        tmp_path: Path) -> None:
    """Anything raised outside a step (a front end's question that breaks)
    was journalled as "stopped", exit 3, the operator's choice, while the
    process failed with exit 1 (code review, stop 48)."""

    class Breaks(ScriptedFrontEnd):
        async def recover(self, step: Any, *, can_roll_back: bool) -> Recovery:
            raise RuntimeError("the question could not be asked")

    with pytest.raises(RuntimeError):
        await run_steps(tmp_path, [Say("fails", fail="no")], Breaks())
    ended = records(tmp_path)[-1]
    assert (ended["event"], ended["outcome"], ended["exit_code"]) == \
        ("run-end", "failed", Outcome.FAILED.exit_code), ended


class Edits(Say):
    async def run(self, ctx: StepContext) -> None:
        async def nothing() -> None:
            return None

        await ctx.act(EditFile("/etc/x.conf", "set a", "--- shipped\n+++ edited\n-a=1\n+a=2"),
                      nothing)


async def test_an_edit_is_one_command_line_and_its_diff_is_not_commands(tmp_path: Path) -> None:
    """The operator saw `$ @@ -48,7 +47,6 @@` in the output: every line of an
    edit's diff was told as a command. The edit is the command; its diff is
    what runbook says about it."""
    front = ScriptedFrontEnd()
    await run_steps(tmp_path, [Edits("edit")], front)
    told = [(stream, part) for step, stream, line in front.lines if step == "edit"
            for part in line.splitlines()]
    assert [line for stream, line in told if stream == "cmd"] == ["edit /etc/x.conf: set a"]
    assert [line for stream, line in told if stream == "info" and line[:1] in "-+"] == [
        "--- shipped", "+++ edited", "-a=1", "+a=2"]
    # The journal keeps the whole action as it ran.
    started = [r for r in records(tmp_path) if r["event"] == "action-start"]
    assert started[0]["text"] == "edit /etc/x.conf: set a\n--- shipped\n+++ edited\n-a=1\n+a=2"


async def test_the_way_back_is_said_and_journalled_before_its_first_question(
        tmp_path: Path) -> None:
    """Review: the TUI took the way back as begun only from a rollback step's
    state, which went back to pending when the operator stopped at its first
    question; the report had no record of a way back that did not finish."""
    from runbook.events import WayBackStarted

    front = ScriptedFrontEnd(answers={"back": Decision(Answer.STOP)},
                             recoveries={"cut": [Recovery.ROLLBACK]})
    journal = Journal(tmp_path / "run.jsonl")
    executor = Executor([Say("cut", phase=Phase.CUTOVER, fail="boom", changes=True)],
                        settings=SETTINGS,
                        facts=Facts(), remote=Remote(SETTINGS.host), api_factory=_no_api,
                        curl=lambda *a, **k: "curl", journal=journal, front=front,
                        redactor=Redactor([SECRET]), host_state=HostState(tmp_path, "sm", 22),
                        rollback=[Say("back", phase=Phase.ROLLBACK)])
    try:
        await executor.run()
    finally:
        journal.close()
    told = [type(event).__name__ for event in front.events]
    assert "WayBackStarted" in told
    assert front.asked == ["cut", "back"]
    events = [r["event"] for r in records(tmp_path)]
    assert "way-back" in events
    assert events.index("way-back") < next(
        n for n, r in enumerate(records(tmp_path)) if r.get("step") == "back")
    assert isinstance(front.events[told.index("WayBackStarted")], WayBackStarted)


async def test_the_step_the_way_back_follows_says_so_before_it_is_asked(tmp_path: Path) -> None:
    """Operator trial: with --rollback-after, nothing said the run would turn
    back until it did; the operator confirming that step must know that the
    way back follows it."""
    said_before: list[str] = []
    front = ScriptedFrontEnd(on_confirm=lambda step, _plan: said_before.extend(
        line for sid, stream, line in front.lines if sid == step.id and stream == "info"))
    outcome = await run_steps(tmp_path, [Say("cut", phase=Phase.CUTOVER),
                                         Say("more", phase=Phase.CUTOVER)], front,
                              rollback=[Say("back", phase=Phase.ROLLBACK)], rollback_after="cut")
    assert outcome is Outcome.ROLLED_BACK
    assert front.asked == ["cut", "back"]
    assert any("--rollback-after" in line and "way back" in line for line in said_before), \
        said_before
    journalled = [line for r in records(tmp_path) if r.get("step") == "cut"
                  and r["event"] == "output" for _stream, line in r["lines"]]
    assert any("--rollback-after" in line for line in journalled), journalled


async def test_a_step_the_operator_aborted_is_said_so_when_the_run_goes_on(
        tmp_path: Path) -> None:
    """Trial: after an abort (its command stopped on the host), the resumed run
    said the earlier run "never heard how it ended", as after a crash."""
    from tests.test_report import aborted_in

    path = tmp_path / "run.jsonl"
    earlier = Journal(path)
    earlier.write("run-start", config=SETTINGS.source, host="u@h:22", steps=["one"])
    aborted_in(earlier, "one", "sleep 40")
    front = ScriptedFrontEnd()
    await run_steps(tmp_path, [Say("one")], front, resume=True)
    said = [line for sid, stream, line in front.lines if sid == "one" and stream == "info"]
    assert any("aborted" in line and "sleep 40" in line for line in said), said
    assert not any("never heard" in line for line in said), said


async def test_a_step_done_two_runs_back_says_so_once(tmp_path: Path) -> None:
    """Operator trial: each resume wrapped the earlier run's words in its own,
    so `runbook log` read "done: done in the earlier run: done in the earlier
    run: ..."."""
    path = tmp_path / "run.jsonl"
    earlier = Journal(path)
    earlier.write("run-start", config=SETTINGS.source, host="u@h:22", steps=["one", "two"])
    earlier.write("step-end", step="one", state="done",
                  detail="done in the earlier run: looks right")
    earlier.write("run-end", outcome="stopped", exit_code=3)
    earlier.close()
    await run_steps(tmp_path, [Say("one"), Say("two")], ScriptedFrontEnd(), resume=True)
    ends = [r for r in records(tmp_path) if r["event"] == "step-end" and r["step"] == "one"]
    assert ends[-1]["detail"] == "done in the earlier run: looks right", ends[-1]


def test_a_result_that_says_done_is_not_said_done_twice() -> None:
    """Operator trial: "done: already done: API 4.0 answers" in the TUI and
    the log, and "done in the earlier run: already done: ..." once resumed."""
    from runbook.model import result_line

    assert result_line("done", "already done: API 4.0 answers") == \
        "already done: API 4.0 answers"
    assert result_line("done", "done in the earlier run: moved") == \
        "done in the earlier run: moved"
    assert result_line("done", "moved") == "done: moved"
    assert result_line("failed", "disk full") == "failed: disk full"


async def test_a_step_found_done_before_is_said_done_in_the_earlier_run_once(
        tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    earlier = Journal(path)
    earlier.write("run-start", config=SETTINGS.source, host="u@h:22", steps=["one"])
    earlier.write("step-start", step="one")
    earlier.write("step-end", step="one", state="done", detail="already done: in place",
                  already=True)
    earlier.write("run-end", outcome="stopped", exit_code=3)
    earlier.close()
    front = ScriptedFrontEnd()
    await run_steps(tmp_path, [Say("one")], front, resume=True)
    assert front.detail("one") == "done in the earlier run: in place", front.detail("one")


class DoneButSaysFailed(Say):
    """Its run does the work, takes a while, then fails; the retry's check
    finds it done (stuck origins stopped with x, an API error after the change)."""

    async def check(self, ctx: StepContext) -> Check:
        return Check(self.ran, "in place" if self.ran else "not yet")

    async def run(self, ctx: StepContext) -> None:
        self.ran = True
        await asyncio.sleep(0.3)
        raise StepFailed("the answer was an error")


async def test_a_retry_found_done_records_no_running_time_of_its_own(tmp_path: Path) -> None:
    """Operator trial: the report gave recreate "44.0 s (2 attempts)" for one
    22 s attempt and a check: the retry's step-end, found done, repeated the
    first attempt's elapsed_s, and the report added the two."""
    step = DoneButSaysFailed("slow")
    front = ScriptedFrontEnd(recoveries={"slow": [Recovery.RETRY]})
    assert await run_steps(tmp_path, [step], front) is Outcome.DONE
    ends = [r for r in records(tmp_path) if r["event"] == "step-end"]
    assert [r["state"] for r in ends] == ["failed", "done"], ends
    assert ends[0]["elapsed_s"] >= 0.3
    assert ends[1].get("elapsed_s") is None, ends[1]


async def test_a_step_found_done_says_so_as_data_not_in_its_words(tmp_path: Path) -> None:
    """Review 56b, F6: headless and the TUI told a step its check found done
    (nothing ran) by its result starting "already done: ". The report says
    it (StepReport.found_done): of the attempt that found it so, not of the
    one before that ran, nor of a step a resumed run trusts from the journal."""
    front = ScriptedFrontEnd(recoveries={"slow": [Recovery.RETRY]})
    assert await run_steps(tmp_path, [DoneButSaysFailed("slow")], front) is Outcome.DONE
    ends = [(e.report.state.value, getattr(e.report, "found_done", None))
            for e in front.events if isinstance(e, StepChanged)]
    assert ends == [("running", False), ("failed", False), ("done", True)], ends
    front = ScriptedFrontEnd()
    await run_steps(tmp_path, [Say("slow")], front, resume=True)
    assert front.detail("slow").startswith("done in the earlier run")
    assert front.last_report("slow").found_done is False


class Looks(Say):
    """A step that changes nothing (as preflight): a resumed run looks again."""
    read_only: ClassVar[bool] = True


async def test_a_drill_resumed_past_its_step_turns_back_at_once(tmp_path: Path) -> None:
    """Left since stop 37: `--resume --rollback-after STEP`, the command a
    rehearsal stopped mid-cutover names to practise the way back from there,
    asked for every look (preflight) again before it turned back, with the
    stream manager down and STEP long done."""
    def upgrade() -> list[Step[Any]]:
        return [Looks("look"), Say("cut", phase=Phase.CUTOVER),
                Say("more", phase=Phase.CUTOVER)]

    def way_back() -> list[Step[Any]]:
        return [Say("back", phase=Phase.ROLLBACK)]

    first = ScriptedFrontEnd(answers={"more": Decision(Answer.STOP)})
    assert await run_steps(tmp_path, upgrade(), first, rollback=way_back()) is Outcome.STOPPED
    front = ScriptedFrontEnd()
    outcome = await run_steps(tmp_path, upgrade(), front, resume=True, rollback=way_back(),
                              rollback_after="cut")
    assert outcome is Outcome.ROLLED_BACK
    assert front.asked == ["back"], front.asked
    said = [line for _sid, stream, line in front.lines if stream == "info"]
    assert any("--rollback-after cut" in line for line in said), said


class _HungHost(Remote):
    """A host where every command outlives its limit: the host's own `timeout`
    ends it, and the result says so. The connection itself is fine."""

    def __init__(self) -> None:
        super().__init__(SETTINGS.host)
        self.sent: list[str] = []

    async def connect(self) -> None:  # type: ignore[override]
        return None

    async def run(self, command: str, **options: Any) -> Any:  # type: ignore[override]
        from runbook.remote import CommandTimeout

        self.sent.append(command)
        raise CommandTimeout(f"no result within {options['timeout']:g}s; the host's timeout "
                             "signalled the command to stop")


class _LooksOnce(Say):
    async def check(self, ctx: StepContext) -> Check:
        await ctx.probe("systemctl is-active red5pro")
        return Check(False)


async def test_a_look_that_outlives_its_limit_is_not_sent_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review (stop 45): a look whose command the host's timeout ended was
    looked again as if the connection had dropped, three times for each of the
    check's three tries: nine command limits (18 minutes at the default) of
    downtime before a question, each saying "once reconnected"."""
    hung = _HungHost()
    monkeypatch.setattr(__import__(__name__, fromlist=["Remote"]), "Remote", lambda _: hung)
    front = ScriptedFrontEnd()
    assert await run_steps(tmp_path, [_LooksOnce("look")], front) is Outcome.FAILED
    # The run's claim on the host (runbook.claim) is sent first; then the look, once.
    assert hung.sent[1:] == ["systemctl is-active red5pro"] and ".runbook-claim" in hung.sent[0]
    assert "no result within" in front.detail("look"), front.detail("look")
    assert "reconnect" not in front.text(), front.text()


class _ReadsOnly(Say):
    read_only = True

    async def run(self, ctx: StepContext) -> None:
        await ctx.probe("sha256sum /tmp/big.zip")


async def test_a_read_only_step_whose_command_outlives_its_limit_fails_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review (stop 45): a read-only step whose look timed out was run again,
    twice, "once reconnected", though nothing had been lost but time."""
    hung = _HungHost()
    monkeypatch.setattr(__import__(__name__, fromlist=["Remote"]), "Remote", lambda _: hung)
    front = ScriptedFrontEnd()
    assert await run_steps(tmp_path, [_ReadsOnly("reads")], front) is Outcome.FAILED
    # The run's claim on the host (runbook.claim) is sent first; then the look, once.
    assert hung.sent[1:] == ["sha256sum /tmp/big.zip"] and ".runbook-claim" in hung.sent[0]
    assert front.final_state("reads") == StepState.FAILED.value
    assert "no result within" in front.detail("reads"), front.detail("reads")
    assert "reconnect" not in front.text().lower(), front.text()


class _MarksThenHangs(Say):
    """Says in the facts what its change is about to do, then sends the change,
    which outlives the process (schema: the import's marker, then the import)."""

    async def run(self, ctx: StepContext) -> None:
        ctx.facts.schema_import_into = "db.example:3306"  # type: ignore[attr-defined]

        async def forever() -> None:
            await asyncio.sleep(3600)

        await ctx.act(Shell("mysql cluster < cluster.sql", "the import"), forever)


async def test_what_a_step_learnt_before_a_change_is_on_record_before_the_change(
        tmp_path: Path) -> None:
    """Review (stop 45): facts reached the journal only as a step ended, so a
    run killed mid-import left no marker that the half-made database was its
    own, and the resumed schema step refused it as someone else's."""
    from steps.facts import Red5Facts

    front = ScriptedFrontEnd()
    executor = executor_for(tmp_path, [_MarksThenHangs("schema")], front)
    executor.facts = Red5Facts()
    task = asyncio.ensure_future(executor.run())
    for _ in range(200):
        if any(r["event"] == "action-start" for r in records(tmp_path)):
            break
        await asyncio.sleep(0.01)
    task.cancel()  # as a kill -9 would leave it: nothing more is written
    with contextlib.suppress(asyncio.CancelledError):
        await task
    executor.journal.close()
    assert replay(tmp_path / "run.jsonl").facts.get("schema_import_into") == "db.example:3306"


async def test_a_way_back_chosen_at_a_question_is_not_put_on_the_step_asked(
        tmp_path: Path) -> None:
    """Way-back trial (stop 45): "the operator chose it at new-database's
    question" read, in the report, as new-database's fault; it was only the
    step asked next (a resume mid-cutover asks the read-only steps again)."""
    steps: list[Step] = [Say("stop-old", phase=Phase.CUTOVER, changes=True),
                         Say("start-new", phase=Phase.CUTOVER)]
    front = ScriptedFrontEnd({"start-new": Decision(Answer.ROLLBACK)})
    await run_steps(tmp_path, steps, front, rollback=[Say("back", phase=Phase.ROLLBACK)])
    why = [r["why"] for r in records(tmp_path) if r["event"] == "way-back"]
    assert why and "start-new" in why[0] and "'s question" not in why[0], why
    assert "next" in why[0] and "not run" in why[0], why


async def test_a_way_back_chosen_on_resume_at_a_step_an_earlier_session_ran_says_so(
        tmp_path: Path) -> None:
    """Re-trial (stop 49): resumed after start-new failed, and turned back at
    its question, the report's "Way back" line said start-new "was not run";
    the earlier session had run it, and its Steps table said so."""
    steps: list[Step] = [Say("stop-old", phase=Phase.CUTOVER, changes=True),
                         Say("start-new", phase=Phase.CUTOVER, changes=True, fail="no")]
    await run_steps(tmp_path, steps, ScriptedFrontEnd({"start-new": [Decision(Answer.RUN),
                                                                     Decision(Answer.STOP)]}),
                    rollback=[Say("back", phase=Phase.ROLLBACK)])
    front = ScriptedFrontEnd({"start-new": Decision(Answer.ROLLBACK)})
    steps = [Say("stop-old", phase=Phase.CUTOVER, done=True),
             Say("start-new", phase=Phase.CUTOVER)]
    await run_steps(tmp_path, steps, front, resume=True,
                    rollback=[Say("back", phase=Phase.ROLLBACK)])
    why = [r["why"] for r in records(tmp_path) if r["event"] == "way-back"]
    assert len(why) == 1 and "start-new" in why[0], why
    assert "which was not run" not in why[0] and "had failed" in why[0], why
    said = [line for sid, stream, line in front.lines if sid == "start-new" and stream == "info"]
    assert not [line for line in said if line.startswith("not run:")], said


async def test_a_way_back_chosen_at_a_retry_of_a_step_this_session_ran_says_so(
        tmp_path: Path) -> None:
    """Second review (stop 50): the same, where the step failed in this
    session and the way back was chosen at its retry's question."""

    class FailsOnce(Say):
        async def check(self, ctx: StepContext) -> Check:
            return Check(False, "not yet")

    steps: list[Step] = [Say("stop-old", phase=Phase.CUTOVER, changes=True),
                         FailsOnce("start-new", phase=Phase.CUTOVER, changes=True, fail="no")]
    front = ScriptedFrontEnd({"start-new": [Decision(Answer.RUN), Decision(Answer.ROLLBACK)]},
                             recoveries={"start-new": [Recovery.RETRY]})
    await run_steps(tmp_path, steps, front, rollback=[Say("back", phase=Phase.ROLLBACK)])
    why = [r["why"] for r in records(tmp_path) if r["event"] == "way-back"]
    # Trial 58 (L4): "which had been tried before" (after t, then r at its
    # turn) did not say that the step had failed.
    assert len(why) == 1 and "which was not run" not in why[0] and "had failed" in why[0], why


async def test_a_way_back_chosen_on_resume_after_a_step_failed_at_its_look_says_so(
        tmp_path: Path) -> None:
    """Re-trial (stop 50): the earlier attempt failed at its first look
    (cannot list processes) and started nothing; the Way back line still
    said the step "was not run", beside a Steps table that said failed."""

    class LookFails(Say):
        async def check(self, ctx: StepContext) -> Check:
            raise StepFailed("cannot list processes")

    steps: list[Step] = [Say("stop-old", phase=Phase.CUTOVER, changes=True),
                         LookFails("start-new", phase=Phase.CUTOVER)]
    await run_steps(tmp_path, steps, ScriptedFrontEnd(),
                    rollback=[Say("back", phase=Phase.ROLLBACK)])
    front = ScriptedFrontEnd({"start-new": Decision(Answer.ROLLBACK)})
    await run_steps(tmp_path, [Say("stop-old", phase=Phase.CUTOVER, done=True),
                               Say("start-new", phase=Phase.CUTOVER)], front, resume=True,
                    rollback=[Say("back", phase=Phase.ROLLBACK)])
    why = [r["why"] for r in records(tmp_path) if r["event"] == "way-back"]
    assert len(why) == 1 and "had failed" in why[0], why


async def test_runbook_rollback_says_which_step_failed_before_it(tmp_path: Path) -> None:
    """Trial 58 (L4): after a stop at start-new's failure, `runbook rollback`
    wrote the way back's reason as just "runbook rollback"; the report's Way
    back row said nothing of the step that failed."""
    steps: list[Step] = [Say("stop-old", phase=Phase.CUTOVER, changes=True),
                         Say("start-new", phase=Phase.CUTOVER, changes=True, fail="no")]
    await run_steps(tmp_path, steps, ScriptedFrontEnd(),
                    rollback=[Say("back", phase=Phase.ROLLBACK)])
    await run_steps(tmp_path, [], ScriptedFrontEnd(), resume=True,
                    rollback=[Say("back", phase=Phase.ROLLBACK)])
    why = [r["why"] for r in records(tmp_path) if r["event"] == "way-back"]
    assert len(why) == 1 and "start-new failed" in why[0] and "runbook rollback" in why[0], why


async def test_a_way_back_chosen_on_resume_at_a_step_done_before_says_done_not_tried(
        tmp_path: Path) -> None:
    """Trial 54, F7: resumed mid-cutover, preflight (done, and asked again as
    it only looks) was where the way back was chosen; the output said "not
    tried again (it had been tried before)" and the report "which had been
    tried before, and was not tried again", which reads as if it had failed."""

    class Looks(Say):
        read_only = True

    steps: list[Step] = [Looks("look", changes=True),
                         Say("stop-old", phase=Phase.CUTOVER, changes=True),
                         Say("start-new", phase=Phase.CUTOVER, unknown=True)]
    await run_steps(tmp_path, steps, ScriptedFrontEnd({"start-new": [
        Decision(Answer.RUN), Decision(Answer.STOP)]}),
                    rollback=[Say("back", phase=Phase.ROLLBACK)])
    front = ScriptedFrontEnd({"look": Decision(Answer.ROLLBACK)})
    await run_steps(tmp_path, [Looks("look"), Say("stop-old", phase=Phase.CUTOVER, done=True),
                               Say("start-new", phase=Phase.CUTOVER)], front, resume=True,
                    rollback=[Say("back", phase=Phase.ROLLBACK)])
    why = [r["why"] for r in records(tmp_path) if r["event"] == "way-back"]
    assert len(why) == 1 and "look" in why[0], why
    assert "tried" not in why[0] and "done in the earlier run" in why[0], why
    said = [line for sid, stream, line in front.lines if sid == "look" and stream == "info"]
    assert not [line for line in said if "tried" in line], said
    assert [line for line in said if line.startswith("not run again (it was done in the "
                                                     "earlier run)")], said


class _AddsToADictThenHangs(Say):
    """Learns something into a dict fact, acts, learns more into it, acts and
    hangs: upload's checksums, one per file, as each lands."""

    async def run(self, ctx: StepContext) -> None:
        sums = ctx.facts.local_sha256  # type: ignore[attr-defined]
        sums["first.zip"] = "aa"
        await ctx.act(Shell("send first.zip", "the first"), _nothing)
        sums["second.jar"] = "bb"

        async def forever() -> None:
            await asyncio.sleep(3600)

        await ctx.act(Shell("send second.jar", "the second"), forever)


async def test_a_fact_changed_in_place_is_on_record_before_the_next_action(
        tmp_path: Path) -> None:
    """Second review (stop 45): the facts last journalled were the facts' own
    dicts, so a value added to one compared equal to itself, and was never
    journalled before the next action."""
    from steps.facts import Red5Facts

    executor = executor_for(tmp_path, [_AddsToADictThenHangs("upload")], ScriptedFrontEnd())
    executor.facts = Red5Facts()
    task = asyncio.ensure_future(executor.run())
    for _ in range(200):
        if any("second.jar" in r.get("text", "") for r in records(tmp_path)):
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    executor.journal.close()
    kept = replay(tmp_path / "run.jsonl").facts.get("local_sha256")
    assert kept == {"first.zip": "aa", "second.jar": "bb"}, kept


class BlocksTheHostRecord(Say):
    """A step after which this machine's record of the host cannot be written
    (a full disk, no inodes left, a file in the way)."""

    async def run(self, ctx: StepContext) -> None:
        await super().run(ctx)
        (ctx.host_state.path / "cutovers").write_text("in the way")


async def test_a_host_record_that_cannot_be_removed_is_said_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The removal of the record of the cutover under way escaped as a bare
    PermissionError, past the journal's last records, as exit 2 (second
    review, stop 46). (Refused by hand here: root removes from a read-only
    folder, and these tests may run as root.)"""
    real = Path.unlink

    def unlink(path: Path, missing_ok: bool = False) -> None:
        if path.name == "cutover.json":
            raise PermissionError(13, "Permission denied", str(path))
        real(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    front = ScriptedFrontEnd()
    outcome = await run_steps(tmp_path, [Say("a"), Say("cut", phase=Phase.CUTOVER,
                                                       changes=True)], front)
    assert outcome is Outcome.DONE and replay(tmp_path / "run.jsonl").finished
    said = [line for _sid, stream, line in front.lines if stream == "info"]
    assert any("could not be closed" in line and "cannot be removed" in line
               for line in said), said


@pytest.mark.parametrize("way_back", [False, True])
async def test_a_host_record_that_cannot_be_closed_does_not_undo_a_finished_cutover(
        tmp_path: Path, way_back: bool) -> None:
    """The upgrade (or the way back) finished, and then the host's record of
    the cutover could not be closed: that error escaped the executor before the
    journal's last records, the CLI said exit 2 ("nothing on the host
    changed"), and the journal read as a run cut off with the stream manager
    down (code review, stop 46). The journal ends as the run did, the run says
    what could not be written, and the next run closes the record."""
    from runbook.cli.refusals import refuse_a_second_cutover

    cut = BlocksTheHostRecord("cut", phase=Phase.CUTOVER, changes=True)
    front = ScriptedFrontEnd()
    options: dict[str, Any] = dict(rollback=[Say("back", phase=Phase.ROLLBACK)],
                                   rollback_after="cut") if way_back else {}
    outcome = await run_steps(tmp_path, [Say("a"), cut], front, **options)
    assert outcome is (Outcome.ROLLED_BACK if way_back else Outcome.DONE)
    history = replay(tmp_path / "run.jsonl")
    assert history.finished and history.downtime_s is not None
    said = [line for _sid, stream, line in front.lines if stream == "info"]
    assert any("could not be closed" in line and "cutovers" in line for line in said), said
    state = HostState(tmp_path, "sm", 22)
    assert state.cutover() is not None  # still open: the folder was in the way
    (state.path / "cutovers").unlink()
    refuse_a_second_cutover(state, None, lambda journal: "resume", lambda journal: None)
    assert state.cutover() is None
    assert state.ended(history.cutover_started or "") == ("rolled back" if way_back
                                                          else "upgraded")


def test_the_next_run_closes_a_record_whose_journal_completed_the_cutover_whatever_came_after(
        tmp_path: Path) -> None:
    """The run said "the next run closes it from this journal", and the next
    run did only for a run that ended done or rolled back: one whose cutover
    completed and which failed after was refused as a cutover not ended
    (second review, stop 46)."""
    from runbook.cli.refusals import refuse_a_second_cutover

    state = HostState(tmp_path, "sm", 22)
    journal = Journal(tmp_path / "run.jsonl")
    began = state.begin_cutover(journal.path).began
    journal.write(Record.RUN_START, steps=["cut"], cutover=["cut"])
    journal.write(Record.CUTOVER_START, step="cut", began=began)
    journal.write(Record.CUTOVER_END, complete=True, downtime_s=12.5)
    journal.write(Record.RUN_END, outcome="failed", exit_code=1)
    journal.close()
    refuse_a_second_cutover(state, None, lambda j: "resume", lambda j: None)
    assert state.cutover() is None and state.ended(began) == "upgraded"


def test_a_host_lock_refused_as_eacces_is_held_by_another(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """EACCES is how fcntl-backed flock (SMB) refuses a lock another holds:
    not "no locks here", which let a second runbook on (second review, stop 47)."""
    import errno
    import fcntl

    def flock(fd: int, operation: int) -> None:
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(fcntl, "flock", flock)
    with pytest.raises(HostStateError, match="another runbook on this machine"), \
            HostState(tmp_path, "sm", 22).held():
        pass


def test_a_state_folder_that_cannot_be_locked_at_all_lets_the_run_go_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Every OSError of the host's lock read as "another runbook is working on
    this host": on a filesystem without locks (ENOLCK, some NFS homes) no run
    could start (second review, stop 46). Only a lock held is a refusal."""
    import errno
    import fcntl

    def flock(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", flock)
    with HostState(tmp_path, "sm", 22).held() as unguarded:
        pass
    # Said by the front end, not printed by the engine (stop 46's re-read).
    assert unguarded is not None and "cannot be locked (No locks available)" in unguarded
    assert capsys.readouterr().err == ""


async def test_a_step_in_doubt_on_resume_says_what_its_check_found(tmp_path: Path) -> None:
    """TUI trial: resumed, a step left in doubt said only "the check does not
    find the outcome in place", where what it found (a service up and its API
    not answering yet, say) is what decides between waiting, a retry and the
    way back."""
    path = tmp_path / "run.jsonl"
    earlier = Journal(path)
    earlier.write("run-start", config=SETTINGS.source, host="u@h:22", steps=["one"])
    earlier.write("step-start", step="one")
    earlier.write("action-start", step="one", attempt="a1", n=1, kind="shell", text="start it")
    earlier.write("run-end", outcome="stopped", exit_code=3)
    earlier.close()

    class Looks(Say):
        async def check(self, ctx: StepContext) -> Check:
            return Check(False, "the service runs, and its API does not answer yet")

    front = ScriptedFrontEnd()
    await run_steps(tmp_path, [Looks("one")], front, resume=True)
    said = [line for sid, stream, line in front.lines if sid == "one" and stream == "info"]
    assert any("in doubt" in line and "its API does not answer yet" in line
               for line in said), said


def test_a_second_run_refused_while_a_way_back_is_under_way_says_so_way_back_first(
        tmp_path: Path) -> None:
    """Operator trial 54 (F20 LOW): `runbook run` during a way back cut off
    said "a cutover began here ... go on with it: resume; or go back ...",
    not that the way back was under way already (both commands go on back)."""
    from runbook.cli.refusals import refuse_a_second_cutover
    from runbook.config import ConfigError

    state = HostState(tmp_path, "sm", 22)
    journal = Journal(tmp_path / "run.jsonl")
    began = state.begin_cutover(journal.path).began
    journal.write(Record.RUN_START, steps=["cut"], cutover=["cut"])
    journal.write(Record.CUTOVER_START, step="cut", began=began)
    journal.write(Record.STEP_START, step="cut")
    journal.write(Record.STEP_END, step="cut", state="done", detail="cut")
    journal.write(Record.WAY_BACK, why="drill", steps=["back"])
    journal.write(Record.STEP_START, step="back")
    journal.close()
    with pytest.raises(ConfigError) as refused:
        refuse_a_second_cutover(state, None, lambda j: "RESUME", lambda j: "ROLLBACK")
    said = str(refused.value)
    assert "the way back to the old stream manager is under way" in said, said
    assert said.index("ROLLBACK") < said.index("RESUME"), said


def test_a_way_back_whose_run_end_was_cut_off_closes_the_record_as_rolled_back(
        tmp_path: Path) -> None:
    """Trial 54 (F26): the run-end of a finished way back cut off as it was
    written; the next run closed the host's record as "upgraded"."""
    from runbook.cli.refusals import refuse_a_second_cutover

    state = HostState(tmp_path, "sm", 22)
    journal = Journal(tmp_path / "run.jsonl")
    began = state.begin_cutover(journal.path).began
    journal.write(Record.RUN_START, steps=["cut"], cutover=["cut"])
    journal.write(Record.CUTOVER_START, step="cut", began=began)
    journal.write(Record.STEP_START, step="cut")
    journal.write(Record.STEP_END, step="cut", state="done", detail="cut")
    journal.write(Record.WAY_BACK, why="drill", steps=["back"])
    journal.write(Record.STEP_START, step="back")
    journal.write(Record.STEP_END, step="back", state="done", detail="back")
    journal.write(Record.CUTOVER_END, complete=True, downtime_s=12.5)
    journal.close()
    refuse_a_second_cutover(state, None, lambda j: "resume", lambda j: None)
    assert state.cutover() is None and state.ended(began) == "rolled back"


async def test_a_short_api_token_is_said_once_as_the_run_begins(tmp_path: Path) -> None:
    """Review 55 L5: an API token shorter than 4 characters was never masked and
    nothing said so; the run now says it once, by its variable's name, on the
    screen and in the journal (the report's warnings), never its value."""
    from runbook.events import JournalNote
    from runbook.log import RUN_MARK, log_lines
    from runbook.report import build
    from runbook.session import Session

    front = ScriptedFrontEnd()
    journal = tmp_path / "run.jsonl"
    session = Session(SETTINGS, [Say("a")], Facts(), token="Q7z", journal_path=journal,
                      state_dir=tmp_path)
    assert await session.run(front) is Outcome.DONE
    told = [e.message for e in front.events if isinstance(e, JournalNote)]
    assert len(told) == 1 and told[0].startswith(f"warning: {SETTINGS.token_env} is shorter")
    notes = [r for r in records(tmp_path) if r["event"] == "note" and r.get("text") == told[0]]
    assert len(notes) == 1
    assert told[0] in [warning.text for warning in build(journal).warnings]
    assert (RUN_MARK, told[0]) in log_lines(journal)  # the run's line, as `runbook log` says
    assert "Q7z" not in told[0]


@pytest.mark.parametrize(("token", "told"), [("s3cr+t&x", True), ("a b%2Fc#d", True),
                                             ("Plain-token_1.2~", False)])
async def test_a_token_a_url_must_encode_is_said_once_for_the_curl_lines(
        tmp_path: Path, token: str, told: bool) -> None:
    """The servlet URL-decodes ?accessToken= (getParameter): a curl line run
    by hand sends the token as written, so a + arrives as a blank and a & cuts
    it, and the stream manager refuses it where runbook's own call, which
    encodes it, was taken (facts audit 61, F14). Said once, never its value."""
    from runbook.events import JournalNote
    from runbook.session import Session

    front = ScriptedFrontEnd()
    session = Session(SETTINGS, [Say("a")], Facts(), token=token,
                      journal_path=tmp_path / "run.jsonl", state_dir=tmp_path)
    assert await session.run(front) is Outcome.DONE
    said = [e.message for e in front.events if isinstance(e, JournalNote)
            and "percent-encode" in e.message]
    assert len(said) == (1 if told else 0), said
    assert all(token not in line and SETTINGS.token_env in line for line in said)


async def _upgraded_then_cut_off(tmp_path: Path, *, host_record_open: bool = False
                                 ) -> list[Step]:
    """An upgrade whose cutover completed, its run-end never written (a full
    disk, a kill as it ended): resumable, with the new stream manager serving.
    The steps of the resumed run: `look` only looks, so it is asked again.
    `host_record_open`: the host's record of the cutover could not be closed
    as it ended (a file in the way of the closed records' folder), so it is
    still open, while the journal holds the cutover's complete end."""

    class Looks(Say):
        read_only = True

    steps: list[Step] = [Looks("look"), Say("cut", phase=Phase.CUTOVER, changes=True)]
    back = [Say("back", phase=Phase.ROLLBACK)]
    in_the_way = HostState(tmp_path, "sm", 22).path / "cutovers"
    if host_record_open:
        in_the_way.parent.mkdir(parents=True)
        in_the_way.write_text("not a folder")
    assert await run_steps(tmp_path, steps, ScriptedFrontEnd(), rollback=back) is Outcome.DONE
    if host_record_open:
        in_the_way.unlink()
        assert HostState(tmp_path, "sm", 22).cutover() is not None
    journal = tmp_path / "run.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    assert json.loads(lines[-1])["event"] == "run-end"
    journal.write_text("".join(lines[:-1]))
    assert replay(journal).downtime_s is not None and replay(journal).outcome is None
    return [Looks("look", fail="cannot list processes"), Say("cut", phase=Phase.CUTOVER)]


async def test_no_way_back_is_offered_once_the_cutover_completed(tmp_path: Path) -> None:
    """Review 56b, F4: the engine took the cutover as under way from the
    journal's cutover-start alone, so resumed after a completed cutover it
    offered the way back at a failed step's question and took it at a
    step's, where the headless prompt and the TUI offered none (they go by
    the cutover's end on record) and `runbook rollback` refuses it: the old
    stream manager would tear down the new nodegroups' nodes. Before the
    fix: can_roll_back True, and the way back taken at look's question."""
    steps = await _upgraded_then_cut_off(tmp_path)
    front = ScriptedFrontEnd(recoveries={"look": [Recovery.ROLLBACK]})
    outcome = await run_steps(tmp_path, steps, front, resume=True,
                              rollback=[Say("back", phase=Phase.ROLLBACK)])
    assert front.recovered == [("look", False)], front.recovered
    assert outcome is Outcome.FAILED

    steps = await _upgraded_then_cut_off(tmp_path / "asked")
    steps[0].fail = ""  # type: ignore[attr-defined]
    front = ScriptedFrontEnd({"look": [Decision(Answer.ROLLBACK), Decision(Answer.STOP)]})
    outcome = await run_steps(tmp_path / "asked", steps, front, resume=True,
                              rollback=[Say("back", phase=Phase.ROLLBACK)])
    assert outcome is Outcome.STOPPED, outcome
    said = [line for sid, stream, line in front.lines if sid == "look" and stream == "info"]
    assert any("the cutover is complete" in line for line in said), said
    assert not [r for r in records(tmp_path / "asked") if r["event"] == "way-back"]


async def test_no_way_back_is_offered_once_the_cutover_completed_on_record_alone(
        tmp_path: Path) -> None:
    """The cutover's complete end on record, the host's own record of it
    left open (it could not be closed as the cutover ended), and that same
    journal resumed: the engine took the open record as a cutover under
    way and offered the way back, where the headless prompt, the TUI and
    `runbook rollback` go by the journal and refuse it. Before the fix:
    can_roll_back True at look's failure, and the way back taken."""
    steps = await _upgraded_then_cut_off(tmp_path, host_record_open=True)
    front = ScriptedFrontEnd(recoveries={"look": [Recovery.ROLLBACK]})
    outcome = await run_steps(tmp_path, steps, front, resume=True,
                              rollback=[Say("back", phase=Phase.ROLLBACK)])
    assert front.recovered == [("look", False)], front.recovered
    assert outcome is Outcome.FAILED
    assert not [r for r in records(tmp_path) if r["event"] == "way-back"]


def test_resuming_a_completed_cutover_closes_the_hosts_record_of_it(
        tmp_path: Path) -> None:
    """The same, before the resumed run begins: the refusal of a second
    cutover let the journal's own run through without closing the host's
    record, so the front ends' clocks (down_since) went on saying the
    stream manager is down. The journal's complete end closes it, as it
    does for another journal's run. Before the fix: the record still open."""
    from runbook.cli.refusals import refuse_a_second_cutover

    asyncio.run(_upgraded_then_cut_off(tmp_path, host_record_open=True))
    state = HostState(tmp_path, "sm", 22)
    began = state.cutover()
    assert began is not None
    refuse_a_second_cutover(state, tmp_path / "run.jsonl", lambda j: "resume", lambda j: None)
    assert state.cutover() is None and state.ended(began.began) == "upgraded"
    assert down_since(state, replay(tmp_path / "run.jsonl")) is None


def _an_hour_earlier(journal: Path) -> float:
    """The journal's cutover began an hour before it says (the host's own
    record is closed, so a resumed run counts from the journal's), and its
    cutover-end says the downtime it recorded: returned."""
    from datetime import datetime, timedelta

    rows = [json.loads(line) for line in journal.read_text().splitlines()]
    for row in rows:
        if row["event"] == "cutover-start":
            row["began"] = (datetime.fromisoformat(row["began"])
                            - timedelta(hours=1)).isoformat()
    journal.write_text("".join(json.dumps(row) + "\n" for row in rows))
    ended = [row for row in rows if row["event"] == "cutover-end"]
    assert len(ended) == 1 and ended[0]["complete"], ended
    return float(ended[0]["downtime_s"])


async def test_a_completed_cutover_on_record_is_not_ended_again(tmp_path: Path) -> None:
    """A run resumed after a cutover that completed on record (its run-end
    cut off) counted the downtime from the journal's cutover-start to its
    own end and wrote a second cutover-end: the replay (`--resume`'s word,
    the next estimate) took it, an hour where the record said under a
    second. Before the fix: two cutover-ends, replay's downtime 3600s."""
    from runbook.report import build
    from runbook.standing import service_state

    steps = await _upgraded_then_cut_off(tmp_path)
    steps[0].fail = ""  # type: ignore[attr-defined]
    journal = tmp_path / "run.jsonl"
    recorded = _an_hour_earlier(journal)
    front = ScriptedFrontEnd()
    outcome = await run_steps(tmp_path, steps, front, resume=True,
                              rollback=[Say("back", phase=Phase.ROLLBACK)])
    assert outcome is Outcome.DONE, outcome
    ended = [r for r in records(tmp_path) if r["event"] == "cutover-end"]
    assert [r["downtime_s"] for r in ended] == [recorded], ended
    assert replay(journal).downtime_s == recorded
    assert build(journal).downtime.seconds == recorded
    assert "the downtime was 0" in service_state(replay(journal)), service_state(replay(journal))


def test_a_journal_that_ended_its_cutover_twice_says_the_first_downtime(
        tmp_path: Path) -> None:
    """Journals written before the fix above hold a second complete
    cutover-end, the resumed run's, timed to its own end: the replay took
    that one, the report the first. Both read the first now. Before the fix:
    replay's downtime 3600.1."""
    from runbook.report import build
    from runbook.standing import service_state

    journal = Journal(tmp_path / "run.jsonl")
    journal.write(Record.RUN_START, steps=["cut"], cutover=["cut"])
    journal.write(Record.CUTOVER_START, step="cut")
    journal.write(Record.STEP_START, step="cut")
    journal.write(Record.STEP_END, step="cut", state="done", detail="cut")
    journal.write(Record.CUTOVER_END, complete=True, downtime_s=42.0)
    journal.write(Record.RUN_START, steps=["cut"], cutover=["cut"], resumed=True)
    journal.write(Record.CUTOVER_END, complete=True, downtime_s=3600.1)
    journal.write(Record.RUN_END, outcome="done", exit_code=0)
    journal.close()
    assert replay(journal.path).downtime_s == 42.0
    assert build(journal.path).downtime.seconds == 42.0
    assert "the downtime was 42" in service_state(replay(journal.path))


async def test_each_question_says_whether_the_way_back_can_be_its_answer(
        tmp_path: Path) -> None:
    """Review 56b, F4: the headless prompt and the TUI each worked out from
    the events whether to offer the way back at a step's question, and the
    engine checked again by its own rule. The engine says it on the report
    it asks with, as it says can_roll_back after a failure: before the
    cutover no, during it yes, on the way back no, and after a completed
    cutover no."""
    asked: dict[str, bool | None] = {}
    front = ScriptedFrontEnd(on_confirm=lambda report, plan: asked.setdefault(
        report.id, getattr(report, "way_back_open", None)))
    steps: list[Step] = [Say("look"), Say("cut", phase=Phase.CUTOVER, changes=True),
                         Say("next", phase=Phase.CUTOVER)]
    await run_steps(tmp_path, steps, front, rollback=[Say("back", phase=Phase.ROLLBACK)],
                    rollback_after="next")
    assert asked == {"look": False, "cut": False, "next": True, "back": False}, asked

    # Asked before the cutover began, the first cutover step's report said
    # no; once it begins the cutover, the question it would come back to
    # (stopped, failed) offers the way back, and its report says so as it
    # runs: the TUI's stop dialog reads it there.
    running = [(e.report.id, e.report.way_back_open) for e in front.events
               if isinstance(e, StepChanged) and e.report.state is StepState.RUNNING]
    assert running == [("look", False), ("cut", False), ("cut", True), ("next", True),
                       ("back", False)], running
    cut_began = next(i for i, e in enumerate(front.events) if isinstance(e, CutoverStarted))
    told = front.events[cut_began + 1]  # at once, not at its end
    assert isinstance(told, StepChanged) and told.report.id == "cut", told
    assert told.report.state is StepState.RUNNING and told.report.way_back_open, told

    steps = await _upgraded_then_cut_off(tmp_path / "complete")
    steps[0].fail = ""  # type: ignore[attr-defined]
    asked.clear()
    await run_steps(tmp_path / "complete", steps, front, resume=True,
                    rollback=[Say("back", phase=Phase.ROLLBACK)])
    assert asked == {"look": False}, asked


@pytest.mark.parametrize("how", ["upgraded", "rolled back"])
async def test_the_journal_says_the_cutover_ended_before_the_hosts_record_closes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """Review 57a, F1: the host's record was closed ("upgraded") before the
    journal's cutover-end was written. Killed between the two, `runbook
    rollback` refused (the host's record says it ended) while `run --resume`
    read no end: it said the stream manager was down while the new one
    served, and offered the way back, which tears down the new fleet. The
    journal's end comes first now; killed after it, the next run closes the
    host's record from the journal (refuse_a_second_cutover)."""
    seen: list[str] = []
    close = HostState.end_cutover

    def end_cutover(self: HostState, ended: str) -> None:
        # What a kill -9 at this moment would leave in the journal.
        seen.append(ended)
        assert replay(tmp_path / "run.jsonl").downtime_s is not None, \
            f"the host's record closed ({ended}) before the journal's cutover-end"
        close(self, ended)

    monkeypatch.setattr(HostState, "end_cutover", end_cutover)
    steps: list[Step] = [Say("cut", phase=Phase.CUTOVER, changes=True),
                         Say("last", phase=Phase.CUTOVER, fail="" if how == "upgraded"
                             else "it did not come up")]
    front = ScriptedFrontEnd(recoveries={"last": [Recovery.ROLLBACK]})
    outcome = await run_steps(tmp_path, steps, front,
                              rollback=[Say("back", phase=Phase.ROLLBACK)])
    assert outcome is (Outcome.DONE if how == "upgraded" else Outcome.ROLLED_BACK)
    assert seen == [how]


class MadeRows(Say):
    """A cutover step whose work the way back leaves: its words name what
    stays without its id, and what to do holds ": " itself."""

    after_the_way_back = "the rows it made stay in the new database"

    def leaves(self, settings: config.Settings, facts: Facts) -> Leaves:
        return Leaves(self.after_the_way_back, "drop them before another attempt: the "
                      "schema step refuses a database that holds them")


async def test_what_a_way_back_leaves_reaches_the_screen_as_the_step_said_it(
        tmp_path: Path) -> None:
    """Review 57a, F3: the run's end carried what each step leaves as
    sentences, and the screen found the step by its id among the words
    before the last ": " and took what to do as the words after it: a step
    whose words do not hold its id showed no "what stays", and what to do
    holding ": " was cut to its last part."""
    from screens.run_state import RunState
    from screens.views import detail, hint

    front = ScriptedFrontEnd(recoveries={"cut": [Recovery.ROLLBACK]})
    steps: list[Step] = [MadeRows("made-rows", phase=Phase.CUTOVER, changes=True),
                         Say("cut", phase=Phase.CUTOVER, fail="boom")]
    back: list[Step] = [Say("back", phase=Phase.ROLLBACK)]
    outcome = await run_steps(tmp_path, steps, front, rollback=back)
    assert outcome is Outcome.ROLLED_BACK
    state = RunState(cards=[*(s.card(n) for n, s in enumerate([*steps, *back], start=1))],
                     target="sm")
    for event in front.events:
        state.apply(event, 0.0)
    said = detail(state, state.by_id["made-rows"]).plain
    assert "Partly undone by the way back: the rows it made stay in the new database" \
        in said, said
    told = hint(state, selected=None, journal=tmp_path / "run.jsonl").plain
    assert ("Before another attempt, drop them before another attempt: the schema step "
            "refuses a database that holds them.") in told, told


class Warns(Say):
    """A step that says a note whose words begin like a warning's, and is
    none, and two warnings whose words do not begin so."""

    async def run(self, ctx: StepContext) -> None:
        ctx.note("unit-read", "Warnings the unit's journal held: none")
        ctx.note("unit-java", "the unit sets no JAVA_HOME", warning=True)
        ctx.warn("the fleet changed since its snapshot")


async def test_the_screen_and_the_report_agree_on_what_is_a_warning(tmp_path: Path) -> None:
    """Review 57a, F3: the screen took a line for a warning by its first
    eight letters, "warning:", and the report took a note for one by its
    first seven, "warning": a note beginning "Warnings ..." was a warning in
    the report and not on the screen. Whether it is one is the step's to
    say, as data (ctx.warn, ctx.note(..., warning=True))."""
    from runbook.report import build
    from screens.run_state import RunState

    front = ScriptedFrontEnd()
    steps: list[Step] = [Warns("unit")]
    assert await run_steps(tmp_path, steps, front) is Outcome.DONE
    state = RunState(cards=[steps[0].card(1)], target="sm")
    for event in front.events:
        state.apply(event, 0.0)
    on_screen = [line for lines in state.warnings.values() for line in lines]
    in_report = [note.text for note in build(tmp_path / "run.jsonl", estimate_from=[]).warnings]
    assert in_report == on_screen == ["the unit sets no JAVA_HOME",
                                      "the fleet changed since its snapshot"], in_report


@pytest.mark.parametrize("record", [None, "", "live"])
def test_the_command_to_look_at_a_job_left_running_says_ended_once_it_has(
        tmp_path: Path, record: str | None) -> None:
    """Review 62b, L6: a stop that could not reach the host suggests a command
    to look at the job there. Once the job has ended, the shared shell empties
    its record and then removes it, and the command made ps say "list of
    session IDs must follow -s" (cut's error before it): read at 2 a.m. as a
    fault. Run with a real sh: no record, an emptied one, and one of a job
    still running (its session listed)."""
    import re
    import subprocess
    import time

    from runbook.events import Output

    front = ScriptedFrontEnd()
    executor = executor_for(tmp_path, [Say("sleeper")], front)
    executor._left_running_on_host("sleeper-1-2", 60, time.time() + 60)
    [said] = [e.line for e in front.events if isinstance(e, Output) and "ps -s" in e.line]
    quoted = re.search(r"`([^`]*ps -s[^`]*)`", said)
    command = quoted.group(1) if quoted else re.search(r'ps -s "\$\(.*?\)"', said).group(0)  # type: ignore[union-attr]
    home = tmp_path / "home"
    jobs = home / ".runbook" / "jobs"
    jobs.mkdir(parents=True)
    running = None
    try:
        if record == "":
            (jobs / "sleeper-1-2").write_text("")
        elif record == "live":
            running = subprocess.Popen(["setsid", "sleep", "60"])
            time.sleep(0.2)
            (jobs / "sleeper-1-2").write_text(f"{running.pid} {int(time.time())} 65\n")
        looked = subprocess.run(["sh", "-c", command],
                                env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
                                capture_output=True, text=True, timeout=10, check=False)
    finally:
        if running is not None:
            running.kill()
            running.wait()
    assert looked.stderr == "", looked.stderr
    if record == "live":
        assert "sleep" in looked.stdout, looked.stdout
    else:
        assert looked.stdout.strip() == "ended", looked.stdout
