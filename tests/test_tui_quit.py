"""The quit dialog while the run moves on behind it (operator trial): what it
says stays true, and every answer that says "and quit" quits.

A real executor and journal over steps that need no host (tests/test_tui_fakes.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from runbook.events import StepChanged
from runbook.executor import Outcome
from runbook.facts import Facts
from runbook.journal_replay import replay
from runbook.model import Check, Phase, StepReport, StepState
from runbook.step import StepContext
from screens.app import RunbookApp
from screens.dialogs import ConfirmDialog, QuitDialog, RecoverDialog
from screens.widgets import Wrapped
from tests.polling import until
from tests.test_tui_fakes import WORDS_A_SENTENCE, Talk, longest_sentence, make_app
from tests.test_tui_pilot import SIZE, started, text_of

# How long a key that does nothing is given to do something, before the test
# says it did nothing: what the operator waited in the trial.
GRACE_S = 2.0


class Gated(Talk):
    """A step whose check holds until `checking` is set: the runbook is busy
    looking at the host, and no question is asked yet."""

    def __init__(self, step_id: str, checking: asyncio.Event) -> None:
        super().__init__(step_id)
        self.checking = checking

    async def check(self, ctx: StepContext[Facts]) -> Check:
        await self.checking.wait()
        return Check(False)


class Fails(Talk):
    async def verify(self, ctx: StepContext[Facts]) -> Check:
        return Check(False, "the nodegroups did not come back")


async def exited(app: object, what: str) -> None:
    """The app was told to exit (its return value is set only then)."""
    try:
        await until(lambda: getattr(app, "return_value", None) is not None, timeout=GRACE_S,
                    what=what)
    except AssertionError:
        raise AssertionError(f"the app stayed open: {what}") from None


async def quit_while_recreate_runs(app: RunbookApp, pilot: Pilot[Any]) -> None:
    """Confirm recreate (asked about), then q while it runs: the busy dialog."""
    await until(lambda: app.asking is not None, what="the question")
    await pilot.press("enter")
    await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
    await pilot.press(*"recreate", "enter")
    await until(lambda: app.run_state.running == "recreate", what="the step to run")
    await pilot.press("q")
    await until(lambda: isinstance(app.screen, QuitDialog), what="the quit dialog")


async def log_over_the_quit_dialog(app: RunbookApp, pilot: Pilot[Any]) -> None:
    """The busy quit dialog (q while recreate runs), then the full log over it."""
    await quit_while_recreate_runs(app, pilot)
    app.action_show_log()
    await until(lambda: not isinstance(app.screen, QuitDialog), what="the log over it")


async def said_after_ctrl_c(app: RunbookApp, pilot: Pilot[Any]) -> list[str]:
    """What ctrl+c said: a toast, or over a dialog the dialog's own notice line."""
    await pilot.press("ctrl+c")
    await pilot.pause()
    lines = [str(notice.render()) for notice in app.screen.query("#dialog-notice")
             if notice.display]
    return [n.message for n in app._notifications] + lines


@pytest.mark.parametrize("key", ["w", "a", "d", "y"])
async def test_the_last_step_ending_behind_the_busy_quit_dialog(tmp_path: Path,
                                                                 key: str) -> None:
    """Operator trial (100x30, 120x36): q while `recreate` ran; it finished
    behind the dialog (the stream manager back up, 17/17, the run done) and
    the dialog still said the stream manager was down and step 17 running;
    then w ("then stop ... and quit") or a ("... and quit") only closed it,
    and a second q was needed. Now the dialog says what is so, and whichever
    quitting key the operator presses (the old dialog's or the new one's)
    quits."""
    journal = tmp_path / "run.jsonl"
    gate = asyncio.Event()
    app = make_app(journal=journal, steps=[Talk("recreate", phase=Phase.CUTOVER, gate=gate)])
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await quit_while_recreate_runs(app, pilot)
        before = text_of(app.screen)
        step = app.by_id["recreate"]
        assert "stream manager is down" in before and f"Busy: step {step.number}" in before, \
            before
        gate.set()
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")
        await until(lambda: "The run has ended" in text_of(app.screen), timeout=GRACE_S,
                    what="the dialog to say the run has ended")
        after = text_of(app.screen)
        assert isinstance(app.screen, QuitDialog)
        assert "stream manager is down" not in after, after
        assert "Busy" not in after and f"{step.title} is running" not in after, after
        await pilot.press(key)
        await exited(app, f"{key} after the run ended behind the dialog")
    assert app.return_value is Outcome.DONE
    assert replay(journal).outcome == "done"


async def test_a_question_asked_behind_the_busy_quit_dialog(tmp_path: Path) -> None:
    """The other way round: q while the runbook checks the host (the dialog:
    busy, w waits for the step); the check ends and the next step is asked
    about, behind the dialog. It said busy still, and w then waited for a
    next question that had come already: neither stopped nor quit."""
    journal = tmp_path / "run.jsonl"
    checking = asyncio.Event()
    app = make_app(journal=journal, steps=[Gated("preflight", checking), Talk("new-database")])
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await pilot.pause()
        await pilot.press("q")
        await until(lambda: isinstance(app.screen, QuitDialog), what="the quit dialog")
        assert "checking the host" in text_of(app.screen)
        checking.set()
        await until(lambda: app.asking is not None, what="the question behind the dialog")
        await until(lambda: "Nothing is running" in text_of(app.screen), timeout=GRACE_S,
                    what="the dialog to say nothing runs")
        assert "Busy" not in text_of(app.screen)
        await pilot.press("w")  # the busy dialog's key, pressed as it changed
        await exited(app, "w with the runbook waiting on the operator")
    assert app.return_value is Outcome.STOPPED
    history = replay(journal)
    assert history.outcome == "stopped"
    assert history.state("preflight") is StepState.PENDING


async def test_a_step_failing_behind_the_quit_dialog_gives_way_to_its_question(
        tmp_path: Path) -> None:
    """A failed step asks what now (try again, roll back, stop); the quit
    dialog saying the step runs does not wait beneath it to be read after."""
    journal = tmp_path / "run.jsonl"
    gate = asyncio.Event()
    app = make_app(journal=journal, steps=[Fails("recreate", phase=Phase.CUTOVER, gate=gate)])
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await quit_while_recreate_runs(app, pilot)
        gate.set()
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the failure's dialog")
        assert not any(isinstance(s, QuitDialog) for s in app.screen_stack)
        # Operator trial: it promised "--resume picks it up", which a throwaway
        # rehearsal cannot; the way out names how to go on. (Once composed:
        # read as it was pushed, it was empty now and then.)
        await until(lambda: "how to go on" in text_of(app.screen), what="the dialog's text")
        shown = text_of(app.screen)
        assert "--resume" not in shown and "how to go on" in shown, shown
        await pilot.press("q")  # stop, there
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")
        await pilot.pause()
        assert not isinstance(app.screen, QuitDialog)
    assert app.outcome is Outcome.FAILED


async def test_a_quit_answer_that_comes_late_does_not_answer_the_failure(
        tmp_path: Path) -> None:
    """Review: Textual's dismiss pops whatever screen is on top. A click on the
    busy quit dialog queued as the step failed reached that dialog after the
    failure's question had taken its place, and popped the question unanswered:
    the run hung, with no dialog left to answer."""
    journal = tmp_path / "run.jsonl"
    gate = asyncio.Event()
    app = make_app(journal=journal, steps=[Fails("recreate", phase=Phase.CUTOVER, gate=gate)])
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await quit_while_recreate_runs(app, pilot)
        quitting = app.screen
        assert isinstance(quitting, QuitDialog)
        gate.set()
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the failure's dialog")
        quitting.dismiss("wait")  # the late answer, as a queued click would give it
        await pilot.pause()
        assert isinstance(app.screen, RecoverDialog), app.screen_stack


async def test_quitting_again_with_a_screen_over_the_quit_dialog_says_where_it_is(
        tmp_path: Path) -> None:
    """Review: with another screen over an open quit dialog (the full log, or
    the properties review the step opened), ctrl+c did nothing and said
    nothing: the operator could not tell a quit was already being asked."""
    journal = tmp_path / "run.jsonl"
    gate = asyncio.Event()
    app = make_app(journal=journal, steps=[Talk("recreate", phase=Phase.CUTOVER, gate=gate)])
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await log_over_the_quit_dialog(app, pilot)
        said = await said_after_ctrl_c(app, pilot)
        assert any("quit dialog" in line and "under" in line for line in said), said
        assert sum(isinstance(s, QuitDialog) for s in app.screen_stack) == 1
        gate.set()
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")


async def test_quitting_while_a_failed_step_asks_points_to_its_dialog_not_the_quit_dialog(
        tmp_path: Path) -> None:
    """Review: with the full log over the quit dialog, a step failed and its
    question came on top. ctrl+c then said to close "this screen" to reach the
    quit dialog, and on the failure's dialog escape stops the run."""
    journal = tmp_path / "run.jsonl"
    gate = asyncio.Event()
    app = make_app(journal=journal, steps=[Fails("recreate", phase=Phase.CUTOVER, gate=gate)])
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await log_over_the_quit_dialog(app, pilot)
        gate.set()
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the failure's dialog")
        said = await said_after_ctrl_c(app, pilot)
        assert said and "failed step" in said[-1] and "quit dialog" not in said[-1], said
        await pilot.press("q")  # stop, there
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")


async def test_a_dialog_over_a_dialog_still_shows_the_clocks(tmp_path: Path) -> None:
    """Operator trial: q over a step's confirmation (or from the full log)
    opened the quit dialog with an empty row where the downtime clock was:
    only a dialog right over the main screen was given the clocks."""
    from screens.dialogs import BUSY, Leaving, SkipDialog

    app = make_app(journal=tmp_path / "run.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.push_screen(SkipDialog(app.by_id["export-config"]))
        await pilot.pause()
        app.push_screen(QuitDialog(Leaving(BUSY, what="step 3 is running.")))
        await until(lambda: isinstance(app.screen, QuitDialog), what="the quit dialog")
        await pilot.pause()
        row = str(app.screen.query_one("#dialog-clocks").render_line(0).text)
        assert "elapsed" in row and "downtime" in row, repr(row)


async def failed_recreate(app: RunbookApp, pilot: Pilot[Any]) -> None:
    """Run the app's one step, a cutover step that fails (Fails("recreate")):
    its dialog (try again, roll back, stop) is up."""
    app.start_run()
    await until(lambda: app.asking is not None, what="the question")
    await pilot.press("enter")
    await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
    await pilot.press(*"recreate", "enter")
    await until(lambda: isinstance(app.screen, RecoverDialog), what="the failure's dialog")


async def test_escape_on_a_failed_steps_dialog_goes_back_to_read_and_stops_nothing(
        tmp_path: Path) -> None:
    """Operator trial (stop 26): escape on the failure's dialog meant Stop. A
    tired operator pressing it to read the output ended the run mid-cutover,
    and with it the way back the dialog offered. Escape now only lays the
    question aside: the run waits, and enter (or q) brings the dialog back."""
    journal = tmp_path / "run.jsonl"
    app = make_app(journal=journal, steps=[Fails("recreate", phase=Phase.CUTOVER)])
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        await failed_recreate(app, pilot)
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, RecoverDialog), what="the dialog to go")
        await asyncio.sleep(GRACE_S / 4)
        assert app.runner is not None and not app.runner.is_finished
        assert app.run_state.recovering == "recreate"
        assert "enter" in str(app.main.query_one("#hint").render())
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the dialog again")
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, RecoverDialog), what="the dialog to go")
        await pilot.press("q")  # leaving asks there: its q stops
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the dialog on q")
        await pilot.press("q")
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")
    assert app.outcome is Outcome.FAILED


async def test_the_quit_dialog_is_not_drawn_over_a_notice_still_showing(
        tmp_path: Path) -> None:
    """Re-trial 53 (L6): a notice (here `r`'s, while recreate ran) still
    showed on the main screen when q opened the quit dialog, which was drawn
    over it: the two read as one, and the notice stayed there, dimmed, after
    its time. The quit dialog opens over no notice."""
    from textual.widgets._toast import Toast

    journal = tmp_path / "run.jsonl"
    gate = asyncio.Event()
    app = make_app(journal=journal, steps=[Talk("recreate", phase=Phase.CUTOVER, gate=gate)])
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await started(app)
        app.start_run()
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.press(*"recreate", "enter")
        await until(lambda: app.run_state.running == "recreate", what="the step to run")
        await pilot.press("r")
        await until(lambda: bool(app.main.query(Toast)), what="r's notice")
        await pilot.press("q")
        await until(lambda: isinstance(app.screen, QuitDialog), what="the quit dialog")
        await pilot.pause()
        await until(lambda: not app.main.query(Toast), timeout=GRACE_S,
                    what="no notice under the quit dialog")
        assert not app._notifications, list(app._notifications)
        await pilot.press("n")
        gate.set()
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")


@pytest.mark.parametrize("stopping_s", [0.0, 1.0], ids=["at-once", "still-stopping"])
async def test_an_engine_error_as_the_closed_app_stops_the_run_is_said_not_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stopping_s: float
) -> None:
    """Review 55 L2: the app closed while a step ran; the run, cancelled, met
    an error as it stopped (the journal's disk full as it took the stop), as
    the app closed or while it was awaited after. It was swallowed, and only
    "stopped" was said. Now it is said, masked, and the run failed."""
    from screens.tui import finish_run
    from tests.polling import DEADLINE_S
    from tests.test_journal import _descriptor_of, _fill_the_disk_under

    journal = tmp_path / "run.jsonl"

    class FullAsItStops(Talk):
        async def run(self, ctx: StepContext[Facts]) -> None:
            try:
                await asyncio.sleep(DEADLINE_S)  # a long command on the host
            except asyncio.CancelledError:
                await asyncio.sleep(stopping_s)  # its stop sent to the host
                _fill_the_disk_under(_descriptor_of(journal))
                raise

    app = make_app(journal=journal, steps=[FullAsItStops("preflight")])
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.press("y")
        await until(lambda: app.run_state.running == "preflight", what="the step to run")
        # A secret the run learnt, as the error quotes it: the folder's name.
        app.session.redactor.add(tmp_path.name)
        app.exit()
    assert app.runner is not None
    assert app.runner.is_finished is (stopping_s == 0.0)
    await finish_run(app)
    said = capsys.readouterr().err
    assert "No space left on device" in said, said
    assert tmp_path.name not in said
    assert app.outcome is Outcome.FAILED


async def test_the_busy_quit_dialog_says_each_choice_in_short_sentences(
        tmp_path: Path) -> None:
    """Review 56b F12: Abort was one sentence of 60 words, with a nested
    parenthesis and three colons."""
    journal = tmp_path / "run.jsonl"
    gate = asyncio.Event()
    app = make_app(journal=journal, steps=[Talk("recreate", phase=Phase.CUTOVER, gate=gate)])
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await quit_while_recreate_runs(app, pilot)
        said = str(app.screen.query_one("#quit-text", Wrapped).content)
        longest = longest_sentence(said)
        assert len(longest.split()) <= WORDS_A_SENTENCE, longest
        for meant in ("Abort", "TERM", "KILL", "time limit", "stands", "wait just ends"):
            assert meant in said, said
        gate.set()
        await pilot.press("escape")


async def test_engine_events_arriving_as_the_app_closes_draw_nothing_and_raise_nothing(
        ) -> None:
    """Seen in an ad-hoc script that left the app without waiting for the
    run: an event that changes the keys (a step starting or ending) came in
    after the app had taken its screens down, and refresh_bindings raised
    ScreenStackError ("No screens on stack"). The engine goes on telling
    until its worker is cancelled, which is after the screens go."""
    app = make_app()

    async def engine() -> None:
        """Steps starting and ending, as fast as the executor can say it."""
        while True:
            for state in (StepState.RUNNING, StepState.DONE):
                app.front.tell(StepChanged(StepReport("preflight", state)))
                await asyncio.sleep(0)

    async with app.run_test(size=SIZE):
        await started(app)
        telling = asyncio.ensure_future(engine())
        await until(lambda: app.run_state.running == "preflight", what="the events in")
        # Left at once, the engine still telling.
    telling.cancel()
    await asyncio.gather(telling, return_exceptions=True)


async def test_a_journal_that_fills_its_disk_is_said_in_words_whole_and_w_says_no_report(
        tmp_path: Path, full_folder: Path) -> None:
    """Operator trial 59, F8: the journal's disk full mid-run showed
    "JournalWriteError: ..." (a class name), cut the instruction short with
    "…", `w` wrote no report without a word, and the exit lines left the
    cause out (headless says it last)."""
    from textual.widgets import Static

    (full_folder / "fill").unlink()  # room for the run's start
    journal = full_folder / "runbook" / "127.0.0.1-20261207T012009Z.jsonl"
    journal.parent.mkdir()

    class FillsTheDisk(Talk):
        async def run(self, ctx: StepContext[Facts]) -> None:
            await super().run(ctx)
            fill = os.open(full_folder / "fill", os.O_WRONLY | os.O_CREAT, 0o600)
            with contextlib.suppress(OSError):
                while True:
                    os.write(fill, b"\0" * 4096)
            os.close(fill)
            # Past the journal's last page, which still had room.
            ctx.info("a long line " * 1000)

    app = make_app(journal=journal, steps=[FillsTheDisk("preflight"), Talk("upload")])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await started(app)
        app.start_run()
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.press("y")
        await until(lambda: app.run_state.outcome is not None, what="the run's end")
        await pilot.pause()
        hint = str(app.main.query_one("#hint", Static).render())
        hint = " ".join(hint.split())
        assert "JournalWriteError" not in hint and "…" not in hint, hint
        assert "No space left on device" in hint and "then --resume" in hint, hint
        assert "w writes the report" in hint and "q quits" in hint, hint
        before = len(app._notifications)
        await pilot.press("w")
        await until(lambda: len(app._notifications) > before, timeout=GRACE_S,
                    what="a word on the report")
        said = " ".join(str(n.message) for n in app._notifications)
        assert "No report" in said and "No space left on device" in said, said
        app.exit()
    from screens.tui import exit_lines

    lines = exit_lines(app, Outcome.FAILED)
    assert any("No space left on device" in line and "then --resume" in line
               for line in lines), lines
    assert not any("JournalWriteError" in line for line in lines), lines


async def test_a_journal_removed_mid_run_is_said_once_with_the_whole_command(
        tmp_path: Path) -> None:
    """Operator trial 60, F8: the journal removed mid-run (80x24): the left
    pane said the same five-line reason twice, pushing the checklist off the
    screen, and its "go on with --resume --journal PATH" named no command.
    Once, and with the command the exit lines give."""
    from tests.test_tui_fakes import screen_text

    journal = tmp_path / "runbook" / "127.0.0.1-20261207T043000Z.jsonl"
    journal.parent.mkdir()

    class RemovesTheJournal(Talk):
        async def run(self, ctx: StepContext[Facts]) -> None:
            await super().run(ctx)
            journal.unlink()

    app = make_app(journal=journal, steps=[RemovesTheJournal("preflight"), Talk("upload")])
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await started(app)
        app.session.go_on = lambda at: f"runbook rehearse --sandbox SB --resume --journal {at}"
        app.start_run()
        for _ in range(2):
            await until(lambda: app.asking is not None or app.run_state.outcome is not None,
                        what="a question or the end")
            if app.run_state.outcome is not None:
                break
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
            await pilot.press("y")
            await until(lambda: app.asking is None or app.run_state.outcome is not None,
                        what="the answer taken")
        await until(lambda: app.run_state.outcome is not None, what="the run's end")
        await pilot.pause()
        shown = screen_text(app)
        print(shown)
        flat = " ".join(shown.split())
        assert flat.count("was removed during the run") == 1, shown
        assert "go on with runbook rehearse --sandbox SB --resume" in flat, shown
        app.exit()


async def test_the_quit_dialog_on_the_way_back_says_where_it_stands_and_how_it_goes_on(
        tmp_path: Path) -> None:
    """Trial 61, F4: ctrl+c at rollback-recreate's turn, rollback-start done
    ("API 3.1 answers from the old install"), and the quit dialog said "The
    stream manager is down: it stays down after you leave, until a run goes
    on from here or takes the way back": the way back was under way, and the
    old release answered. It says where the way back stands, as the exit
    line does, and that a run goes on with it."""
    from screens.dialogs import RollBackDialog, StopStepDialog
    from tests.test_tui_stop_step import confirm_recreate

    gate = asyncio.Event()
    app = make_app(journal=tmp_path / "run.jsonl",
                   steps=[Talk("recreate", phase=Phase.CUTOVER, gate=asyncio.Event())],
                   rollback=[Talk("rollback-start", phase=Phase.ROLLBACK),
                             Talk("rollback-recreate", phase=Phase.ROLLBACK, gate=gate)])
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await confirm_recreate(app, pilot)
        await pilot.press("x")
        await until(lambda: isinstance(app.screen, StopStepDialog), what="the stop dialog")
        await pilot.press("y")
        await until(lambda: isinstance(app.screen, RecoverDialog), what="recreate's question")
        await pilot.press("r")
        await until(lambda: isinstance(app.screen, RollBackDialog), what="the way back asked")
        await pilot.press("y")
        for step in ("rollback-start", "rollback-recreate"):
            await until(lambda step=step: app.run_state.asking == step, what=step)
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, ConfirmDialog), what="its dialog")
            await pilot.press(*step, "enter")
        await until(lambda: app.run_state.running == "rollback-recreate", what="it to run")
        await pilot.press("q")
        await until(lambda: isinstance(app.screen, QuitDialog), what="the quit dialog")
        said = " ".join(str(w.content) for w in app.screen.query(Wrapped))
        await pilot.press("a")
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")
    assert "takes the way back" not in said, said
    assert "on the way back" in said and "rollback-start talked" in said, said
    assert "goes on with the way back" in said, said


async def test_a_throwaway_rehearsals_busy_quit_dialog_promises_no_next_run(
        tmp_path: Path) -> None:
    """Review K2 (T): quitting while a step ran said "the next run (--resume)
    checks the host", where a rehearsal without --sandbox or --keep removes
    its host as it quits: no run comes next on it."""
    from dataclasses import replace

    from tests.test_tui_fakes import settings

    gate = asyncio.Event()
    app = make_app(journal=tmp_path / "run.jsonl",
                   steps=[Talk("recreate", phase=Phase.CUTOVER, gate=gate)],
                   settings_=replace(settings(), rehearsal_throwaway=True))
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await quit_while_recreate_runs(app, pilot)
        said = " ".join(text_of(app.screen).split())
        gate.set()
        await pilot.press("escape")
    assert "in doubt" in said, said
    assert "--resume" not in said and "next run" not in said, said
    assert "rehearse again" in said, said
    # Nor that a run may still go on from here: the stream manager down goes
    # with the host (review 63, left by T).
    assert "stream manager is down" in said and "until a run goes on" not in said, said
