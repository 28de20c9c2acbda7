"""How the TUI looks, as SVG snapshots (pytest-textual-snapshot).

Each picture is built from fixed engine events fed to the app's front end (no
live host), a frozen clock and a fixed terminal size, so it is the same on every
run. Test functions are sync on purpose: snap_compare runs its own event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from runbook.executor import Outcome
from runbook.model import Shell, StepState
from screens.app import RunbookApp
from screens.dialogs import ConfirmDialog
from tests.test_tui_fakes import FakeClock, ask, make_app, plan_of, report, until

SIZE = (120, 40)
PREPARE = ["preflight", "new-database", "export-config", "upload", "unpack",
           "cloud-controller", "strip-autoscale", "carry-over", "properties"]
# Tasks created while a picture is set up; kept so they are not collected early.
_pending: list[asyncio.Task[Any]] = []


async def ready(pilot: Pilot[Any]) -> None:
    app: RunbookApp = pilot.app  # type: ignore[assignment]
    await until(lambda: app.drawn, what="the first paint")


async def settle(pilot: Pilot[Any]) -> None:
    app: RunbookApp = pilot.app  # type: ignore[assignment]
    await until(lambda: "preflight" in app.plans, what="the initial plans")
    app.flush_output()
    await pilot.pause()


def started(app: RunbookApp) -> None:
    app.front.run_event("run-start", {"host": "red5admin@127.0.0.1:2222"})


def test_main_screen_before_the_first_step(snap_compare: Any) -> None:
    app = make_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        started(app)
        _pending.append(ask(app, "preflight", await plan_of("preflight")))
        await settle(pilot)

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_a_step_running_with_progress_and_output(snap_compare: Any) -> None:
    clock = FakeClock(1000.0)
    app = make_app(clock_=clock)

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        started(app)
        for step_id, took in (("preflight", 1.4), ("new-database", 0.2),
                              ("export-config", 0.6)):
            app.front.step_state(report(step_id, StepState.DONE, "checked", took))
        _pending.append(ask(app, "upload", await plan_of("upload")))
        await pilot.pause()
        clock.now += 30
        app.front.step_state(report("upload", StepState.RUNNING))
        await pilot.pause()
        clock.now += 12.5
        front = app.front
        front.output("upload", "cmd", "$ mkdir -p -- /tmp/runbook-rehearsal/tmp/runbook-upload")
        front.output("upload", "cmd", "sftp put /tmp/runbook-rehearsal/.operator/"
                     "red5pro-server-14.2.0.b1105-release.zip -> /tmp/runbook-rehearsal/tmp/"
                     "runbook-upload/red5pro-server-14.2.0.b1105-release.zip")
        front.output("upload", "info", "sending 182.4 MiB")
        front.output("upload", "out", "a line the host printed")
        front.output("upload", "err", "a warning the host printed on stderr")
        front.progress("upload", 96 << 20, 182 << 20,
                       "uploading red5pro-server-14.2.0.b1105-release.zip")
        await settle(pilot)
        app.tick()  # the once-a-second redraw, now, so the picture does not race it
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_the_confirmation_of_a_destructive_step(snap_compare: Any) -> None:
    app = make_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        started(app)
        for step_id in PREPARE:
            app.front.step_state(report(step_id, StepState.DONE, "done", 0.5))
        _pending.append(ask(app, "delete-nodegroups", await plan_of("delete-nodegroups")))
        await settle(pilot)
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        typed = app.screen.query_one(Input)
        typed.cursor_blink = False
        typed.value = "delete-node"
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_a_failed_cutover_step(snap_compare: Any) -> None:
    clock = FakeClock(5000.0)
    app = make_app(clock_=clock)

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        front = app.front
        started(app)
        for step_id in PREPARE:
            state = StepState.SKIPPED if step_id == "upload" else StepState.DONE
            detail = "uploaded by hand, checksums compared" if step_id == "upload" else "ok"
            front.step_state(report(step_id, state, detail, None if state is
                                    StepState.SKIPPED else 0.8))
        await pilot.pause()
        clock.now += 240
        front.run_event("cutover-start", {"step": "delete-nodegroups"})
        for step_id in ("delete-nodegroups", "backup-live"):
            front.step_state(report(step_id, StepState.DONE, "ok", 3.0))
        _pending.append(ask(app, "promote-new", [
            Shell("sudo -n mv -- /tmp/runbook-rehearsal/usr/local/red5pro-server-* "
                  "/tmp/runbook-rehearsal/usr/local/red5pro")]))
        await pilot.pause()
        front.step_state(report("promote-new", StepState.RUNNING))
        await pilot.pause()
        front.output("promote-new", "cmd", "$ ls -d /tmp/runbook-rehearsal/usr/local/"
                     "red5pro-server-*")
        front.output("promote-new", "err", "ls: cannot access '/tmp/runbook-rehearsal/usr/"
                     "local/red5pro-server-*': No such file or directory")
        clock.now += 65
        await pilot.pause()
        front.step_state(report("promote-new", StepState.FAILED,
                                "no red5pro-server-* directory to promote: run unpack first",
                                0.3))
        front.run_event("cutover-end", {"downtime_s": 65.0})
        front.run_event("run-end", {"outcome": Outcome.FAILED.value, "exit_code": 1})
        await settle(pilot)
        app.tick()
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)
