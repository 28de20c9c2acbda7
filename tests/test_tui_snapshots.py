"""How the TUI looks, as SVG snapshots (pytest-textual-snapshot).

Each picture is built from fixed engine events fed to the app's front end (no
live host), a frozen clock and a fixed terminal size, so it is the same on every
run. Test functions are sync on purpose: snap_compare runs its own event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from runbook.events import (
    Connected,
    CutoverEnded,
    CutoverStarted,
    Output,
    Progress,
    RunEnded,
    RunStarted,
    StepChanged,
)
from runbook.executor import Outcome
from runbook.model import Shell, StepState
from screens.app import RunbookApp
from screens.dialogs import ConfirmDialog
from tests.polling import until
from tests.test_tui_fakes import FakeClock, ask, make_app, plan_of, report, tell

SIZE = (120, 40)
PREPARE = ["preflight", "new-database", "export-config", "upload", "unpack",
           "cloud-controller", "strip-autoscale", "carry-over", "properties"]
# Tasks created while a picture is set up; kept so they are not collected early.
_pending: list[asyncio.Task[Any]] = []


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Wall-clock times on screen ("down since 01:27:20") read the same anywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def ready(pilot: Pilot[Any]) -> None:
    app: RunbookApp = pilot.app  # type: ignore[assignment]
    await until(lambda: app.drawn, what="the first paint")


async def settle(pilot: Pilot[Any]) -> None:
    app: RunbookApp = pilot.app  # type: ignore[assignment]
    await until(lambda: "preflight" in app.run_state.plans, what="the initial plans")
    app.main.flush_output()
    await pilot.pause()


def started(app: RunbookApp) -> None:
    tell(app, RunStarted("rehearsal.toml", "red5admin@127.0.0.1:2222", True, (), False),
         Connected("red5admin@127.0.0.1:2222", None))


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
            tell(app, StepChanged(report(step_id, StepState.DONE, "checked", took)))
        _pending.append(ask(app, "upload", await plan_of("upload")))
        await pilot.pause()
        clock.now += 30
        tell(app, StepChanged(report("upload", StepState.RUNNING)))
        await pilot.pause()
        clock.now += 12.5
        front = app.front
        front.tell(Output("upload", "cmd",
                          "$ mkdir -p -- /tmp/runbook-rehearsal/tmp/runbook-upload"))
        front.tell(Output("upload", "cmd", "sftp put /tmp/runbook-rehearsal/.operator/"
                          "red5pro-server-11.1.0.b835-release.zip -> /tmp/runbook-rehearsal/"
                          "tmp/runbook-upload/red5pro-server-11.1.0.b835-release.zip"))
        front.tell(Output("upload", "info", "sending 182.4 MiB"))
        front.tell(Output("upload", "out", "a line the host printed"))
        front.tell(Output("upload", "err", "a warning the host printed on stderr"))
        front.tell(Progress("upload", 96 << 20, 182 << 20,
                            "uploading red5pro-server-11.1.0.b835-release.zip"))
        await settle(pilot)
        app.main.tick()  # the once-a-second redraw, now, so the picture does not race it
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_the_confirmation_of_a_destructive_step(snap_compare: Any) -> None:
    app = make_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        started(app)
        for step_id in PREPARE:
            tell(app, StepChanged(report(step_id, StepState.DONE, "done", 0.5)))
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
            front.tell(StepChanged(report(step_id, state, detail, None if state is
                                    StepState.SKIPPED else 0.8)))
        await pilot.pause()
        clock.now += 240
        front.tell(CutoverStarted("delete-nodegroups", app.clock()))
        for step_id in ("delete-nodegroups", "backup-live"):
            front.tell(StepChanged(report(step_id, StepState.DONE, "ok", 3.0)))
        _pending.append(ask(app, "promote-new", [
            Shell("sudo -n mv -- /tmp/runbook-rehearsal/usr/local/red5pro-server-* "
                  "/tmp/runbook-rehearsal/usr/local/red5pro")]))
        await pilot.pause()
        front.tell(StepChanged(report("promote-new", StepState.RUNNING)))
        await pilot.pause()
        front.tell(Output("promote-new", "cmd", "$ ls -d /tmp/runbook-rehearsal/usr/local/"
                          "red5pro-server-*"))
        front.tell(Output("promote-new", "err", "ls: cannot access '/tmp/runbook-rehearsal/"
                          "usr/local/red5pro-server-*': No such file or directory"))
        clock.now += 65
        await pilot.pause()
        front.tell(StepChanged(report("promote-new", StepState.FAILED,
                                "no red5pro-server-* directory to promote: run unpack first",
                                0.3)))
        front.tell(CutoverEnded(False, 65.0))
        front.tell(RunEnded(Outcome.FAILED.value, 1))
        await settle(pilot)
        app.main.tick()
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_the_main_screen_after_the_way_back(snap_compare: Any) -> None:
    """Once the way back is done, the cutover rows it undid read undone, those
    it was chosen before read not run, and the legend names both."""
    clock = FakeClock(5000.0)
    app = make_app(clock_=clock)

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        front = app.front
        started(app)
        for step_id in (*PREPARE, "schema"):
            front.tell(StepChanged(report(step_id, StepState.DONE, "ok", 0.8)))
        clock.now += 240
        front.tell(CutoverStarted("delete-nodegroups", app.clock()))
        for step_id in ("delete-nodegroups", "backup-live", "promote-new", "stop-service",
                        "service-unit"):
            front.tell(StepChanged(report(step_id, StepState.DONE, "ok", 3.0)))
        front.tell(StepChanged(report("start-service", StepState.FAILED,
                                      "the API did not answer in 5 minutes", 300.0)))
        for step_id in ("rollback-nodegroups", "rollback-stop-new", "rollback-set-aside",
                        "rollback-restore", "rollback-unit", "rollback-start",
                        "rollback-recreate"):
            front.tell(StepChanged(report(step_id, StepState.DONE, "ok", 2.0)))
        clock.now += 420
        front.tell(CutoverEnded(True, 420.0))
        front.tell(RunEnded(Outcome.ROLLED_BACK.value, Outcome.ROLLED_BACK.exit_code))
        await settle(pilot)
        app.main.tick()
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


# --- at the sizes an operator meets: 80x24 and 200x60 ----------------------------------

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)],
                                ids=["80x24", "120x40", "200x60"])
JAVA = ("warning: the new release's unit sets no JAVA_HOME; Red5 Pro 11.1.0.b835 needs "
        "Java 21")


async def mid_cutover(pilot: Pilot[Any], clock: FakeClock) -> None:
    """Prepare done (preflight with a warning), the cutover two minutes in,
    delete-nodegroups deleting its second nodegroup."""
    app: RunbookApp = pilot.app  # type: ignore[assignment]
    await ready(pilot)
    started(app)
    app.front.tell(Output("preflight", "info", JAVA, warning=True))
    for step_id in [*PREPARE, "schema"]:
        tell(app, StepChanged(report(step_id, StepState.DONE, "ok", 0.9)))
    await pilot.pause()
    plan = await plan_of("delete-nodegroups")
    names = ["eu-west-1", "us-east-1", "ap-south-1"]
    plan = [replace_path(plan[0], name) for name in names] + plan[1:]
    _pending.append(ask(app, "delete-nodegroups", plan))
    await pilot.pause()
    tell(app, CutoverStarted("delete-nodegroups", app.clock()))
    await until(lambda: app.run_state.down_since is not None, what="the cutover")
    tell(app, StepChanged(report("delete-nodegroups", StepState.RUNNING)))
    await pilot.pause()
    clock.now += 125
    front = app.front
    front.tell(Output("delete-nodegroups", "info", "deleting what the snapshot taken "
                      "2026-03-14T01:58:12Z (API 4.0; 3 nodegroup(s), 6 origin(s)) can rebuild"))
    for action in plan[:2]:
        front.tell(Output("delete-nodegroups", "cmd", action.render()))
        front.tell(Output("delete-nodegroups", "out", '{"status": "deleting"}'))
    await settle(pilot)
    app.main.tick()
    await pilot.pause()


def replace_path(action: Any, name: str) -> Any:
    from dataclasses import replace

    return replace(action, path=f"admin/nodegroup/{name}",
                   curl=action.curl.replace("{each nodegroup}", name))


@SIZES
def test_the_main_screen_mid_cutover(snap_compare: Any, size: tuple[int, int]) -> None:
    clock = FakeClock(1_773_450_000.0)  # 2026-03-14 01:00:00 UTC
    app = make_app(clock_=clock)

    async def run_before(pilot: Pilot[Any]) -> None:
        await mid_cutover(pilot, clock)

    assert snap_compare(app, run_before=run_before, terminal_size=size)


@pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=["80x24", "200x60"])
def test_the_confirmation_at(snap_compare: Any, size: tuple[int, int]) -> None:
    app = make_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        started(app)
        app.front.tell(Output("preflight", "info", JAVA, warning=True))
        for step_id in PREPARE:
            tell(app, StepChanged(report(step_id, StepState.DONE, "done", 0.5)))
        _pending.append(ask(app, "delete-nodegroups", await plan_of("delete-nodegroups")))
        await settle(pilot)
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        app.screen.query_one(Input).value = "delete-node"
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=size)


# --- the README's pictures are these snapshots ------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
README_PICTURES = {
    "docs/screenshots/main-screen.svg":
        "tests/__snapshots__/test_tui_snapshots/test_the_main_screen_mid_cutover[120x40].svg",
    "docs/screenshots/properties-review.svg":
        "tests/__snapshots__/test_properties_editor/test_snapshot_first_look.svg",
}


@pytest.mark.parametrize("picture", sorted(README_PICTURES))
def test_the_readmes_pictures_are_the_snapshots(picture: str) -> None:
    snapshot = README_PICTURES[picture]
    assert f"]({picture})" in (ROOT / "README.md").read_text()
    assert (ROOT / picture).read_bytes() == (ROOT / snapshot).read_bytes(), (
        f"the snapshot changed: cp '{snapshot}' {picture}")
