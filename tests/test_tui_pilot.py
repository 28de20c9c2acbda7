"""How the TUI behaves, driven with Pilot: confirmation, skip, quit, review, resume,
output under load. The engine side is either events fed to the app's front end or
a real Executor over steps that need no host (tests/test_tui_fakes.py)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, Input, Static

import screens.app as app_module
from runbook.events import CutoverStarted, Output, RunEnded, StepChanged
from runbook.executor import Answer, Decision, Outcome, Recovery
from runbook.facts import Facts
from runbook.journal import Journal
from runbook.journal_replay import replay
from runbook.model import Check, EditFile, Phase, StepReport, StepState
from runbook.rehearsal import cloud
from runbook.step import StepContext
from screens.app import RunbookApp
from screens.dialogs import (
    ConfirmDialog,
    Dialog,
    QuitDialog,
    RecoverDialog,
    ResumeDialog,
    RollBackDialog,
    SkipDialog,
)
from screens.log_view import LogView
from screens.main import MainScreen
from screens.widgets import StatusBar, Wrapped
from tests.polling import until
from tests.test_tui_fakes import (
    TOKEN,
    WORDS_A_SENTENCE,
    FakeClock,
    Talk,
    ask,
    longest_sentence,
    make_app,
    plan_of,
    question,
    report,
    screen_text,
    settings,
    tell,
)

SIZE = (120, 40)


def text_of(screen: Screen[Any]) -> str:
    parts = []
    for widget in screen.query(Static):
        content = widget.content
        parts.append(getattr(content, "plain", None) or str(content))
    parts += [widget.content.plain for widget in screen.query(Wrapped)]
    parts += [row.plain for bar in screen.query(StatusBar) for row in bar.rows]
    return "\n".join(parts)


def collect_notes(app: RunbookApp) -> list[str]:
    notes: list[str] = []

    def note(message: str, **_: Any) -> None:
        notes.append(message)

    app.notify = note  # type: ignore[method-assign,assignment]
    return notes


async def started(app: RunbookApp) -> None:
    await until(lambda: app.drawn, what="the first paint")


async def test_enter_confirms_only_the_step_the_runbook_waits_on() -> None:
    app = make_app()
    notes = collect_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        answer = ask(app, "new-database", await plan_of("new-database"))
        await until(lambda: app.asking is not None, what="the question")
        await pilot.pause()
        assert app.main.checklist.selected_step == "new-database"

        # Selecting another step only shows it.
        app.main.checklist.select_step("preflight")
        await pilot.pause()
        assert "Preflight checks" in text_of(app.main)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is app.main
        assert any("Steps run in order" in n for n in notes)
        assert not answer.done()
        # The one it waits on is selected again: the next enter opens it.
        assert app.main.checklist.selected_step == "new-database"
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        shown = text_of(app.screen)
        assert "127.0.0.1 port 2222" in shown and "red5admin" in shown and "sudo -n" in shown
        assert "-h 127.0.0.3" in shown and "SELECT 1" in shown
        assert "Not destructive" in shown
        await pilot.press("y")
        assert await answer == Decision(Answer.RUN)
        await pilot.pause()
        assert app.screen is app.main


async def _asked_for_its_id(app: RunbookApp, pilot: Pilot[Any]
                           ) -> tuple[asyncio.Task[Decision], ConfirmDialog]:
    """delete-nodegroups asked, and its confirmation open: its answer to come, the dialog."""
    await started(app)
    answer = ask(app, "delete-nodegroups", await plan_of("delete-nodegroups"))
    await until(lambda: app.asking is not None, what="the question")
    await pilot.press("enter")
    await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
    assert isinstance(app.screen, ConfirmDialog)
    return answer, app.screen


async def test_a_destructive_step_needs_its_id_typed() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        answer, dialog = await _asked_for_its_id(app, pilot)
        assert "DESTRUCTIVE" in text_of(dialog)
        await pilot.press("y")  # goes into the field, does not confirm
        await pilot.pause()
        assert app.screen is dialog and not answer.done()
        typed = dialog.query_one(Input)
        typed.value = "delete-nodegroup"
        await pilot.press("enter")
        await pilot.pause()
        assert "type delete-nodegroups exactly" in text_of(dialog)
        assert dialog.query_one("#confirm-run", Button).disabled
        typed.value = "delete-nodegroups"
        await pilot.pause()
        assert not dialog.query_one("#confirm-run", Button).disabled
        await pilot.press("enter")
        assert await answer == Decision(Answer.RUN)


async def test_after_a_wrong_id_the_next_typing_replaces_it() -> None:
    """Operator trial: a wrong id stayed in the field after "That is not it",
    and the next typing went on the end of it ("...set-asiderollback-...").
    It stays in view, selected, and what is typed next takes its place."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        answer, dialog = await _asked_for_its_id(app, pilot)
        await pilot.press(*"delete-nodegroup", "enter")
        await pilot.pause()
        assert "type delete-nodegroups exactly" in text_of(dialog)
        assert dialog.query_one(Input).value == "delete-nodegroup", "left in view"
        await pilot.press(*"delete-nodegroups", "enter")
        assert await answer == Decision(Answer.RUN)


async def test_a_step_destructive_this_time_says_so_in_its_pane_and_dialog() -> None:
    """Review 56b F5: schema asked over its own unfinished import (it drops
    those tables first) wants its id typed, yet the Step pane said "asks for
    y" and the dialog's badge said it "deletes or moves files on the host"."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        plan = await plan_of("schema")
        answer = asyncio.ensure_future(app.front.confirm(
            StepReport("schema", destructive_now=True), plan))
        await until(lambda: app.asking is not None, what="the question")
        await pilot.pause()
        pane = text_of(app.main)
        assert "asks for y" not in pane and "asks for its id" in pane, pane
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.pause()
        shown = text_of(app.screen)
        assert "DESTRUCTIVE" in shown and "files" not in shown.split("What runs")[0], shown
        answer.cancel()


async def test_going_back_leaves_the_step_waiting() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        answer = ask(app, "preflight", await plan_of("preflight"))
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.main
        assert not answer.done() and app.asking is not None
        answer.cancel()


async def test_a_skip_needs_a_reason() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        answer = ask(app, "carry-over", await plan_of("carry-over"))
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("s")
        await until(lambda: isinstance(app.screen, SkipDialog), what="the skip dialog")
        await pilot.press("enter")
        await pilot.pause()
        assert "A reason is required" in text_of(app.screen)
        assert str(app.screen.query_one("#skip-cancel", Button).label) == "Back (esc)"
        assert not answer.done()
        app.screen.query_one(Input).value = "exported by hand, ticket 42"
        await pilot.press("enter")
        assert await answer == Decision(Answer.SKIP, "exported by hand, ticket 42")


class _Checking(Talk):
    """A step whose check holds until `checking` is set: nothing is asked meanwhile."""

    def __init__(self, step_id: str, checking: asyncio.Event) -> None:
        super().__init__(step_id)
        self.checking = checking

    async def check(self, ctx: StepContext[Facts]) -> Check:
        await self.checking.wait()
        return Check(False)


async def test_once_a_step_is_skipped_the_hint_no_longer_offers_it(tmp_path: Path) -> None:
    """Review 56b F1: skipped, new-database's "enter shows exactly what ... will
    run" stayed in the hint while the next step's check ran (the question was
    kept twice, and only a step starting cleared the hint's copy), and enter
    then said the runbook was checking the host."""
    journal = tmp_path / "run.jsonl"
    checking = asyncio.Event()
    app = make_app(journal=journal, steps=[Talk("new-database"), _Checking("upload", checking)])
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("s")
        await until(lambda: isinstance(app.screen, SkipDialog), what="the skip dialog")
        app.screen.query_one(Input).value = "made by hand, ticket 42"
        await pilot.press("enter")
        await until(lambda: app.run_state.states["new-database"] == StepState.SKIPPED.value,
                    what="the skip")
        await pilot.pause()
        hint = str(app.main.query_one("#hint", Static).render())
        assert app.by_id["new-database"].title not in hint and "enter" not in hint, hint
        assert app.run_state.asking is None and app.asking is None
        checking.set()
        await until(lambda: app.asking is not None and app.asking.report.id == "upload",
                    what="the next question")
        app.exit()


async def test_the_skip_dialogs_back_button_names_the_key_a_keymap_gives_it() -> None:
    """Re-trial 53 (noticed): the skip dialog's "Back (esc)" was written in,
    whatever key a keymap gave its way back; the other dialogs' buttons say
    their keys as the footer does."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.set_keymap({"skip-back": "ctrl+g"})
        await started(app)
        answer = ask(app, "carry-over", await plan_of("carry-over"))
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("s")
        await until(lambda: isinstance(app.screen, SkipDialog)
                    and bool(app.screen.query("#skip-cancel")), what="the skip dialog")
        await pilot.pause()
        assert str(app.screen.query_one("#skip-cancel", Button).label) == "Back (^g)"
        await pilot.press("ctrl+g")
        await until(lambda: app.screen is app.main, what="back from the skip dialog")
        assert not answer.done()
        answer.cancel()


class _TemplateAsShipped(Talk):
    """A prepare step whose check finds the file as shipped: the cutover
    cannot work without it (the properties step's Check.cutover_needs)."""

    async def check(self, ctx: StepContext[Facts]) -> Check:
        return Check(False, "the file on the host is still the template as shipped",
                     cutover_needs="the new stream manager would start with "
                     "config.dbHost={host}, not the new database")


async def test_skipping_a_step_the_cutover_needs_says_the_cutover_will_be_refused(
        tmp_path: Path) -> None:
    """Re-trial 53 (L6): skipping properties on the template as shipped, the
    TUI's skip dialog said nothing of it; only after the skip was it said that
    the cutover would not begin (headless says it at the skip, and the engine
    refuses the cutover). The skip dialog says it before the skip is
    confirmed, from what the step's check found (through the engine, not
    the step); a step whose check finds nothing of the kind says nothing."""
    journal = tmp_path / "run.jsonl"
    app = make_app(journal=journal, steps=[_TemplateAsShipped("properties"), Talk("carry-over")])
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("s")
        await until(lambda: isinstance(app.screen, SkipDialog), what="the skip dialog")
        await pilot.pause()
        said = " ".join(text_of(app.screen).split())
        assert "the cutover will not begin" in said.lower(), said
        assert "config.dbHost={host}" in said and "--resume offers it again" in said, said
        app.screen.query_one(Input).value = "done by hand"
        await pilot.press("enter")
        await until(lambda: app.asking is not None and app.asking.report.id == "carry-over",
                    what="the next question")
        await pilot.press("s")
        await until(lambda: isinstance(app.screen, SkipDialog), what="the skip dialog")
        await pilot.pause()
        said = " ".join(text_of(app.screen).split())
        assert "will not begin" not in said, said
        await pilot.press("escape")
        await until(lambda: app.screen is app.main, what="back from the skip dialog")
        await pilot.press("q")
        await until(lambda: isinstance(app.screen, QuitDialog), what="the quit dialog")
        await pilot.press("y")
        await until(lambda: app.return_value is not None, what="the app to end")


async def test_a_throwaway_rehearsal_s_skip_dialog_offers_a_new_rehearsal_not_resume(
        tmp_path: Path) -> None:
    """A throwaway rehearsal's host goes as it ends, so --resume has nothing
    to go on with: its skip dialog says a new rehearsal offers the step again."""
    journal = tmp_path / "run.jsonl"
    app = make_app(journal=journal, steps=[_TemplateAsShipped("properties")],
                   settings_=replace(settings(), rehearsal_throwaway=True))
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("s")
        await until(lambda: isinstance(app.screen, SkipDialog), what="the skip dialog")
        await pilot.pause()
        said = " ".join(text_of(app.screen).split())
        assert "the cutover will not begin" in said.lower(), said
        assert "--resume" not in said and "a new rehearsal offers it again" in said, said
        await pilot.press("escape")
        await until(lambda: app.screen is app.main, what="back from the skip dialog")
        await pilot.press("q")
        await until(lambda: isinstance(app.screen, QuitDialog), what="the quit dialog")
        await pilot.press("y")
        await until(lambda: app.return_value is not None, what="the app to end")


async def test_skipping_a_step_with_a_caution_says_it_first() -> None:
    """Operator trial: carry-over could be skipped with no word that without
    LICENSE.KEY the new server does not start, which its confirmation says."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        ask(app, "carry-over", await plan_of("carry-over"))
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("s")
        await until(lambda: isinstance(app.screen, SkipDialog), what="the skip dialog")
        assert "Without LICENSE.KEY the new server does not start" in text_of(app.screen)


async def test_a_step_that_cannot_be_skipped_says_so_before_asking() -> None:
    app = make_app()
    notes = collect_notes(app)
    app.by_id["preflight"] = replace(app.by_id["preflight"], skippable=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        answer = ask(app, "preflight", await plan_of("preflight"))
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("s")
        await pilot.pause()
        assert app.screen is app.main and "cannot be skipped" in notes[-1]
        assert not answer.done()
        answer.cancel()


async def test_before_the_cutover_r_says_there_is_nothing_to_roll_back() -> None:
    app = make_app()
    notes = collect_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        tell(app, StepChanged(report("preflight", StepState.DONE, "ok", 1.0)))
        app.main.checklist.select_step("preflight")
        await pilot.press("r")
        await pilot.pause()
    assert notes, "r says something"
    assert "nothing to roll back" in notes[-1].lower(), notes[-1]
    assert "no step has" not in notes[-1] and "runbook rollback" not in notes[-1], notes[-1]


async def test_r_while_a_cutover_step_runs_says_where_the_way_back_starts() -> None:
    from runbook.events import CutoverStarted

    app = make_app()
    notes = collect_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        # As the engine tells it once the step began the cutover: the way
        # back is open at its question (StepReport.way_back_open).
        tell(app, CutoverStarted("delete-nodegroups", app.clock()),
             StepChanged(StepReport("delete-nodegroups", StepState.RUNNING,
                                    way_back_open=True)))
        await pilot.press("r")
        await pilot.pause()
    assert notes and "nothing to roll back" not in notes[-1].lower(), notes
    # A step that will not end need not be sat out: x stops it (stop 37).
    assert "stop it (x)" in notes[-1] and "runbook rollback" in notes[-1], notes[-1]
    # Review 56b F12: four sentences and a command, one of them 23 words long.
    longest = longest_sentence(notes[-1])
    assert len(longest.split()) <= WORDS_A_SENTENCE, longest


async def press_r_after_a_failed_cutover_step(app: RunbookApp) -> None:
    """r once the cutover's first step failed, with no question from the run."""
    from runbook.events import CutoverStarted

    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        tell(app, CutoverStarted("delete-nodegroups", app.clock()),
             StepChanged(report("delete-nodegroups", StepState.FAILED, "HTTP 500")))
        await pilot.press("r")
        await pilot.pause()


async def test_r_in_a_rehearsal_says_how_to_practise_the_way_back_from_here() -> None:
    """Operator trial (stop 23, item 5): a rehearsal's `r` named only `runbook
    rollback CONFIG`, which a rehearsal has no config for."""
    app = make_app()
    notes = collect_notes(app)
    await press_r_after_a_failed_cutover_step(app)
    assert "practise" in notes[-1] and "--sandbox" in notes[-1], notes[-1]
    # No words to fill in (night trial, stop 44): a throwaway rehearsal has no
    # command to give, and says what a real run's would be in words.
    assert "CONFIG" not in notes[-1] and "JOURNAL" not in notes[-1], notes[-1]


async def test_r_in_a_lasting_rehearsal_names_the_command_that_goes_back() -> None:
    """Night trial (stop 44): with --sandbox, the rehearsal's own way back is
    known (its exit line and report name it), yet r gave a template."""
    from runbook.standing import WayBack

    asked: list[Path] = []

    def going_back(journal: Path) -> WayBack:
        asked.append(journal)
        return WayBack("runbook rehearse --sandbox /s --resume --journal /j --rollback-after "
                       "rename", "it runs rename again first")

    app = make_app(going_back=going_back)
    notes = collect_notes(app)
    await press_r_after_a_failed_cutover_step(app)
    assert asked == [app.journal_path]
    # The command last, as it is pasted: its note before it, no full stop after it
    # (second review).
    assert notes[-1].endswith("quit (q), then run this (it runs rename again first): "
                              "runbook rehearse --sandbox /s --resume --journal /j "
                              "--rollback-after rename"), notes[-1]
    # Wrapped in a notice, it was hard to copy whole (operator trial, stop 47).
    assert app.clipboard == ("runbook rehearse --sandbox /s --resume --journal /j "
                             "--rollback-after rename"), app.clipboard


def test_the_rollback_key_says_what_it_does_in_the_footer_and_palette() -> None:
    from screens.palette import operator_commands

    binding = next(b for b in MainScreen.BINDINGS if getattr(b, "id", "") == "rollback")
    assert "selected step" not in (binding.tooltip or "")
    assert "way back" in (binding.tooltip or "")

    class Nobody:
        def __getattr__(self, name: str) -> Any:
            return lambda: None

    palette = next(c for c in operator_commands(Nobody(), [], lambda: None, lambda _: None)
                   if c.title == "Roll back")
    assert "none has one" not in palette.help and "way back" in palette.help


async def test_the_properties_review_opens_and_its_answer_reaches_the_step(
        monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[dict[str, Any]] = []

    class Review(Screen[bool]):
        def __init__(self, review: object, **options: Any) -> None:
            super().__init__()
            opened.append({"review": review, **options})

    monkeypatch.setattr(app_module, "load_review_screen", lambda: Review)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        tell(app, StepChanged(report("properties", StepState.RUNNING)))
        subject = type("R", (), {"old_name": "live.properties", "new_name": "new.properties"})()
        finished = asyncio.ensure_future(
            app.front.review("properties", subject, decisions_path=Path("d.toml")))
        await until(lambda: isinstance(app.screen, Review), what="the review screen")
        assert app.run_state.states["properties"] == StepState.NEEDS_REVIEW.value
        target = next(a.path for a in app.run_state.plans["properties"]
                      if isinstance(a, EditFile))
        assert opened == [{"review": subject, "decisions_path": Path("d.toml"),
                           "old_name": "live.properties", "new_name": "new.properties",
                           "in_run": True, "host_file": target, "throwaway": False}]
        app.screen.dismiss(True)
        assert await finished is True
        await pilot.pause()
        assert app.run_state.states["properties"] == StepState.RUNNING.value
        assert app.reviewing is None


async def test_without_the_editor_the_review_is_declined_plainly(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "load_review_screen", lambda: None)
    app = make_app()
    notes = collect_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        await pilot.press("d")
        assert "properties step runs" in notes[-1]
        assert await app.front.review("properties", object(), decisions_path=None) is False
        assert "no properties editor" in notes[-1]


# --- leaving, with a real executor --------------------------------------------------------


async def first_question(app: RunbookApp) -> None:
    """Start the app's run over its steps (a real executor and journal) up to
    its first question."""
    await started(app)
    app.start_run()
    await until(lambda: app.asking is not None, what="the first question")


async def test_the_next_question_says_how_the_last_step_ended(tmp_path: Path) -> None:
    """Once a step is done the view moves on to the next one, and its result
    ("no java process of the old install remains") was only on the finished
    step's own page: the operator went on without reading it."""
    journal = tmp_path / "run.jsonl"
    app = make_app(journal=journal, steps=[Talk("preflight"), Talk("new-database")])
    async with app.run_test(size=SIZE) as pilot:
        await first_question(app)
        assert "talked" not in str(app.main.query_one("#hint", Static).render())
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.press("y")
        await until(lambda: app.asking is not None and app.asking.report.id == "new-database",
                    what="the second question")
        await pilot.pause()
        hint = str(app.main.query_one("#hint", Static).render())
        assert "enter" in hint and "preflight talked" in hint
        # Its page's output, and the full log, end with it too, as `runbook log` does.
        assert list(app.store.lines["preflight"])[-1] == "* done: preflight talked"
        app.exit()


class AlreadyDone(Talk):
    async def check(self, ctx: StepContext[Facts]) -> Check:
        return Check(True, "it was there already")


async def test_a_step_found_done_does_not_take_the_output_pane(tmp_path: Path) -> None:
    """Only a step that ran gets its result as an output line: a step found
    done by its check, between the one that ran and the next question, took
    the pane (which shows the step whose output came last) from it."""
    journal = tmp_path / "run.jsonl"
    app = make_app(journal=journal, steps=[Talk("preflight"), AlreadyDone("new-database"),
                                           Talk("export-config")])
    async with app.run_test(size=SIZE) as pilot:
        await first_question(app)
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.press("y")
        await until(lambda: app.asking is not None and app.asking.report.id == "export-config",
                    what="the question after the step found done")
        assert app.store.last_step == "preflight"
        assert "new-database" not in app.store.lines
        app.exit()


async def test_after_an_upgrade_the_way_back_reads_as_not_needed() -> None:
    """Its rows stay pending (nothing of it ran), which after a finished
    upgrade read as work left; its heading now says it is not needed."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        heading = app.main.checklist.get_option("group-rollback")
        assert "not needed" not in str(heading.prompt)
        tell(app, RunEnded(Outcome.DONE.value, 0))
        await pilot.pause()
        heading = app.main.checklist.get_option("group-rollback")
        assert "not needed" in str(heading.prompt)


async def test_quitting_between_steps_stops_the_run_cleanly(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    app = make_app(journal=journal, steps=[Talk("preflight"), Talk("new-database")])
    async with app.run_test(size=SIZE) as pilot:
        await first_question(app)
        await pilot.press("q")
        await until(lambda: isinstance(app.screen, QuitDialog), what="the quit dialog")
        said = text_of(app.screen)
        assert "Nothing is running" in said
        # How to go on is what runbook says as it quits
        # (--resume for a rehearsal), not "start again": that began a new run.
        assert "begins a new run" not in said
        assert "says how to go on from here" in said
        await pilot.press("y")
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")
    assert app.outcome is Outcome.STOPPED
    assert app.return_value is Outcome.STOPPED
    history = replay(journal)
    assert history.finished and history.outcome == "stopped"
    assert history.state("preflight") is StepState.PENDING


async def test_quitting_while_the_stream_manager_is_down_says_so(tmp_path: Path) -> None:
    """Operator trial: in the cutover, with the nodegroups deleted, q said only
    "Nothing is running" and where the journal stopped; leaving then leaves
    the stream manager down, which the dialog must say before the operator
    goes."""
    journal = tmp_path / "run.jsonl"
    app = make_app(journal=journal, steps=[Talk("preflight"), Talk("new-database")])
    async with app.run_test(size=SIZE) as pilot:
        await first_question(app)
        tell(app, CutoverStarted("delete-nodegroups", app.clock()))
        await pilot.press("q")
        await until(lambda: isinstance(app.screen, QuitDialog), what="the quit dialog")
        assert "stream manager is down" in text_of(app.screen), text_of(app.screen)


def held_at_first(journal: Path, gate: asyncio.Event) -> RunbookApp:
    """The app over a run whose first step holds until `gate` is set."""
    return make_app(journal=journal, steps=[Talk("preflight", gate=gate), Talk("new-database")])


async def run_until_quit_is_asked(app: RunbookApp, pilot: Pilot[Any], key: str) -> None:
    """Start the run of :func:`held_at_first`, confirm its first step, and
    press `key` while it runs, up to the quit dialog."""
    await started(app)
    app.start_run()
    await until(lambda: app.asking is not None, what="the question")
    await pilot.press("enter")
    await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
    await pilot.press("y")
    await until(lambda: app.run_state.running == "preflight", what="the step to run")
    await pilot.press(key)
    await until(lambda: isinstance(app.screen, QuitDialog), what="the quit dialog")


async def test_abort_cancels_the_running_step_and_the_journal_says_in_doubt(
        tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    gate = asyncio.Event()  # never set: the step "runs" until it is cancelled
    app = held_at_first(journal, gate)
    async with app.run_test(size=SIZE) as pilot:
        await run_until_quit_is_asked(app, pilot, "ctrl+c")
        dialog = app.screen
        assert not dialog.query_one("#quit-detach", Button).disabled
        assert "in doubt" in text_of(dialog)
        await pilot.press("a")
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")
    assert app.outcome is Outcome.STOPPED
    history = replay(journal)
    assert history.finished and history.outcome == "stopped"
    assert history.state("preflight") is StepState.IN_DOUBT
    # Trial: nothing said it was aborted: the report read "Cut off" and "no end
    # recorded", as for a crash, and a resumed run "never heard how it ended".
    events = [json.loads(line)["event"] for line in journal.read_text().splitlines()]
    assert "aborted" in events
    assert history.steps["preflight"].aborted
    from runbook.report import build
    from runbook.report_md import markdown

    text = markdown(build(journal))
    assert "the operator aborted preflight" in text, text
    assert "no end recorded" not in text, text


async def test_detach_leaves_the_command_and_the_journal_says_so(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    gate = asyncio.Event()
    app = held_at_first(journal, gate)
    async with app.run_test(size=SIZE) as pilot:
        await run_until_quit_is_asked(app, pilot, "q")
        await pilot.press("d")
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")
    events = [json.loads(line)["event"] for line in journal.read_text().splitlines()]
    assert "detached" in events
    history = replay(journal)
    assert history.outcome == "stopped"
    assert history.state("preflight") is StepState.IN_DOUBT
    # The report says what went on in words true of a command and of an API
    # wait alike (operator trial: recreate's wait "went on on the host").
    from runbook.report import build

    remarks = build(journal).remarks
    # A rehearsal's host stops with runbook (trial: "went on without runbook").
    assert any("the rehearsal host stopped with runbook" in r for r in remarks), remarks


async def quit_once_the_step_ends(app: RunbookApp, pilot: Pilot[Any]) -> None:
    """The run of :func:`held_at_first`, and q, w pressed as its first step runs."""
    await run_until_quit_is_asked(app, pilot, "q")
    await pilot.press("w")
    await until(lambda: app.run_state.stop_requested, what="the stop to wait")


async def test_wait_lets_the_step_finish_then_stops(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    gate = asyncio.Event()
    app = held_at_first(journal, gate)
    async with app.run_test(size=SIZE) as pilot:
        await quit_once_the_step_ends(app, pilot)
        assert not app.runner.is_finished  # type: ignore[union-attr]
        gate.set()
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")
    assert app.outcome is Outcome.STOPPED
    history = replay(journal)
    assert history.state("preflight") is StepState.DONE
    assert history.state("new-database") is StepState.PENDING
    assert history.outcome == "stopped"


class FailsOnce(Talk):
    """Holds on its gate, then fails its first attempt; the next one passes."""

    failed = False

    async def run(self, ctx: StepContext[Facts]) -> None:
        await super().run(ctx)
        if not self.failed:
            from runbook.step import StepFailed

            self.failed = True
            raise StepFailed("the service's API did not answer")


async def test_try_again_after_a_wait_then_quit_calls_the_quit_off(tmp_path: Path) -> None:
    """q, w (wait for the step, then quit) and then, the step having failed,
    t (try again): the run ended at once, "stopped" with the stream manager
    down, and the journal had the operator answer "stop" to the retry
    (operator trial, stop 47). The later answer is the one meant."""
    journal = tmp_path / "run.jsonl"
    gate = asyncio.Event()
    app = make_app(journal=journal, steps=[FailsOnce("preflight", gate=gate), Talk("new-database")])
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.press("y")
        await until(lambda: app.run_state.running == "preflight", what="the step to run")
        await pilot.press("q")
        await until(lambda: isinstance(app.screen, QuitDialog), what="the quit dialog")
        await pilot.press("w")
        await until(lambda: app.run_state.stop_requested, what="the stop to wait")
        gate.set()
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the failure dialog")
        await pilot.press("t")
        await until(lambda: (app.asking is not None and app.asking.report.id == "preflight")
                    or (app.runner is not None and app.runner.is_finished),
                    what="the step asked again, or the end")
        assert app.runner is not None and not app.runner.is_finished, "the run ended"
        assert not app.run_state.stop_requested and not app.exit_when_done
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.press("y")
        await until(lambda: app.asking is not None and app.asking.report.id == "new-database",
                    what="the next step's question")
        app.asking.answer.set_result(Decision(Answer.STOP))
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")
    history = replay(journal)
    assert history.state("preflight") is StepState.DONE
    answers = [(record["step"], record["answer"]) for line in journal.read_text().splitlines()
               if (record := json.loads(line))["event"] == "confirm"]
    assert answers[-1] == ("new-database", "stop"), answers
    assert ("preflight", "stop") not in answers, answers


async def test_stay_calls_off_a_quit_that_waits_for_the_step(tmp_path: Path) -> None:
    """q, w, then ctrl+c and Stay (n): the quit chosen first still came when
    the step ended (operator trial, stop 47). Stay is the answer meant now,
    and the dialog says so while a quit waits."""
    journal = tmp_path / "run.jsonl"
    gate = asyncio.Event()
    app = held_at_first(journal, gate)
    async with app.run_test(size=SIZE) as pilot:
        await quit_once_the_step_ends(app, pilot)
        await pilot.press("ctrl+c")
        await until(lambda: isinstance(app.screen, QuitDialog), what="the quit dialog again")
        assert "calls it off" in text_of(app.screen), text_of(app.screen)
        await pilot.press("n")
        await until(lambda: app.screen is app.main, what="the main screen")
        assert not app.run_state.stop_requested and not app.exit_when_done
        gate.set()
        await until(lambda: app.asking is not None and app.asking.report.id == "new-database",
                    what="the next step's question")
        app.asking.answer.set_result(Decision(Answer.STOP))
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")


async def test_ctrl_c_inside_a_dialog_asks_before_leaving(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    app = make_app(journal=journal, steps=[Talk("preflight")])
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.press("ctrl+c")
        await until(lambda: isinstance(app.screen, QuitDialog), what="the quit dialog")
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog again")
        await pilot.press("y")
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")
    assert app.outcome is Outcome.DONE
    assert app.run_state.states["preflight"] == StepState.DONE.value


# --- output under load -------------------------------------------------------------------


async def test_100000_lines_reach_the_pane_in_batches_while_keys_are_pressed() -> None:
    app = make_app()
    total = 100_000
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        tell(app, StepChanged(report("upload", StepState.RUNNING)))
        app.main.checklist.select_step("upload")
        await pilot.pause()
        log = app.main.log_widget
        writes = 0
        original = log.write_lines

        def counting(lines: Any, scroll_end: bool | None = None) -> Any:
            nonlocal writes
            writes += 1
            return original(lines, scroll_end)

        log.write_lines = counting  # type: ignore[method-assign]

        async def stream() -> None:
            # The way asyncssh hands lines over: bursts, with the loop free in between.
            for start in range(0, total, 2000):
                for n in range(start, start + 2000):
                    app.front.tell(Output("upload", "out" if n % 50 else "err", f"line {n}"))
                await asyncio.sleep(0)

        producer = asyncio.ensure_future(stream())
        while not producer.done():
            await pilot.press("down", "up")
        await producer
        await until(lambda: log.lines and log.lines[-1] == "  line 99999", what="the last line")
    assert len(app.store.of("upload")) == total
    assert len(log.lines) == app_module.SHOWN_LINES
    # How quickly keys are answered meanwhile is benchmarks/tui_throughput.py's
    # to measure: a timed assertion here would fail on a busy machine.
    assert writes < 200, f"{writes} writes: the pane must batch"


# --- resume, estimate, bindings ---------------------------------------------------------


def unfinished_journal(path: Path) -> Path:
    journal = Journal(path)
    journal.write("run-start", config="rehearsal.toml", host="x", rehearsal=True, steps=[])
    journal.write("step-start", step="preflight")
    journal.write("step-end", step="preflight", state="done", detail="ok")
    journal.write("step-end", step="new-database", state="skipped", detail="",
                  reason="checked by the DBA")
    journal.write("step-start", step="export-config")
    journal.write("action-start", step="export-config", n=1, kind="shell",
                  text="$ curl the nodegroups")
    journal.close()
    return path


def hold_the_run(app: RunbookApp) -> list[bool]:
    """The app's run is not started; the list says whether it would have been."""
    starts: list[bool] = []
    app.start_run = lambda procedure=None: starts.append(True)  # type: ignore[method-assign]
    return starts


async def continue_it(app: RunbookApp, pilot: Pilot[Any], starts: list[bool]) -> None:
    """Answer the resume dialog with "Continue it", and wait for the run."""
    await until(lambda: isinstance(app.screen, ResumeDialog), what="the resume dialog")
    await pilot.pause()
    await pilot.press("c")
    await until(lambda: starts, what="the run to start")


async def test_resume_shows_the_earlier_run_read_only(tmp_path: Path) -> None:
    earlier = unfinished_journal(tmp_path / "earlier.jsonl")
    app = make_app(journal=tmp_path / "now.jsonl", resume=earlier)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, ResumeDialog), what="the resume dialog")
        await pilot.pause()
        shown = text_of(app.screen)
        assert "did not finish" in shown and "in doubt" in shown
        assert "$ curl the nodegroups" in shown and "checked by the DBA" in shown
        assert "Continue it" in shown and "New run" in shown
        await pilot.press("escape")
        await pilot.pause()
    assert app.runner is None and app.return_value is Outcome.STOPPED
    assert not (tmp_path / "now.jsonl").exists()


async def test_a_damaged_outcome_in_the_earlier_run_is_shown_as_stored(tmp_path: Path) -> None:
    """Review: the outcome is whatever the journal's JSON holds; a list in its
    place raised TypeError (unhashable) where the dialog puts it in words."""
    earlier = unfinished_journal(tmp_path / "earlier.jsonl")
    written = Journal(earlier)
    written.write("run-end", outcome=["odd"], exit_code=1)
    written.close()
    app = make_app(journal=tmp_path / "now.jsonl", resume=earlier)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, ResumeDialog), what="the resume dialog")
        await pilot.pause()
        assert "it ended ['odd']" in text_of(app.screen)


async def test_the_resume_dialog_says_how_the_earlier_run_ended(tmp_path: Path) -> None:
    """Operator trial: a run whose terminal closed was shown as "it ended
    stopped", which says neither what stopped it nor reads as a sentence."""
    earlier = unfinished_journal(tmp_path / "earlier.jsonl")
    written = Journal(earlier)
    written.write("run-end", outcome="stopped", exit_code=129)
    written.close()
    app = make_app(journal=tmp_path / "now.jsonl", resume=earlier)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, ResumeDialog), what="the resume dialog")
        await pilot.pause()
        shown = text_of(app.screen)
        assert "it was stopped: the terminal closed (SIGHUP)" in shown, shown
        assert "ended stopped" not in shown


async def test_continuing_an_earlier_run_resumes_it_in_its_own_journal(tmp_path: Path) -> None:
    earlier = unfinished_journal(tmp_path / "earlier.jsonl")
    app = make_app(journal=tmp_path / "now.jsonl", resume=earlier)
    starts = hold_the_run(app)
    async with app.run_test(size=SIZE) as pilot:
        await continue_it(app, pilot, starts)
        assert app.journal_path == earlier
        assert app.session.resume is not None and app.session.resume.path == earlier
        app.main.checklist.select_step("export-config")
        await pilot.pause()
        assert "in flight: $ curl the nodegroups" in text_of(app.main)


async def test_d_says_what_it_can_while_the_properties_step_runs_without_its_review(
) -> None:
    """Review: with the step running and no review open (left already, or none
    needed), d said the review opens when the step runs, as it ran; then that
    it was closed, when none had been opened."""
    app = make_app()
    notes = collect_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        await pilot.press("d")
        await pilot.pause()
        assert "runbook diff OLD NEW" in notes[-1], notes
        tell(app, StepChanged(report("properties", StepState.RUNNING)))
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        assert "No properties review is open now" in notes[-1], notes


@pytest.mark.parametrize("state", [StepState.DONE, StepState.SKIPPED, StepState.NEEDS_REVIEW])
async def test_d_after_the_properties_step_says_its_review_is_over(state: StepState) -> None:
    """Stop 21's trial: once the step had run, d still said its review opens
    when it runs. Left with keys open (trial 55 F5), the step waits: d says
    how to take the review up again."""
    app = make_app()
    notes = collect_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        tell(app, StepChanged(report("properties", state)))
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        said = notes[-1]
        assert "opens when the properties step runs" not in said, said
        assert {StepState.DONE: "is done: its review is over",
                StepState.SKIPPED: "was skipped: no keys were reviewed or written",
                StepState.NEEDS_REVIEW: "was left with keys open: trying the step again "
                                        "opens it"}[state] in said, said
        assert "runbook diff OLD NEW" in said, said


async def test_opening_notes_wait_until_the_resume_dialog_is_answered(tmp_path: Path) -> None:
    """Operator trial: the opening's notices sat over the resume dialog's
    buttons ("Continue it (c)") for their 10 seconds."""
    earlier = unfinished_journal(tmp_path / "earlier.jsonl")
    app = make_app(journal=tmp_path / "now.jsonl", resume=earlier)
    app.notes = ("rehearsal host: red5admin@127.0.0.1:2222, sandbox /tmp/x",
                 f"note: an unfinished run is in {earlier}; --resume continues it")
    notes = collect_notes(app)
    starts = hold_the_run(app)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, ResumeDialog), what="the resume dialog")
        await pilot.pause()
        assert notes == [], "a notice over the dialog"
        await pilot.press("c")
        await until(lambda: starts, what="the run to start")
        # Continued: the note offering to continue it is not said again.
        assert notes == list(app.notes[:1])


@pytest.mark.parametrize("size", [(100, 30), (120, 40), (80, 24)], ids=str)
async def test_the_opening_notes_on_resume_cover_not_the_step_nor_its_output(
        tmp_path: Path, size: tuple[int, int]) -> None:
    """Operator trial: `rehearse --sandbox DIR --resume`, c at the resume
    dialog: three notices (the rehearsal host, the service adopted, the
    pace) lay over the step's explanation and plan at 100x30, and over the
    output at 80x24, just as the operator read what the resume would do.
    They come as one notice, beside the step where the checklist shows;
    below 100 columns, where one lay over the step's title (trial 57, F5),
    in the output pane alone."""
    from textual.widgets._toast import Toast

    earlier = unfinished_journal(tmp_path / "earlier.jsonl")
    app = make_app(journal=tmp_path / "now.jsonl", resume=earlier)
    app.notes = ("rehearsal host: red5admin@127.0.0.1:2222, sandbox /tmp/sbX",
                 "adopted the service left running by an earlier rehearsal (pid 12345)",
                 "rehearsal pace fast (40x a real cloud); RUNBOOK_REHEARSAL_PACE sets it")
    starts = hold_the_run(app)
    async with app.run_test(size=size, notifications=True) as pilot:
        await until(lambda: isinstance(app.screen, ResumeDialog), what="the resume dialog")
        await pilot.pause()
        await pilot.press("c")
        await until(lambda: starts, what="the run to start")
        await until(lambda: "pid 12345" in "\n".join(app.main.log_widget.lines),
                    what="the notes in the output")
        if size[0] < 100:
            await pilot.pause(0.3)
            assert not app.screen.query(Toast)
            return
        await until(lambda: bool(app.screen.query(Toast)), what="the notice")
        await pilot.pause(0.3)
        toasts = list(app.screen.query(Toast))
        assert len(toasts) == 1, [t.region for t in toasts]
        said = str(toasts[0].render())
        assert "pid 12345" in said and "pace fast" in said and "2222" in said, said
        panes = ["#output", "#hint", "#detail"]
        for pane in map(app.main.query_one, panes):
            assert not toasts[0].region.overlaps(pane.region), (toasts[0].region, pane.region)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=str)
async def test_notices_on_another_screen_stay_where_textual_puts_them(
        tmp_path: Path, size: tuple[int, int]) -> None:
    """Second review (stop 52): the notices moved off the step's pane went
    to the top on every screen, the properties review's too, over its key
    table. Only the main screen's are moved."""
    from textual.screen import Screen
    from textual.widgets._toast import Toast

    from screens.properties_review import PropertiesReviewScreen

    class Another(Screen[None]):
        """Sized as the properties review is: -narrow, -wide."""
        HORIZONTAL_BREAKPOINTS = PropertiesReviewScreen.HORIZONTAL_BREAKPOINTS

    app = make_app(journal=tmp_path / "now.jsonl")
    async with app.run_test(size=size, notifications=True) as pilot:
        await started(app)
        await app.push_screen(Another())
        app.notify("a notice")
        await until(lambda: bool(app.screen.query(Toast)), what="the notice")
        await pilot.pause(0.3)
        (toast,) = app.screen.query(Toast)
        assert toast.region.y > size[1] // 2, toast.region


async def test_a_new_run_after_the_resume_view_uses_a_fresh_journal(tmp_path: Path) -> None:
    earlier = unfinished_journal(tmp_path / "earlier.jsonl")
    app = make_app(journal=tmp_path / "now.jsonl", resume=earlier)
    starts = hold_the_run(app)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, ResumeDialog), what="the resume dialog")
        await pilot.pause()
        await pilot.click("#resume-start-over")
        await until(lambda: starts, what="the run to start")
        assert app.journal_path == tmp_path / "now.jsonl" and app.session.resume is None


async def test_a_continued_run_is_not_its_own_estimate(tmp_path: Path) -> None:
    """Review: the estimate was looked for once, for the fresh journal the run
    would have had; continued, the run's own journal (its cutover timed before
    it failed) was the newest at its pace, and the clock counted down from
    the run's own first try. Continued, the estimate is looked for again as
    the report looks for it: before the run began, not the run itself."""
    older = Journal(tmp_path / "older.jsonl")
    older.write("run-start", config="rehearsal.toml", host="u@127.0.0.1:1", rehearsal=True,
                pace=cloud.FAST_PACE, steps=[], resumed=False)
    older.write("cutover-end", complete=True, downtime_s=42.5)
    older.write("run-end", outcome="done", exit_code=0)
    older.close()
    when = time.time() - 7200
    os.utime(older.path, (when, when))
    earlier = Journal(tmp_path / "earlier.jsonl")
    earlier.write("run-start", config="rehearsal.toml", host="u@127.0.0.1:1", rehearsal=True,
                  pace=cloud.FAST_PACE, steps=["recreate"], resumed=False)
    earlier.write("cutover-start", step="delete-nodegroups")
    earlier.write("cutover-end", complete=True, downtime_s=123.0)
    earlier.write("step-start", step="recreate")
    earlier.write("step-end", step="recreate", state="failed", detail="an origin did not start")
    earlier.write("run-end", outcome="failed", exit_code=1)
    earlier.close()
    fast = replace(settings(), rehearsal_pace=cloud.FAST_PACE)
    app = make_app(journal=tmp_path / "now.jsonl", resume=earlier.path, settings_=fast)
    starts = hold_the_run(app)
    async with app.run_test(size=SIZE) as pilot:
        await continue_it(app, pilot, starts)
        await until(lambda: app.run_state.estimate_s is not None, what="the estimate")
        await pilot.pause()
    assert app.run_state.estimate_s == 42.5


async def test_the_downtime_estimate_comes_from_the_newest_earlier_journal(
        tmp_path: Path) -> None:
    """Of a rehearsal at this one's pace: one at another pace (here the real
    one, newer still) took a time that says nothing of this one's."""
    for ago, (name, pace, downtime) in enumerate((("c-real.jsonl", cloud.REAL_PACE, 410.0),
                                                  ("b-newer.jsonl", cloud.FAST_PACE, 42.5),
                                                  ("a-older.jsonl", cloud.FAST_PACE, 99.0)),
                                                 start=1):
        written = Journal(tmp_path / name)
        written.write("run-start", config="rehearsal.toml", host="u@127.0.0.1:1",
                      rehearsal=True, pace=pace, steps=[], resumed=False)
        written.write("cutover-end", complete=True, downtime_s=downtime)
        written.close()
        when = time.time() - 60 * ago
        os.utime(written.path, (when, when))
    fast = replace(settings(), rehearsal_pace=cloud.FAST_PACE)
    app = make_app(journal=tmp_path / "now.jsonl", clock_=FakeClock(), settings_=fast)
    async with app.run_test(size=SIZE):
        await until(lambda: app.run_state.estimate_s is not None, what="the estimate")
        await until(lambda: "42.5s" in text_of(app.main), what="the estimate on screen")
    assert app.run_state.estimate_s == 42.5


def test_every_binding_has_an_id() -> None:
    for owner in (RunbookApp, MainScreen, ConfirmDialog, SkipDialog, QuitDialog, ResumeDialog,
                  RecoverDialog, Dialog, LogView):
        for binding in owner.BINDINGS:
            assert getattr(binding, "id", None), f"{owner.__name__}: {binding}"


async def test_the_footer_and_palette_offer_every_action() -> None:
    """Roll back joins the footer once the stream manager is down (stop 26);
    the palette offers it all along."""
    from runbook.events import CutoverStarted

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        tell(app, CutoverStarted("delete-nodegroups", app.clock()))
        await until(lambda: app.run_state.service_down, what="the cutover")
        await pilot.pause()
        shown = {binding.action for _, binding, _, _ in app.screen.active_bindings.values()
                 if binding.show}
        for action in ("app.run_step", "app.skip_step", "app.rollback",
                       "focus_log", "toggle_steps", "app.request_quit"):
            assert action in shown, action
        # Properties is in the footer only while a review waits (operator trial).
        assert "app.review_properties" not in shown
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in ("Run the next step", "Skip the next step", "Roll back",
                      "Review properties", "Focus the output", "Quit"):
            assert title in titles
        assert "Show step 11: Delete the nodegroups" in titles
        assert titles.count("Quit") == 1
        # Operator trial (stop 38): a theme picker is noise in the window, and
        # a theme of the operator's own could blur the states' colours.
        assert "Theme" not in titles, titles
        assert "Keys" in titles, "Textual's other commands stay"


@pytest.mark.parametrize("state", [StepState.DONE, StepState.SKIPPED])
async def test_the_palette_drops_the_properties_review_once_its_step_has_ended(
        state: StepState) -> None:
    """Operator trial: mid-cutover the palette still offered "Review properties",
    which only said the review was over."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Review properties" in titles, "offered while the step is ahead"
        tell(app, StepChanged(report("properties", state, "merged")))
        await until(lambda: app.run_state.states.get("properties") == state.value,
                    what="the step's end")
        await pilot.pause()
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Review properties" not in titles, titles


async def test_while_a_failed_step_waits_the_palette_offers_its_answer() -> None:
    """Left at stop 35: with a failed step's question laid aside (escape), the
    palette said "Run the next step", which opened that question instead."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        failed = report("backup-live", StepState.FAILED, "mv refused", 0.1)
        tell(app, StepChanged(failed))
        answer = asyncio.ensure_future(app.front.recover(failed, can_roll_back=True))
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the failure dialog")
        await pilot.press("escape")
        await until(lambda: app.screen is app.main, what="the main screen")
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Run the next step" not in titles, titles
        entry = next(c for c in app.get_system_commands(app.screen)
                     if c.title == "Answer step 12's failure")
        assert "try it again" in entry.help and "roll back" in entry.help and "stop" in entry.help
        entry.callback()
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the question again")
        answer.cancel()


@pytest.mark.parametrize("retry_helps", [True, False])
async def test_the_hint_under_a_failed_steps_question_names_what_it_offers(
        retry_helps: bool) -> None:
    """Operator trial (`--fault start-fails`, 80x24): under the dialog's "Try
    again (t)  Roll back (r)  Stop (q)" the hint said "enter shows the choices
    (try it again, stop, and the way back where offered)". While the question
    is open the hint names its keys; once escape lays it aside, enter."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(app)
        failed = report("start-service", StepState.FAILED, "the API never answered", 0.1)
        failed.retry_helps = retry_helps
        tell(app, StepChanged(failed))
        answer = asyncio.ensure_future(app.front.recover(failed, can_roll_back=True))
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the failure dialog")
        await until(lambda: bool(app.screen.query("#recover-stop")), what="its buttons")
        await pilot.pause()
        hint = str(app.main.query_one("#hint").render())
        assert "enter shows the choices" not in hint, hint
        assert "r takes the way back" in hint and "q stops the run" in hint, hint
        assert ("t tries it again" in hint) is retry_helps, hint
        assert hint.replace("\n", " ").split()[-1] in screen_text(app), screen_text(app)
        await pilot.press("escape")
        await until(lambda: app.screen is app.main, what="the main screen")
        hint = str(app.main.query_one("#hint").render())
        assert "enter shows the choices" in hint and "q stops the run" not in hint, hint
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the question again")
        await pilot.pause()
        hint = str(app.main.query_one("#hint").render())
        assert "enter shows the choices" not in hint and "q stops the run" in hint, hint
        answer.cancel()


async def test_the_hint_under_the_way_back_asked_from_a_failed_step_names_its_keys() -> None:
    """Helper's fix (stop 52) left it: r in a failed step's question asks
    "Roll back?" once more, and under that the hint said "enter shows the
    choices" again. It names what that question takes: y, and n or escape
    back to the failed step's question."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(app)
        failed = report("start-service", StepState.FAILED, "the API never answered", 0.1)
        tell(app, StepChanged(failed))
        answer = asyncio.ensure_future(app.front.recover(failed, can_roll_back=True))
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the failure dialog")
        await until(lambda: bool(app.screen.query("#recover-stop")), what="its buttons")
        await pilot.press("r")
        await until(lambda: isinstance(app.screen, RollBackDialog), what="the way back asked")
        await pilot.pause()
        hint = str(app.main.query_one("#hint").render())
        assert "enter shows the choices" not in hint, hint
        assert "y takes the way back" in hint and "n or esc goes back" in hint, hint
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the question again")
        await pilot.pause()
        hint = str(app.main.query_one("#hint").render())
        assert "q stops the run" in hint and "y takes" not in hint, hint
        answer.cancel()


async def test_a_failure_a_retry_cannot_mend_offers_no_try_again() -> None:
    """Re-trial (stop 49): a fleet changed since its snapshot was refused with
    stop and --resume as the way on, and the dialog offered "Try again",
    focused, which met the same refusal."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        failed = report("delete-nodegroups", StepState.FAILED, "the fleet changed", 0.1)
        failed.retry_helps = False
        tell(app, StepChanged(failed))
        answer = asyncio.ensure_future(app.front.recover(failed, can_roll_back=False))
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the failure dialog")
        await until(lambda: bool(app.screen.query("#recover-text")), what="its text")
        assert not app.screen.query("#recover-retry")
        assert "Try again" not in app.screen.query_one("#recover-text", Wrapped).content.plain
        await pilot.press("t")
        await pilot.pause()
        assert not answer.done()
        await pilot.press("escape")  # the question laid aside: the hint says its choices
        await until(lambda: app.screen is app.main, what="the main screen")
        hint = str(app.main.query_one("#hint").render())
        assert "enter shows the choices" in hint and "try it again" not in hint, hint
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the dialog again")
        await until(lambda: bool(app.screen.query("#recover-stop")), what="its buttons")
        # No button has the focus (re-trial 53: an enter typed ahead pressed
        # one): enter chooses nothing; q stops.
        await pilot.press("enter")
        await pilot.pause()
        assert not answer.done()
        await pilot.press("q")
        await until(answer.done, what="the answer")
        assert answer.result() is Recovery.STOP


@pytest.mark.parametrize("outcome", [Outcome.DONE, Outcome.ROLLED_BACK])
async def test_roll_back_leaves_the_footer_once_there_is_nothing_to_go_back_from(
        outcome: Outcome) -> None:
    """Operator trial: "r Roll back" stayed in the footer after the upgrade
    was done, and after the way back."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        tell(app, RunEnded(outcome.value, outcome.exit_code))
        await until(lambda: app.outcome is outcome, what="the end of the run")
        await pilot.pause()
        shown = {binding.action for _, binding, _, _ in app.screen.active_bindings.values()
                 if binding.show and app.check_action(binding.action.removeprefix("app."), ())}
        assert "app.rollback" not in shown, shown
        # Nor in the palette, with the steps there are none left to run or skip.
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for gone in ("Roll back", "Run the next step", "Skip the next step"):
            assert gone not in titles, titles
        assert "Write the report" in titles and "Full log" in titles


async def test_at_80_columns_the_footer_keeps_the_way_back_while_the_service_is_down() -> None:
    """Operator trial (stop 26): at 80x24 the footer ended before "r Roll back"
    all through the cutover, when the way back matters most; before it, the
    keys of the preparation keep their places."""
    from runbook.events import CutoverStarted

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(app)
        await pilot.pause()
        before = screen_text(app).rstrip().splitlines()[-1]
        tell(app, CutoverStarted("delete-nodegroups", app.clock()))
        await until(lambda: app.run_state.service_down, what="the cutover")
        await pilot.pause()
        during = screen_text(app).rstrip().splitlines()[-1]
        # The palette still offers it, once.
        titles = [command.title for command in app.get_system_commands(app.screen)]
    assert "r Roll back" in during, during
    assert "r Roll back" not in before and "y Copy" in before, before
    assert titles.count("Roll back") == 1, titles


def test_cutover_steps_always_ask_for_the_id() -> None:
    infos = {card.id: card for card in make_app().cards}
    assert all(info.needs_typed_confirmation for info in infos.values()
               if info.phase is Phase.CUTOVER)
    assert infos["strip-autoscale"].needs_typed_confirmation
    assert not infos["preflight"].needs_typed_confirmation


def test_after_a_real_runs_cutover_stopped_r_names_the_exact_command(tmp_path: Path) -> None:
    from runbook.standing import WayBack, rollback_command
    from screens.run_state import RunState
    from screens.views import way_back

    app = make_app()
    state = RunState(app.cards, "x", down_since=1000.0)
    state.ended(Outcome.STOPPED)
    command = rollback_command("/etc/runbook/sm 1.toml", tmp_path / "run.jsonl")
    text, down = way_back(state, WayBack(command))
    assert down and text.endswith(f": {command}"), text  # pasted as it ends (review)
    assert command == f"runbook rollback '/etc/runbook/sm 1.toml' --journal {tmp_path}/run.jsonl"


async def test_a_step_found_done_is_in_the_full_log_but_keeps_the_pane_where_it_was() -> None:
    """Operator trial: after a resume, the full log (L) never said why the step
    cut off was counted done ("already done: every saved nodegroup has its
    origins in service"), where `runbook log` did. The output pane still
    stays on the step whose output came last."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        tell(app, Output("upload", "out", "sent 300 MiB"),
             StepChanged(report("recreate", StepState.DONE,
                                "already done: every saved nodegroup has its origins")))
        await pilot.pause()
        history = [line for step, line in app.store.history if step == "recreate"]
        assert any("already done: every saved nodegroup" in line for line in history), history
        assert app.store.last_step == "upload"


async def test_only_the_step_asked_now_is_your_turn() -> None:
    """Operator trial: at start-service's question the operator chose the way
    back; the checklist then showed "your turn" beside start-service and
    beside the way back's first step, as no later word of the executor
    changed start-service's row."""
    from screens.presentation import NEXT
    from screens.run_state import RunState

    app = make_app()
    state = RunState(app.cards, "x")
    state.apply(StepChanged(StepReport("start-service", StepState.FAILED, "no")), 1.0)
    state.asked(question("start-service"))
    state.asked(question("rollback-set-aside"))
    turns = [step for step, shown in state.states.items() if shown == NEXT]
    assert turns == ["rollback-set-aside"], turns
    assert state.states["start-service"] == StepState.FAILED.value


async def test_a_question_left_for_the_way_back_shows_its_step_as_it_was(tmp_path: Path) -> None:
    """Operator trial: resumed mid-cutover, the way back was chosen at
    preflight's question. Preflight's row said "your turn" all the way back
    (only the row asked about was drawn again), and counted as not done
    (steps 14/17) where the run's end said 15 of 17: the earlier run did it."""
    from screens.presentation import NEXT

    earlier = unfinished_journal(tmp_path / "earlier.jsonl")
    app = make_app(journal=tmp_path / "now.jsonl", resume=earlier)
    starts = hold_the_run(app)
    async with app.run_test(size=SIZE) as pilot:
        await continue_it(app, pilot, starts)
        ask(app, "preflight", await plan_of("preflight"))
        await until(lambda: app.asking is not None, what="preflight's question")
        await pilot.pause()
        assert app.main.checklist.shown["preflight"][0] == NEXT
        ask(app, "rollback-stop-new", [])
        await until(lambda: app.asking is not None and app.asking.report.id
                    == "rollback-stop-new", what="the way back's question")
        await pilot.pause()
        assert app.run_state.states["preflight"] == StepState.DONE.value
        assert app.main.checklist.shown["preflight"][0] == StepState.DONE.value
        turns = [step for step, (shown, _) in app.main.checklist.shown.items() if shown == NEXT]
        assert turns == ["rollback-stop-new"], turns


async def test_a_screenshot_from_the_palette_is_saved_without_a_downloads_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator trial: in a HOME with no Downloads folder the palette's
    Screenshot said only "Failed to save screenshot"."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    journal = tmp_path / "runs" / "run.jsonl"
    journal.parent.mkdir()
    app = make_app(journal=journal)
    notes = collect_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        (command,) = [c for c in app.get_system_commands(app.screen) if c.title == "Screenshot"]
        command.callback()  # as the palette runs it
        await until(lambda: list(journal.parent.glob("*.svg")), what="the screenshot")
        await pilot.pause()
    assert not (home / "Downloads").exists()
    assert any("Saved screenshot" in note for note in notes), notes


async def test_a_double_tap_of_r_does_not_take_the_way_back() -> None:
    """Operator trial: mid-cutover, `r r` at start-service chose the way back
    (the dialog's confirm key was r too), and this run cannot return to the
    upgrade. It is confirmed with y, and says it stands once chosen."""
    from screens.dialogs import RollBackDialog

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        tell(app, CutoverStarted("delete-nodegroups", app.clock()),
             StepChanged(report("delete-nodegroups", StepState.DONE, "gone", 1.0)))
        asked = asyncio.ensure_future(app.front.confirm(
            StepReport("backup-live", way_back_open=True), []))
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("r", "r")
        await pilot.pause()
        assert isinstance(app.screen, RollBackDialog), app.screen
        assert not asked.done(), "a double tap chose nothing"
        said = text_of(app.screen)
        assert "does not return to the upgrade" in said, said
        await pilot.press("y")
        await until(lambda: asked.done(), what="the answer")
    assert asked.result().answer is Answer.ROLLBACK


async def test_r_at_a_question_goes_back_only_where_the_engine_says_it_can() -> None:
    """Review 56b, F4: r at a step's question opened the way back's dialog
    by the TUI's own reckoning (the stream manager down, a forward step),
    where the engine has the last word: resumed after a completed cutover
    it refuses the way back. r goes by the question's report
    (StepReport.way_back_open)."""
    from screens.dialogs import RollBackDialog

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        tell(app, CutoverStarted("delete-nodegroups", app.clock()))
        asked = asyncio.ensure_future(app.front.confirm(
            StepReport("preflight", way_back_open=False), []))
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, RollBackDialog), app.screen
        assert not asked.done()
        asked.cancel()


async def test_r_at_preflight_of_a_resumed_cutover_names_the_step_it_goes_back_instead_of(
        ) -> None:
    """Operator trial: resumed mid-cutover, preflight runs again first, and r
    there asked "Roll back instead of step 1: Preflight checks?": what the
    operator gives up is the cutover, going on at its next step."""
    from screens.dialogs import RollBackDialog

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        tell(app, CutoverStarted("delete-nodegroups", app.clock()),
             *[StepChanged(report(step, StepState.DONE, "ok", 1.0)) for step in (
                 "delete-nodegroups", "backup-live", "promote-new", "stop-service")])
        asked = ask(app, "preflight", [], way_back_open=True)
        await until(lambda: app.asking is not None, what="preflight's question")
        await pilot.press("r")
        await until(lambda: isinstance(app.screen, RollBackDialog), what="the dialog")
        await pilot.pause()
        said = " ".join(text_of(app.screen).split())
        service_unit = app.by_id["service-unit"]
        assert "instead of step 1" not in said, said
        assert f"step {service_unit.number}: {service_unit.title}" in said, said
        await pilot.press("escape")
        asked.cancel()


async def way_back_asked_at_a_failure(app: RunbookApp, pilot: Pilot[Any]
                                      ) -> asyncio.Future[Any]:
    """backup-live failed mid-cutover, and r in its question asked to confirm
    the way back; the question's answer, still to come."""
    from screens.dialogs import RollBackDialog

    failed = report("backup-live", StepState.FAILED, "mv refused", 0.1)
    tell(app, CutoverStarted("delete-nodegroups", app.clock()), StepChanged(failed))
    answer = asyncio.ensure_future(app.front.recover(failed, can_roll_back=True))
    await until(lambda: isinstance(app.screen, RecoverDialog), what="the failure dialog")
    await pilot.press("r")
    await until(lambda: isinstance(app.screen, RollBackDialog), what="the confirmation")
    return answer


async def test_r_at_a_failure_asks_before_it_takes_the_way_back() -> None:
    """Operator trial: r pressed for the main screen's way back landed in the
    failure question that opened under it half a second later, and chose the
    way back at once. From the failure question too, it is confirmed with y;
    escape there brings the failure's question back."""
    from runbook.executor import Recovery
    from screens.dialogs import RollBackDialog

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        answer = await way_back_asked_at_a_failure(app, pilot)
        assert not answer.done()
        await pilot.press("r")  # a second r answers nothing
        await pilot.pause()
        assert isinstance(app.screen, RollBackDialog) and not answer.done()
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the question again")
        await pilot.press("r")
        await until(lambda: isinstance(app.screen, RollBackDialog), what="the confirmation")
        await pilot.press("y")
        await until(lambda: answer.done(), what="the answer")
    assert answer.result() is Recovery.ROLLBACK


async def test_quit_over_the_failed_steps_way_back_question_asks_nothing_else() -> None:
    """Review: with the failure's "roll back?" confirmation open (r in its
    question), ctrl+c found no failure question on the stack and opened it
    again on top; answered there, the confirmation stayed, its y dead."""
    from screens.dialogs import RollBackDialog

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()  # a runner that has not finished, as while a step's question waits
        answer = await way_back_asked_at_a_failure(app, pilot)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert isinstance(app.screen, RollBackDialog), app.screen_stack
        assert not any(isinstance(s, RecoverDialog) for s in app.screen_stack), app.screen_stack
        answer.cancel()


async def test_the_hint_under_a_failed_steps_question_follows_a_keymap() -> None:
    """Re-trial: the hint under the failure dialog named t, r and q (and y, n
    or escape under "Roll back?") written in, so a keymap that moved a
    binding left the hint naming a key that does nothing there. The keys it
    names are the dialog's own, as its bindings stand."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.set_keymap({"recover-retry": "g", "rollback-now": "o"})
        await started(app)
        failed = report("start-service", StepState.FAILED, "the API never answered", 0.1)
        tell(app, StepChanged(failed))
        answer = asyncio.ensure_future(app.front.recover(failed, can_roll_back=True))
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the failure dialog")
        await until(lambda: bool(app.screen.query("#recover-stop")), what="its buttons")
        await pilot.pause()
        hint = " ".join(str(app.main.query_one("#hint").render()).split())
        assert "g tries it again" in hint and "t tries" not in hint, hint
        assert "r takes the way back" in hint and "q stops the run" in hint, hint
        # The dialog's own words and buttons say the same keys.
        assert str(app.screen.query_one("#recover-retry", Button).label) == "Try again (g)"
        words = app.screen.query_one("#recover-text", Wrapped).content.plain
        assert "g  Try again" in words and "t  Try again" not in words, words
        await pilot.press("r")
        await until(lambda: isinstance(app.screen, RollBackDialog)
                    and bool(app.screen.query("#rollback-go")), what="the way back asked")
        await pilot.pause()
        assert str(app.screen.query_one("#rollback-go", Button).label) == "Roll back (o)"
        hint = " ".join(str(app.main.query_one("#hint").render()).split())
        assert "o takes the way back" in hint and "y takes" not in hint, hint
        assert "n or esc goes back" in hint, hint
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the question again")
        await pilot.press("g")
        await until(answer.done, what="the answer")
        assert answer.result() is Recovery.RETRY


async def test_the_keys_a_failed_steps_question_names_are_said_as_the_footer_says_them() -> None:
    """Review: the hint named a keymap's keys by Textual's names ("question_mark
    tries it again"), and the way back's "Back (esc)" button was written in,
    whatever key a keymap gave it. Both say the keys as the footer does."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.set_keymap({"recover-retry": "question_mark", "rollback-back": "ctrl+g"})
        await started(app)
        failed = report("start-service", StepState.FAILED, "the API never answered", 0.1)
        tell(app, StepChanged(failed))
        answer = asyncio.ensure_future(app.front.recover(failed, can_roll_back=True))
        await until(lambda: isinstance(app.screen, RecoverDialog)
                    and bool(app.screen.query("#recover-stop")), what="the failure dialog")
        await pilot.pause()
        hint = " ".join(str(app.main.query_one("#hint").render()).split())
        assert "? tries it again" in hint and "question_mark" not in hint, hint
        assert str(app.screen.query_one("#recover-retry", Button).label) == "Try again (?)"
        await pilot.press("r")
        await until(lambda: isinstance(app.screen, RollBackDialog)
                    and bool(app.screen.query("#rollback-stay")), what="the way back asked")
        await pilot.pause()
        assert str(app.screen.query_one("#rollback-stay", Button).label) == "Back (^g)"
        hint = " ".join(str(app.main.query_one("#hint").render()).split())
        assert "n or ^g goes back" in hint and "ctrl+g" not in hint, hint
        await pilot.press("ctrl+g")
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the question again")
        await pilot.press("question_mark")
        await until(answer.done, what="the answer")
        assert answer.result() is Recovery.RETRY


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_r_while_a_step_runs_never_shows_part_of_the_command(
        size: tuple[int, int]) -> None:
    """Operator trial 53 (item 3): at 80x24, `r` while delete-nodegroups ran
    showed the lasting rehearsal's command cut before `--rollback-after
    delete-nodegroups`: what was on screen resumed the upgrade. The whole
    command shows, or none of it."""
    from runbook.standing import WayBack

    command = ("runbook rehearse --sandbox /tmp/hD-work/sb4 --resume --journal "
               "/tmp/hD-home/.local/state/runbook/runs/2026-12-06T05-40-11Z-sb4.jsonl "
               "--rollback-after delete-nodegroups")
    app = make_app(going_back=lambda _journal: WayBack(command))
    async with app.run_test(size=size, notifications=True) as pilot:
        await started(app)
        # As the engine tells it once the step began the cutover: the way
        # back is open at its question (StepReport.way_back_open).
        tell(app, CutoverStarted("delete-nodegroups", app.clock()),
             StepChanged(StepReport("delete-nodegroups", StepState.RUNNING,
                                    way_back_open=True)))
        await pilot.press("r")
        await until(lambda: bool(app.main.query("Toast")), what="the notice")
        await pilot.pause(0.3)
        assert app.clipboard == command
        rows = screen_text(app).splitlines()
        notice = " ".join(rows[y][toast.region.x:toast.region.right].strip(" ▌")
                          for toast in app.main.query("Toast")
                          for y in range(toast.region.y, toast.region.bottom))
    assert "quit (q)" in notice, notice
    # Wrapped whole (a long path may break across rows): none of it is cut off.
    assert "runbook rehearse" not in notice or "".join(command.split()) in "".join(
        notice.split()), \
        "\n".join(rows)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_a_way_back_step_that_found_nothing_to_do_says_already_done(
        size: tuple[int, int]) -> None:
    """Operator trial 53 (item 11): after r, the way back's steps that found
    their work in place were ticked as done ("18 ✓ Stop the new release"
    stopped nothing); the headless summary says "already done" of them.
    Review 56b, F6: told by the report's found_done, not by its words."""
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await started(app)
        tell(app, CutoverStarted("delete-nodegroups", app.clock()),
             StepChanged(report("delete-nodegroups", StepState.FAILED, "HTTP 500")),
             StepChanged(StepReport("rollback-stop-new", StepState.DONE,
                                    "the new release is not running", 0.2, found_done=True)),
             StepChanged(report("rollback-set-aside", StepState.DONE, "moved aside", 0.3)))
        if size[0] < 100:
            await pilot.press("c")  # the checklist, in the step's place
        app.main.checklist.select_step("rollback-set-aside")  # in view
        await pilot.pause()
        rows = screen_text(app).splitlines()
    found = next(row for row in rows if "Stop the new release" in row)
    assert "already" in found and " done " not in found.replace("already done", ""), found
    acted = next(row for row in rows if "Set the new tree aside" in row)
    assert "✓" in acted and "already" not in acted, acted


@pytest.mark.parametrize("retry_helps", [True, False])
async def test_an_enter_typed_ahead_presses_no_button_of_a_failure_question(
        tmp_path: Path, retry_helps: bool) -> None:
    """Re-trial 53: properties skipped, then y at schema, then enter (meant
    to open delete-nodegroups' question): the refusal's failure question had
    opened by itself as schema ended, and the enter pressed its focused "Try
    again", journalling a second failed attempt. A failure question opens by
    itself; an enter there chooses nothing, and its keys say what does."""
    journal = tmp_path / "run.jsonl"
    app = make_app(journal=journal)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(app)
        failed = report("delete-nodegroups", StepState.FAILED,
                        "the cutover cannot begin: properties was skipped", 0.1)
        failed.retry_helps = retry_helps
        tell(app, StepChanged(failed))
        answer = asyncio.ensure_future(app.front.recover(failed, can_roll_back=False))
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the failure dialog")
        await until(lambda: bool(app.screen.query("#recover-stop")), what="its buttons")
        await pilot.pause()
        dialog = app.screen
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert not answer.done(), answer.result()
        assert app.screen is dialog, app.screen_stack
        hint = str(app.main.query_one("#hint").render())
        assert "q stops the run" in hint and ("t tries it again" in hint) is retry_helps, hint
        await pilot.press("q")
        await until(answer.done, what="the answer")
        assert answer.result() is Recovery.STOP


async def test_the_way_back_asked_from_a_failed_step_does_not_promise_a_question_per_step(
        ) -> None:
    """Re-trial 53 (L6): after start-fails the way-back dialog said its steps
    were "asked one at a time", and rollback-nodegroups and rollback-recreate,
    whose checks found nothing to do, passed without a question. It says
    which are asked: each that has work to do; one found done passes."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        failed = report("start-service", StepState.FAILED, "the API never answered", 0.1)
        tell(app, StepChanged(failed))
        answer = asyncio.ensure_future(app.front.recover(failed, can_roll_back=True))
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the failure dialog")
        await until(lambda: bool(app.screen.query("#recover-stop")), what="its buttons")
        await pilot.press("r")
        await until(lambda: isinstance(app.screen, RollBackDialog), what="the way back asked")
        said = " ".join(text_of(app.screen).split())
        assert "one at a time" not in said, said
        assert "each step that has work to do is asked before it runs" in said, said
        assert "already done" in said, said
        answer.cancel()


async def test_an_error_that_escapes_the_run_is_shown_with_its_secrets_masked(
        tmp_path: Path) -> None:
    """Every other sink masks: an unforeseen error whose text holds the API
    token (an exception quoting a URL with ?accessToken=, say) reached the
    notice and the status line as it was."""
    journal = tmp_path / "run.jsonl"
    app = make_app(journal=journal, steps=[Talk("preflight")])
    notes = collect_notes(app)

    async def escapes(_front: Any) -> Outcome:
        raise RuntimeError(f"GET /streammanager/api/4.0/admin/nodegroup?accessToken={TOKEN}")

    async with app.run_test(size=SIZE):
        await started(app)
        app.session.run = escapes  # type: ignore[method-assign]
        app.start_run()
        await until(lambda: app.run_state.outcome is not None, what="the run's end")
        assert notes and "accessToken=" in notes[-1]
        assert TOKEN not in notes[-1]
        assert app.run_state.run_error and TOKEN not in app.run_state.run_error
        app.exit()


async def test_enter_twice_does_not_run_a_step() -> None:
    """The first enter opens the confirmation; a second one, pressed a beat
    too soon or meant for the next step, ran it (trial 55 F4). Only y runs
    it: enter goes back, as every other dialog's first button stays."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        answer = ask(app, "new-database", await plan_of("new-database"))
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.press("enter")
        await until(lambda: app.screen is app.main, what="back on the checklist")
        await pilot.pause()
        assert not answer.done()
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog again")
        await pilot.press("y")
        assert await answer == Decision(Answer.RUN)


async def test_after_try_again_the_step_pane_says_the_failure_was_the_last_try(
        tmp_path: Path) -> None:
    """Operator trial 57, F20: after `t` the step pane's title read "▶ your
    turn" while under it "Result after 0.3s: ... cannot be reached" read as
    this attempt's. It is the try before, said as such. And with the failed
    step's question laid aside (escape), the footer said "⏎ Run step" while
    enter brought the question back: it names the choices."""
    journal = tmp_path / "run.jsonl"
    app = make_app(journal=journal, steps=[FailsOnce("preflight"), Talk("new-database")])
    async with app.run_test(size=(80, 24)) as pilot:
        await started(app)
        app.start_run()
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.press("y")
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the failure dialog")
        await pilot.press("escape")
        await until(lambda: app.screen is app.main, what="the main screen")
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        assert "Run step" not in footer and "⏎ Choices" in footer, footer
        detail = app.main.detail.query_one(Wrapped).content.plain
        assert "Result after" in detail and "did not answer" in detail, detail
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the question again")
        await pilot.press("t")
        await until(lambda: app.asking is not None and app.asking.report.id == "preflight",
                    what="the step asked again")
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        assert "Run step" in footer and "Choices" not in footer, footer
        detail = app.main.detail.query_one(Wrapped).content.plain
        assert "Result" not in detail, detail
        assert "Last try failed after" in detail and "did not answer" in detail, detail
        app.asking.answer.set_result(Decision(Answer.STOP))
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")


def _throwaway() -> RunbookApp:
    """The app over a rehearsal without --sandbox or --keep: its host, and
    the journal's sandbox, go as it ends (Settings.rehearsal_throwaway)."""
    return make_app(settings_=replace(settings(), rehearsal_throwaway=True))


async def test_a_throwaway_rehearsals_way_back_dialog_promises_no_resume() -> None:
    """Review K2 (T): the way back's dialog said "--resume goes on with the way
    back" in a rehearsal whose host goes as it ends: nothing resumes it."""
    from screens.dialogs import RollBackDialog

    app = _throwaway()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        tell(app, CutoverStarted("delete-nodegroups", app.clock()),
             StepChanged(report("delete-nodegroups", StepState.DONE, "gone", 1.0)))
        asked = asyncio.ensure_future(app.front.confirm(
            StepReport("backup-live", way_back_open=True), []))
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("r")
        await until(lambda: isinstance(app.screen, RollBackDialog), what="the way back asked")
        said = " ".join(text_of(app.screen).split())
        await pilot.press("escape")
        asked.cancel()
    assert "does not return to the upgrade" in said, said
    assert "--resume" not in said and "rehearse again" in said, said


async def test_d_in_a_throwaway_rehearsal_does_not_send_a_review_left_open_to_resume() -> None:
    """Review K2 (T): d after a review left with keys open said "so does
    --resume once the run stops", where a throwaway rehearsal's sandbox, its
    decisions file with it, goes as it ends."""
    app = _throwaway()
    notes = collect_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        tell(app, StepChanged(report("properties", StepState.NEEDS_REVIEW)))
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
    said = notes[-1]
    assert "trying the step again opens it" in said, said
    assert "--resume" not in said and "rehearse again" in said, said


async def test_a_throwaway_rehearsals_review_is_opened_as_one_nothing_resumes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Review K2 (T): the properties review in a throwaway rehearsal is told
    so, and says no resumed run takes it up (test_properties_editor)."""
    opened: list[dict[str, Any]] = []

    class Review(Screen[bool]):
        def __init__(self, review: object, **options: Any) -> None:
            super().__init__()
            opened.append(options)

    monkeypatch.setattr(app_module, "load_review_screen", lambda: Review)
    app = _throwaway()
    async with app.run_test(size=SIZE):
        await started(app)
        tell(app, StepChanged(report("properties", StepState.RUNNING)))
        subject = type("R", (), {"old_name": "live.properties", "new_name": "new.properties"})()
        finished = asyncio.ensure_future(
            app.front.review("properties", subject, decisions_path=Path("d.toml")))
        await until(lambda: isinstance(app.screen, Review), what="the review screen")
        app.screen.dismiss(True)
        assert await finished is True
    assert [options.get("throwaway") for options in opened] == [True], opened
