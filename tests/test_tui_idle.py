"""An idle TUI does nothing: no timer runs while nothing on screen changes, and the
clocks tick once a second only while one runs and the main screen is in view.
The CPU this leaves is measured by benchmarks/tui_idle.py."""

from __future__ import annotations

from typing import Any

from runbook.events import CutoverEnded, CutoverStarted, Output, RunEnded, RunStarted
from runbook.executor import Outcome
from screens.app import RunbookApp
from screens.log_view import LogView
from tests.polling import until
from tests.test_tui_fakes import make_app, tell

SIZE = (80, 24)


def running_timers(app: RunbookApp) -> list[str]:
    """Timers that will fire: started, not finished, not paused."""
    nodes: list[Any] = [app, *app.screen_stack]
    for screen in app.screen_stack:
        nodes += list(screen.walk_children(with_self=False))
    return [f"{type(node).__name__}: {timer.name}" for node in nodes
            for timer in list(node._timers)
            if timer._task is not None and not timer._task.done() and timer._active.is_set()]


async def test_nothing_ticks_until_a_clock_runs_and_only_while_it_shows() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        await pilot.pause()
        assert running_timers(app) == [], "nothing changes before the run"
        # Output comes and goes: one short timer draws a burst, then nothing.
        app.front.tell(Output("preflight", "out", "a line"))
        await until(lambda: app.store.pending == {}, what="the burst drawn")
        await until(lambda: running_timers(app) == [], what="the flush timer gone")

        tell(app, RunStarted("rehearsal.toml", "x", True, (), False))
        await until(lambda: running_timers(app) == ["RunbookApp: clock"],
                    what="the clock ticking during the run")
        await pilot.press("L")
        await until(lambda: isinstance(app.screen, LogView), what="the full log")
        await until(lambda: running_timers(app) == [], what="no clock while it is not shown")
        await pilot.press("escape")
        await until(lambda: running_timers(app) == ["RunbookApp: clock"],
                    what="the clock again")

        tell(app, RunEnded(Outcome.DONE.value, 0))
        await until(lambda: running_timers(app) == [], what="no clock after the run")


async def test_the_downtime_clock_ticks_on_after_a_run_that_left_the_service_down() -> None:
    app = make_app()
    async with app.run_test(size=SIZE):
        await until(lambda: app.drawn, what="the first paint")
        tell(app, RunStarted("rehearsal.toml", "x", True, (), False),
             CutoverStarted("delete-nodegroups"), CutoverEnded(False, 30.0),
             RunEnded(Outcome.FAILED.value, 1))
        await until(lambda: app.outcome is Outcome.FAILED, what="the end of the run")
        assert running_timers(app) == ["RunbookApp: clock"], "the stream manager is down"
