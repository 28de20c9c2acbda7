"""x stops the step running now (left from stop 36): origins that never came
into service held the operator in recreate for its whole limit, the stream
manager down, with the way back offered only once the wait gave up or by
quitting the app. Stopping asks once, tells the step's command to stop, and
the step's question follows in the same run.

A real executor and journal over steps that need no host (tests/test_tui_fakes.py).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from runbook.events import StepChanged
from runbook.executor import Outcome
from runbook.facts import Facts
from runbook.model import Phase, StepCard, StepState
from runbook.step import StepContext
from screens.app import RunbookApp
from screens.dialogs import ConfirmDialog, RecoverDialog, StopStepDialog
from tests.polling import until
from tests.test_tui_fakes import Talk, make_app
from tests.test_tui_pilot import SIZE, started, text_of
from tests.test_tui_quit import GRACE_S


async def confirm_recreate(app: RunbookApp, pilot: object) -> None:
    """Confirm recreate (a cutover step) and wait till it runs."""
    await until(lambda: app.asking is not None, what="the question")
    await pilot.press("enter")  # type: ignore[attr-defined]
    await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
    await pilot.press(*"recreate", "enter")  # type: ignore[attr-defined]
    await until(lambda: app.run_state.running == "recreate", what="the step to run")


def recreate_held(journal: Path, gate: asyncio.Event) -> RunbookApp:
    """The app over a run of recreate (a cutover step) that runs until `gate` is set."""
    return make_app(journal=journal, steps=[Talk("recreate", phase=Phase.CUTOVER, gate=gate)])


async def stop_dialog_over_recreate(app: RunbookApp, pilot: object) -> None:
    """The run of :func:`recreate_held`, and x has opened the stop dialog."""
    await started(app)
    app.start_run()
    await confirm_recreate(app, pilot)
    await pilot.press("x")  # type: ignore[attr-defined]
    await until(lambda: isinstance(app.screen, StopStepDialog), what="the stop dialog")


def aborted(journal: Path) -> list[list[str]]:
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    return [r["steps"] for r in records if r["event"] == "aborted"]


async def test_x_stops_a_running_cutover_step_and_its_question_offers_the_way_back(
        tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    # Never let go: it runs until it is stopped, as stuck origins do.
    app = make_app(journal=journal,
                   steps=[Talk("recreate", phase=Phase.CUTOVER, gate=asyncio.Event())],
                   rollback=[Talk("rollback-stop-new", phase=Phase.ROLLBACK)])
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await confirm_recreate(app, pilot)
        await pilot.pause()
        assert app.offers("stop_step")
        assert "Stop step" in [b.binding.description for b in app.screen.active_bindings.values()
                               if b.binding.show and b.enabled]
        await pilot.press("r")  # the way back, now: r says how, with the step running
        await until(lambda: any("stop it (x)" in n.message for n in app._notifications),
                    what="r to point at x")
        await pilot.press("x")
        await until(lambda: isinstance(app.screen, StopStepDialog), what="the stop dialog")
        asked = text_of(app.screen)
        step = app.by_id["recreate"]
        assert f"{step.number}: {step.title}" in asked and "way back" in asked, asked
        # Recreate waits on the API, with no command on the host to stop
        # (operator trial: "The command it runs on the host is told to stop").
        assert "The command it runs on the host" not in asked and "a wait" in asked, asked
        assert app.run_state.running == "recreate", "asking stops nothing"
        await pilot.press("x")  # a double tap: the key that opened it does not answer it
        await pilot.pause()
        assert isinstance(app.screen, StopStepDialog) and app.run_state.stopping is None
        await pilot.press("y")
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the step's question")
        assert not any("stop it (x)" in n.message for n in app._notifications), \
            "r's advice is done with once the step is stopped"
        shown = text_of(app.screen)
        assert "stopped by the operator" in shown and "Roll back" in shown, shown
        assert "was stopped" in shown and "did not end well" not in shown, shown
        assert app.run_state.states["recreate"] == StepState.IN_DOUBT.value
        await pilot.press("q")  # stop there
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")
    assert app.outcome is Outcome.STOPPED
    assert aborted(journal) == [["recreate"]]


async def test_escape_keeps_the_step_running(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    gate = asyncio.Event()
    app = recreate_held(journal, gate)
    async with app.run_test(size=SIZE) as pilot:
        await stop_dialog_over_recreate(app, pilot)
        await pilot.press("escape")
        await until(lambda: app.screen is app.main, what="back to the main screen")
        await asyncio.sleep(0.2)
        assert app.run_state.running == "recreate"
        gate.set()
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")
    assert app.outcome is Outcome.DONE
    assert aborted(journal) == []


async def test_a_step_that_ends_under_the_stop_dialog_closes_it(tmp_path: Path) -> None:
    """Nothing is left to stop: the dialog goes, and says why, rather than
    stopping whatever runs next."""
    journal = tmp_path / "run.jsonl"
    gate = asyncio.Event()
    app = recreate_held(journal, gate)
    async with app.run_test(size=SIZE) as pilot:
        await stop_dialog_over_recreate(app, pilot)
        gate.set()
        await until(lambda: not isinstance(app.screen, StopStepDialog), timeout=GRACE_S,
                    what="the stop dialog to close once the step ended")
        await until(lambda: any("ended on its own before you answered" in n.message
                                for n in app._notifications), what="why it closed")
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")
    assert app.outcome is Outcome.DONE
    assert aborted(journal) == []


async def test_x_with_no_step_running_says_so(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    app = make_app(journal=journal, steps=[Talk("new-database")])
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await until(lambda: app.asking is not None, what="the question")
        assert not app.offers("stop_step")
        await pilot.press("x")
        await pilot.pause()
        assert app.screen is app.main
        assert any("No step is running" in n.message for n in app._notifications), \
            [n.message for n in app._notifications]


class SlowToStop(Talk):
    """Runs until stopped, and then takes its time to end, as a command on the
    host does while it is told to stop (TERM, the grace period, KILL)."""

    def __init__(self, step_id: str, ended: asyncio.Event) -> None:
        super().__init__(step_id, phase=Phase.CUTOVER)
        self.ended = ended

    async def run(self, ctx: StepContext[Facts]) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.shield(self.ended.wait())
            raise


async def test_x_again_while_the_stop_is_under_way_says_so(tmp_path: Path) -> None:
    """Review: a second x while the host was still stopping the command said
    the step "ended before it could be stopped: nothing was stopped"."""
    journal = tmp_path / "run.jsonl"
    ended = asyncio.Event()
    app = make_app(journal=journal, steps=[SlowToStop("recreate", ended)])
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.start_run()
        await confirm_recreate(app, pilot)
        await pilot.press("x")
        await until(lambda: isinstance(app.screen, StopStepDialog), what="the stop dialog")
        await pilot.press("y")
        await until(lambda: app.run_state.stopping == "recreate", what="the stop under way")
        await pilot.pause()
        assert "Stopping" in text_of(app.screen), text_of(app.screen)
        assert not app.offers("stop_step")
        await pilot.press("x")
        await pilot.pause()
        said = [n.message for n in app._notifications]
        assert any("is being stopped" in m for m in said), said
        assert not any("nothing was stopped" in m for m in said), said
        assert app.screen is app.main, "no second dialog"
        ended.set()
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the step's question")
        assert app.run_state.stopping is None
        await pilot.press("q")
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")
    assert aborted(journal) == [["recreate"]]


async def test_no_stop_while_the_properties_step_waits_for_its_review() -> None:
    """Review: the palette offered the stop inside the properties review (the
    step counts as running while it waits); stopping cancelled the review
    under its own screen, which then stood stale over the step's question."""
    from runbook.events import StepChanged
    from tests.test_tui_fakes import report
    from tests.test_tui_pilot import tell

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        tell(app, StepChanged(report("properties", StepState.RUNNING)))
        app.run_state.reviewing = "properties"
        app.refresh_bindings()
        await pilot.pause()
        assert not app.offers("stop_step")
        await pilot.press("x")
        await pilot.pause()
        said = [n.message for n in app._notifications]
        assert any("waits for your review" in m for m in said), said
        assert app.screen is app.main


async def test_over_a_dialog_the_palette_offers_no_operator_actions(tmp_path: Path) -> None:
    """Left at stop 37: ctrl+p over the stop dialog offered "Stop the running
    step", which opened a second stop dialog over the first; answered, it left
    the lower one asking about a stop already made. A dialog is answered or
    left first: over one the palette keeps its own commands and Quit."""
    journal = tmp_path / "run.jsonl"
    gate = asyncio.Event()
    app = recreate_held(journal, gate)
    async with app.run_test(size=SIZE) as pilot:
        await stop_dialog_over_recreate(app, pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        step = app.by_id["recreate"]
        for gone in ("Stop the running step", "Roll back", "Full log",
                     f"Show step {step.number}: {step.title}"):
            assert not any(title.startswith(gone) for title in titles), titles
        assert "Quit" in titles and "Keys" in titles, titles
        await pilot.press("escape")
        await until(lambda: app.screen is app.main, what="back to the main screen")
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Stop the running step" in titles, "the main screen still offers it"
        gate.set()
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")


def test_a_retry_failing_at_its_check_is_not_said_stopped() -> None:
    """Review: the TUI's mark of a stop outlived the attempt: a retry that
    failed at its check was headed "was stopped" in its question. The mark is
    the engine's report's, which the next attempt clears."""
    from runbook.model import StepReport
    from screens.run_state import RunState
    from screens.views import hint

    state = RunState(procedure_cards(), "red5admin@sm1.example.com:22")
    state.apply(StepChanged(StepReport("schema", StepState.RUNNING)), 0.0)
    state.stopping = "schema"
    state.apply(StepChanged(StepReport("schema", StepState.IN_DOUBT, "stopped",
                                       stopped=True)), 1.0)
    assert state.stopping is None
    state.recovering = "schema"
    said = hint(state, selected=None, journal=Path("run.jsonl")).plain
    assert "was stopped" in said and "did not end well" not in said, said
    state.apply(StepChanged(StepReport("schema", StepState.FAILED, "cannot reach")), 2.0)
    said = hint(state, selected=None, journal=Path("run.jsonl")).plain
    assert "did not end well" in said and "was stopped" not in said, said


def procedure_cards() -> list[StepCard]:
    from steps import procedure

    return [step.card(n) for n, step in enumerate(procedure(), start=1)]


async def test_the_stop_dialog_and_r_say_the_way_back_as_the_engine_says_it(
        tmp_path: Path) -> None:
    """The engine/TUI merge (review 56b, F4): whether a step's question can
    be answered with the way back is the engine's one rule, said on each
    StepReport (way_back_open). The stop dialog ("its question offers the
    way back") and r's words while a step ran still went by the TUI's own
    reading (the stream manager down). A run with no way back to take (no
    rollback steps) is where the two differ: the cutover under way, the
    engine offers no way back, and neither may promise one."""
    journal = tmp_path / "run.jsonl"
    gate = asyncio.Event()
    app = recreate_held(journal, gate)
    async with app.run_test(size=SIZE) as pilot:
        await stop_dialog_over_recreate(app, pilot)  # no rollback steps
        assert app.run_state.service_down, "the TUI's own reading: down, so the way back"
        asked = text_of(app.screen)
        assert "way back" not in asked and "try it again, or stop the run" in asked, asked
        await pilot.press("escape")
        await until(lambda: app.screen is app.main, what="back to the main screen")
        await pilot.press("r")
        await until(lambda: any("is running" in n.message for n in app._notifications),
                    what="r to say where the way back stands")
        said = " ".join(n.message for n in app._notifications)
        assert "its question offers the way back" not in said, said
        await pilot.press("x")
        await until(lambda: isinstance(app.screen, StopStepDialog), what="the stop dialog")
        await pilot.press("y")
        await until(lambda: isinstance(app.screen, RecoverDialog), what="the step's question")
        shown = text_of(app.screen)
        assert "Roll back" not in shown, "the engine offers none, as the dialog said"
        await pilot.press("q")
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")


async def test_stopped_on_the_way_back_the_hint_and_r_say_to_go_on_back(tmp_path: Path) -> None:
    """Trial 58, M3: stopped on the way back (x, y, then q at its step's
    question), the hint said "r says how to go back to the old one" where
    the footer offered no r, and r said "the way back cannot start from
    here", with the way back part done. Both now say to go on back with the
    command that does, and r copies it."""
    from runbook.standing import WayBack
    from screens.dialogs import RollBackDialog

    journal = tmp_path / "run.jsonl"
    go_on = f"runbook rehearse --sandbox /s --resume --journal {journal}"
    app = make_app(journal=journal,
                   steps=[Talk("recreate", phase=Phase.CUTOVER, gate=asyncio.Event())],
                   rollback=[Talk("rollback-recreate", phase=Phase.ROLLBACK,
                                  gate=asyncio.Event())],
                   going_back=lambda _: WayBack(go_on))
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
        await until(lambda: app.run_state.asking == "rollback-recreate", what="the way back's step")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="its dialog")
        await pilot.press(*"rollback-recreate", "enter")
        await until(lambda: app.run_state.running == "rollback-recreate", what="it to run")
        await pilot.press("x")
        await until(lambda: isinstance(app.screen, StopStepDialog), what="the stop dialog")
        await pilot.press("y")
        await until(lambda: isinstance(app.screen, RecoverDialog), what="its question")
        await pilot.press("q")
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")
        await pilot.pause()
        assert not app.offers("rollback")
        hint = str(app.main.query_one("#hint").render())
        assert "r says" not in hint and "way back" in hint, hint
        await pilot.press("r")
        await until(lambda: bool(app._notifications), what="r's notice")
        said = " ".join(n.message for n in app._notifications)
        assert "cannot start from here" not in said and said.endswith(go_on), said
        assert "way back" in said, said
        for size in ((80, 24), (60, 20)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            hint = str(app.main.query_one("#hint").render())
            assert "go on back" in hint and "q quits" in hint, (size, hint)
    assert app.outcome is Outcome.STOPPED
