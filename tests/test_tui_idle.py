"""An idle TUI does nothing: no timer runs while nothing on screen changes, and the
clocks tick once a second only while one runs and they are in view: on the main
screen, in a dialog over it, or on the full log.
The CPU this leaves is measured by benchmarks/tui_idle.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.visual import Visual
from textual.widget import Widget

from runbook.events import CutoverEnded, CutoverStarted, Output, RunEnded, RunStarted
from runbook.executor import Outcome
from runbook.model import Shell, StepReport
from screens.app import RunbookApp
from screens.dialogs import ConfirmDialog
from screens.log_view import LogView
from tests.polling import until
from tests.test_tui_fakes import FakeClock, make_app, screen_text, tell

SIZE = (80, 24)


def running_timers(app: RunbookApp) -> list[str]:
    """Timers that will fire: started, not finished, not paused."""
    nodes: list[Any] = [app, *app.screen_stack]
    for screen in app.screen_stack:
        nodes += list(screen.walk_children(with_self=False))
    return [f"{type(node).__name__}: {timer.name}" for node in nodes
            for timer in list(node._timers)
            if timer._task is not None and not timer._task.done() and timer._active.is_set()]


async def drawn_by_a_tick(app: RunbookApp, pilot: Pilot[Any],
                          monkeypatch: pytest.MonkeyPatch) -> set[Widget]:
    """The widgets Textual draws for one tick of the clocks."""
    drawn: set[Widget] = set()
    render_lines = Widget.render_lines

    def draw(widget: Widget, crop: Any) -> Any:
        drawn.add(widget)
        return render_lines(widget, crop)

    monkeypatch.setattr(Widget, "render_lines", draw)
    app.tick()
    await until(lambda: drawn, what="the tick drawn")
    await pilot.pause()
    monkeypatch.undo()
    return drawn


async def escape_to_the_main_screen(app: RunbookApp, pilot: Pilot[Any],
                                    clock: FakeClock) -> str:
    """Three seconds on, escape: the main screen's clocks row, which should be
    current at once."""
    clock.now += 3
    await pilot.press("escape")
    await until(lambda: app.screen is app.main, what="the main screen")
    await pilot.pause()
    return screen_text(app).splitlines()[1]


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

        tell(app, RunEnded(Outcome.DONE.value, 0))
        await until(lambda: running_timers(app) == [], what="no clock after the run")


async def test_the_full_log_shows_the_clocks_and_they_tick_there(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator trial: in the full log, read during the cutover, the downtime
    clock was nowhere: the screen had no clocks row. It has the main screen's,
    in the same place (the second row), and a tick draws that row, not the
    lines below it."""
    clock = FakeClock()
    app = make_app(clock_=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, RunStarted("rehearsal.toml", "x", True, (), False),
             CutoverStarted("delete-nodegroups", clock.now),
             Output("delete-nodegroups", "out", "a line"))
        await pilot.press("L")
        await until(lambda: isinstance(app.screen, LogView), what="the full log")
        await pilot.pause()
        assert "down 00:00:00" in screen_text(app).splitlines()[1]
        assert running_timers(app) == ["RunbookApp: clock"], "the downtime shows"

        clock.now += 2
        drawn = await drawn_by_a_tick(app, pilot, monkeypatch)
        log = app.screen
        assert log.query_one("#log-clocks") in drawn
        # The row, and what draws no lines: the screen's and the page's
        # backgrounds, the one-line title.
        assert drawn <= {log, *log.query("#log-clocks, #log-page, #log-title")}, drawn
        row = screen_text(app).splitlines()[1]
        assert "down 00:00:02" in row and "elapsed 00:00:02" in row, row

        row = await escape_to_the_main_screen(app, pilot, clock)
        assert "down 00:00:05" in row, row
        assert running_timers(app) == ["RunbookApp: clock"]


async def test_the_downtime_clock_ticks_on_after_a_run_that_left_the_service_down() -> None:
    app = make_app()
    async with app.run_test(size=SIZE):
        await until(lambda: app.drawn, what="the first paint")
        tell(app, RunStarted("rehearsal.toml", "x", True, (), False),
             CutoverStarted("delete-nodegroups", app.clock()), CutoverEnded(False, 30.0),
             RunEnded(Outcome.FAILED.value, 1))
        await until(lambda: app.outcome is Outcome.FAILED, what="the end of the run")
        # Once the end of the run is drawn (the screen's own update timer runs
        # until then): the clock alone, as the stream manager is down.
        await until(lambda: running_timers(app) == ["RunbookApp: clock"], timeout=5,
                    what="the clock alone ticking on")


async def test_a_clock_tick_draws_the_clocks_row_and_nothing_beside_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Once a second only the clocks change, and only their digits: a tick lays
    no text out afresh, and Textual draws no widget beside the status bar (it
    draws every child of the screen whose clip touches a change, so all that
    lies below the status bar sits in one container that draws a background)."""
    clock = FakeClock()
    app = make_app(clock_=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, RunStarted("rehearsal.toml", "x", True, (), False),
             CutoverStarted("delete-nodegroups", app.clock()))
        await pilot.pause()
        clock.now += 1
        app.main.tick()
        await pilot.pause()
        assert "down 00:00:01" in screen_text(app).splitlines()[1]

        drawn: set[Widget] = set()
        laid_out: list[Widget] = []
        render_lines, to_strips = Widget.render_lines, Visual.to_strips

        def draw(widget: Widget, crop: Any) -> Any:
            drawn.add(widget)
            return render_lines(widget, crop)

        def lay_out(widget: Widget, *args: Any, **kwargs: Any) -> Any:
            laid_out.append(widget)
            return to_strips(widget, *args, **kwargs)

        monkeypatch.setattr(Widget, "render_lines", draw)
        monkeypatch.setattr(Visual, "to_strips", lay_out)
        clock.now += 1
        app.main.tick()
        await until(lambda: drawn, what="the tick drawn")
        await pilot.pause()
        monkeypatch.undo()
        beside = drawn - {app.main, app.main.status, *app.main.query("#page")}
        assert beside == set(), f"drawn beside the clocks: {beside}"
        assert laid_out == [], f"text laid out afresh: {laid_out}"
        row = screen_text(app).splitlines()[1]
        assert "down 00:00:02" in row and "elapsed 00:00:02" in row, row


async def test_the_clocks_row_drawn_again_is_the_row_laid_out_afresh() -> None:
    """The tick's shortcut (new digits in the old segments) must draw exactly
    what laying the row out would: the same characters, styles and offsets."""
    clock = FakeClock()
    app = make_app(clock_=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        status = app.main.status
        tell(app, RunStarted("rehearsal.toml", "x", True, (), False),
             CutoverStarted("delete-nodegroups", app.clock()))
        await pilot.pause()
        for seconds in (1, 9, 10, 59, 61, 3600, 3661):
            clock.now = 1000.0 + seconds
            app.main.tick()
            await pilot.pause()
            width = status.size.width
            kept = status._strips(width)
            assert status.drawn is not None and status.drawn.strips is kept
            fresh = status._lay_out(width, status.visual_style)
            assert [list(strip) for strip in kept] == [list(strip) for strip in fresh]
        assert "down 01:01:01" in screen_text(app).splitlines()[1]


async def open_confirmation(app: RunbookApp, pilot: Any) -> asyncio.Task[Any]:
    """Mid-cutover, the confirmation of delete-nodegroups open over the main screen."""
    tell(app, RunStarted("rehearsal.toml", "x", True, (), False),
         CutoverStarted("delete-nodegroups", app.clock()))
    asked = asyncio.ensure_future(app.front.confirm(StepReport("delete-nodegroups"),
                                                    [Shell("true")]))
    await until(lambda: app.asking is not None, what="the question")
    await pilot.press("enter")
    await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
    await pilot.pause()
    return asked


async def test_a_tick_under_a_dialog_draws_the_dialogs_clocks_and_nothing_beneath(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator watches the downtime while a dialog is open, so the clocks
    tick on in the dialog, where the main screen shows them. The main screen's
    own clocks wait beneath: a change under a dialog makes Textual draw the
    whole dimmed screen again (2 % of a core at one tick a second)."""
    clock = FakeClock()
    app = make_app(clock_=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        asked = await open_confirmation(app, pilot)
        assert running_timers(app) == ["RunbookApp: clock"], "the downtime shows"
        clock.now += 1
        app.tick()
        await pilot.pause()
        assert "down 00:00:01" in screen_text(app).splitlines()[1]

        clock.now += 1
        drawn = await drawn_by_a_tick(app, pilot, monkeypatch)
        beneath = drawn & {app.main, *app.main.walk_children()}
        assert beneath == set(), f"drawn beneath the dialog: {beneath}"
        assert app.screen.query_one("#dialog-clocks") in drawn
        row = screen_text(app).splitlines()[1]
        assert "down 00:00:02" in row and "elapsed 00:00:02" in row, row

        row = await escape_to_the_main_screen(app, pilot, clock)
        assert "down 00:00:05" in row, row
        asked.cancel()


async def test_no_clock_ticks_under_the_command_palette() -> None:
    """Only our dialogs and the full log carry the clocks; under anything else
    (Textual's palette) they wait."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, RunStarted("rehearsal.toml", "x", True, (), False))
        await until(lambda: running_timers(app) == ["RunbookApp: clock"], what="the clock")
        await pilot.press("ctrl+p")
        await until(lambda: isinstance(app.screen, CommandPalette), what="the palette")
        # The palette's own cursor blinks: that is its business.
        await until(lambda: "RunbookApp: clock" not in running_timers(app),
                    what="no clock under the palette")
        await pilot.press("escape")
        await until(lambda: running_timers(app) == ["RunbookApp: clock"],
                    what="the clock again")
