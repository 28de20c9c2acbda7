"""`runbook rehearse` paints first and starts the rehearsal host after (issue 12).

The operator sees the app at once, with a line saying the host is starting; the
host starts in the background, and the checklist fills in once the run is open.
A host that cannot start ends the app with today's one line and exit 2, and
quitting while it starts stops it: nothing of the rehearsal is left running.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from functools import partialmethod
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from runbook import cli
from runbook.cli import door, terminal
from runbook.executor import Outcome
from runbook.rehearsal import sandbox
from runbook.rehearsal.host import RehearsalHost
from screens.app import RunbookApp, create_app
from screens.main import MainScreen
from tests.polling import until
from tests.test_tui_fakes import make_app, screen_text

ROOT = Path(__file__).parents[1]
SIZE = (120, 40)
Autopilot = Callable[[Pilot[Any]], Awaitable[None]]


@pytest.fixture
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("SM_API_TOKEN", raising=False)
    yield tmp_path / "state"


def drive(monkeypatch: pytest.MonkeyPatch, autopilot: Autopilot,
          size: tuple[int, int] = SIZE) -> None:
    """`runbook rehearse` in this process, its app headless and driven by `autopilot`."""
    monkeypatch.setattr(terminal, "on_a_terminal", lambda: True)  # headless, without one
    monkeypatch.setattr(RunbookApp, "run_async", partialmethod(
        RunbookApp.run_async, headless=True, size=size, auto_pilot=autopilot))


def spy_on_start(monkeypatch: pytest.MonkeyPatch, gate: asyncio.Event | None = None,
                 *, held: asyncio.Event | None = None) -> list[RehearsalHost]:
    """The hosts whose start() has been called; each waits for `gate` first,
    and, once its processes run, for `held` before start() returns."""
    calls: list[RehearsalHost] = []
    real_start = RehearsalHost.start

    async def start(self: RehearsalHost) -> None:
        calls.append(self)
        if gate is not None:
            await gate.wait()
        await real_start(self)
        if held is not None:
            calls.append(self)  # a second time: its processes run
            await held.wait()

    monkeypatch.setattr(RehearsalHost, "start", start)
    return calls


async def test_the_app_paints_before_its_run_opens_and_fills_in_after() -> None:
    from runbook.opening import Opening
    from screens.starting import StartingScreen

    gate = asyncio.Event()
    inner = make_app()

    async def opening() -> Opening:
        await gate.wait()  # a rehearsal host that takes its time
        return Opening(inner.open_session, host_label="sandbox /tmp/x")

    app = create_app(opening=opening, waiting="Starting the rehearsal host…",
                     rehearsal=True, start_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StartingScreen)
        assert "Starting the rehearsal host…" in screen_text(app)
        assert not app.opened
        gate.set()
        await until(lambda: isinstance(app.screen, MainScreen) and app.main.ready,
                    what="the main screen")
        await pilot.pause()
        shown = screen_text(app)
        assert inner.cards[0].title in shown and "Starting the rehearsal host" not in shown
        assert app.main.checklist.has_focus


async def test_an_app_left_at_its_first_paint_leaves_no_coroutine_unawaited(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Quitting at the first paint left the opening's coroutine, handed to a
    worker that never ran, to be collected unawaited; its warning came in the
    middle of the CLI's next import, which then failed with a KeyError from
    importlib's module lock (benchmarks/tui_startup.py, 1 run in 10)."""
    import gc
    import warnings

    from runbook.opening import Opening

    async def opening() -> Opening:
        raise AssertionError("not reached: the app ends first")

    ready = RunbookApp.on_ready

    def leave_at_once(self: RunbookApp) -> None:  # as the operator's q at the first paint
        self.exit()
        ready(self)

    monkeypatch.setattr(RunbookApp, "on_ready", leave_at_once)
    app = create_app(opening=opening, waiting="Starting the rehearsal host…",
                     rehearsal=True, start_run=False)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        async with app.run_test(size=SIZE):
            pass
        del app
        gc.collect()
    unawaited = [str(w.message) for w in said if "never awaited" in str(w.message)]
    assert unawaited == []


def test_rehearse_paints_before_the_host_starts(
    state_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = asyncio.Event()
    starts = spy_on_start(monkeypatch, gate)
    seen: dict[str, Any] = {}

    async def look(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, RunbookApp)
        seen["starts at first paint"] = len(starts)
        await pilot.pause()
        seen["first"] = screen_text(app)
        gate.set()
        await until(lambda: app.opened and app.main.ready, what="the run to open")
        await pilot.pause()
        seen["then"] = screen_text(app)
        app.exit()

    # Wide enough for the pace beside the host key: the run now connects as it
    # begins (to claim the host), and at 120 columns the key's fingerprint
    # comes first and the pace, whole or not at all, gives way.
    drive(monkeypatch, look, size=(160, 40))
    code = cli.main(["rehearse", "--sandbox", str(tmp_path / "sandbox")])
    assert seen["starts at first paint"] == 0
    assert "Starting the rehearsal host" in seen["first"]
    assert "Starting the rehearsal host" not in seen["then"]
    assert "Procedure" in seen["then"]
    # The status line says the pace the fake cloud goes at (operator trial).
    assert "at pace 0.005" in seen["then"].splitlines()[0], seen["then"].splitlines()[0]
    assert code == Outcome.STOPPED.exit_code
    assert sandbox.processes_mentioning(tmp_path / "sandbox") == []


def test_quitting_while_the_host_starts_stops_it(
    state_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The start is held with the host's processes running: without MariaDB it
    # took under 0.3 s, the app opened before q, and its quit dialog waited
    # for an answer until the test timed out (stop 26).
    held = asyncio.Event()  # q comes while start() is under way; it ends after
    starts = spy_on_start(monkeypatch, held=held)

    async def quit_at_once(pilot: Pilot[Any]) -> None:
        await until(lambda: len(starts) == 2, what="the host's processes")
        await pilot.press("q")
        held.set()

    drive(monkeypatch, quit_at_once)
    code = cli.main(["rehearse", "--sandbox", str(tmp_path / "sandbox")])
    assert code == Outcome.STOPPED.exit_code
    assert sandbox.processes_mentioning(tmp_path / "sandbox") == []


def test_a_host_that_cannot_start_ends_the_app_with_one_line_and_exit_2(
    state_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    busy = tmp_path / "sandbox"
    # Another rehearsal holds the sandbox's lock (a second process, as in real use).
    holder = RehearsalHost(busy, boot_service=False)
    holder._lock_sandbox()
    painted: list[bool] = []

    async def wait(pilot: Pilot[Any]) -> None:
        painted.append(True)
        await until(lambda: not pilot.app.is_running, what="the app to end")

    drive(monkeypatch, wait)
    try:
        code = cli.main(["rehearse", "--sandbox", str(busy)])
    finally:
        holder._unlock_sandbox()
    assert painted and code == door.EXIT_BAD_INPUT
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("runbook: ")
    assert "in use by another rehearsal" in lines[0]


def test_the_first_paint_of_a_rehearsal_waits_for_neither_the_engine_nor_ssh(
    state_home: Path,
) -> None:
    """What keeps the first paint near a bare app's (benchmarks/tui_startup.py):
    the engine, the main screen, SSH and the procedure load after it."""
    code = (
        "import json, sys\nfrom functools import partialmethod\nfrom runbook import cli\n"
        "from runbook.cli import terminal\n"
        "from screens.app import RunbookApp\n"
        "async def painted(pilot):\n"
        "    print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
        "    pilot.app.exit()\n"
        "RunbookApp.run_async = partialmethod(RunbookApp.run_async, headless=True, "
        "size=(120, 40), auto_pilot=painted)\n"
        "terminal.on_a_terminal = lambda: True  # headless, above\n"
        "cli.main(['rehearse'])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, stdin=subprocess.DEVNULL)
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    later = {"asyncssh", "httpx", "steps", "runbook.executor", "runbook.session",
             "runbook.rehearsal.host", "screens.main", "screens.dialogs"}
    assert loaded & later == set()
    assert "screens.starting" in loaded


async def test_a_refusal_for_the_hosts_claim_is_readable_whole_at_80_columns(
        tmp_path: Path) -> None:
    """Another machine's run holds the host (runbook.claim): the run is refused
    before it asks anything. At 80x24 the refusal, a long sentence naming that
    run and what to do, was cut off in the bottom hint. Every word of it is
    on the screen now, and nothing offers a report of a run that never began."""
    from runbook.claim import HostClaimed
    from tests.rehearsal import rehearsal_host, rehearsal_session

    journal = tmp_path / "runs" / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        holder = host.install_dir / ".runbook-claim" / "holder"
        holder.parent.mkdir(parents=True)
        holder.write_text("login=colleague\nmachine=laptop-2\npid=4242\n"
                          "journal=/home/colleague/.local/state/runbook/10.20.30.40-"
                          "20261207T001500Z.jsonl\nsince=2026-12-07T00:15:00+00:00\n")
        app = create_app(lambda continuing: rehearsal_session(host, journal, resume=continuing),
                         rehearsal=True, host_label="pytest")
        async with app.run_test(size=(80, 24)) as pilot:
            await until(lambda: app.runner is not None and app.runner.is_finished,
                        timeout=60, what="the refusal")
            await until(lambda: app.run_state.run_error is not None, what="the error said")
            await pilot.pause()
            refusal = str(app.runner.error)
            assert isinstance(app.runner.error, HostClaimed), refusal
            screen = screen_text(app)
            shown = " ".join(screen.replace("│", " ").split())
            words = " ".join(refusal.split())
            for part in ("colleague on laptop-2", "Nothing was changed",
                         "run again with --take-over-host"):
                assert part in words, words
            # Whole, its rows joined (a path breaks after a slash, not at a space).
            assert "".join(words.split()) in "".join(screen.replace("│", "").split()), screen
            assert "w writes the report" not in shown and "run refused" in shown, \
                screen_text(app)
            app.exit()


async def test_a_claim_that_cannot_be_made_reads_as_a_refusal_not_an_error(
        tmp_path: Path) -> None:
    """Review 60a, F11: a claim the host would not let be made at all (here
    sudo asks for a password, and the claim is root's) showed as
    "ConfigError: ..." and the run as failed on an error, exit 1. It reads as
    the other refusals do: its own words whole, the run refused, nothing to
    report, and the CLI's one line (exit 2)."""
    from runbook.claim import ClaimRefused
    from runbook.rehearsal import armed
    from tests.rehearsal import rehearsal_host, rehearsal_session

    journal = tmp_path / "runs" / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        armed.arm(host.sandbox, "permission-denied")
        app = create_app(lambda continuing: rehearsal_session(host, journal, resume=continuing),
                         rehearsal=True, host_label="pytest")
        async with app.run_test(size=(120, 40)) as pilot:
            await until(lambda: app.runner is not None and app.runner.is_finished,
                        timeout=60, what="the refusal")
            await until(lambda: app.run_state.run_error is not None, what="the error said")
            await pilot.pause()
            assert isinstance(app.runner.error, ClaimRefused), app.runner.error
            shown = " ".join(screen_text(app).replace("│", " ").split())
            assert "ConfigError" not in shown and "sudo refused" in shown, shown
            assert "run refused" in shown and "w writes the report" not in shown, shown
            app.exit()


async def test_a_claim_refused_after_steps_ran_says_what_ran_not_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The host out of reach for the claim as the run began, the steps that
    only look went on unclaimed and passed; then sudo was taken away, and
    the claim before the first step that changes the host was refused. The
    hint said "The run was refused, and nothing ran", under rows showing
    preflight and new-database done (and export-config's row running on).
    It says where the run stands: which steps ran, that they only looked,
    where the run was refused, and that it changed nothing on the host."""
    from runbook import claim as host_claim
    from runbook.rehearsal import armed
    from runbook.shell import RemoteError
    from screens.dialogs import ConfirmDialog
    from tests.rehearsal import rehearsal_host, rehearsal_session

    real = host_claim.take
    reached: list[bool] = []

    async def out_of_reach_until_a_change(*args: Any, **kw: Any) -> Any:
        if not reached:  # the only stand-in: the claim's connection cut off
            raise RemoteError("cannot connect to 127.0.0.1:22: Connection refused")
        return await real(*args, **kw)

    monkeypatch.setattr(host_claim, "take", out_of_reach_until_a_change)
    journal = tmp_path / "runs" / "run.jsonl"
    async with rehearsal_host(tmp_path) as host:
        app = create_app(lambda continuing: rehearsal_session(host, journal, resume=continuing),
                         rehearsal=True, host_label="pytest")
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                for step in ("preflight", "new-database", "export-config"):
                    await until(lambda step=step: app.asking is not None
                                and app.asking.report.id == step, timeout=60,
                                what=f"{step}'s question")
                    if step == "export-config":  # sudo taken away, the host reached again
                        armed.arm(host.sandbox, "permission-denied")
                        reached.append(True)
                    await pilot.press("enter")
                    await until(lambda: isinstance(app.screen, ConfirmDialog),
                                what="the confirmation")
                    await pilot.press("y")
                await until(lambda: app.runner is not None and app.runner.is_finished,
                            timeout=60, what="the refusal")
                await until(lambda: app.run_state.run_error is not None, what="the error")
                await pilot.pause()
                assert isinstance(app.runner.error, host_claim.ClaimRefused), app.runner.error
                shown = " ".join(screen_text(app).replace("│", " ").split())
                assert "sudo refused" in shown, shown
                assert "nothing ran" not in shown, shown
                assert "Steps 1 and 2 ran" in shown and "only looked" in shown, shown
                assert "refused at step 3" in shown, shown
                assert "this run changed nothing on the host" in shown, shown
                # Refused before its first action: not "running" under a run that ended.
                assert app.run_state.states["export-config"] == "pending", app.run_state.states
                app.exit()
        finally:
            armed.lift(host.sandbox, "permission-denied")


async def test_a_refusal_is_in_the_output_pane_the_hint_points_at_beside_a_note(
        tmp_path: Path) -> None:
    """Operator trial 62, F7: a run the host's claim refused, started with a
    note (--new-run's) that the output pane shows as the first step's line:
    the hint said "the output pane says why", but the pane showed that note
    alone; the refusal was in the run's own lines, out of view, and in a
    notice over the screen that goes. The refusal is in the pane in view."""
    from tests.rehearsal import rehearsal_host, rehearsal_session

    journal = tmp_path / "runs" / "run.jsonl"
    note = "note: an unfinished run is in /x/run.jsonl; it is left as it is, and this is a " \
        "new run (--new-run)"
    async with rehearsal_host(tmp_path) as host:
        holder = host.install_dir / ".runbook-claim" / "holder"
        holder.parent.mkdir(parents=True)
        holder.write_text("login=colleague\nmachine=laptop-2\npid=4242\n"
                          "journal=/home/colleague/run.jsonl\n"
                          "since=2026-12-07T00:15:00+00:00\n")
        app = create_app(lambda continuing: rehearsal_session(host, journal, resume=continuing),
                         rehearsal=True, host_label="pytest", notes=(note,))
        async with app.run_test(size=(120, 35)) as pilot:
            await until(lambda: app.runner is not None and app.runner.is_finished,
                        timeout=60, what="the refusal")
            await until(lambda: app.run_state.run_error is not None, what="the error said")
            await pilot.pause()
            shown = app.main.shown_output
            pane = " ".join(app.store.of(shown)) if shown is not None else ""
            assert "colleague on laptop-2" in pane and note.split(";")[0] in pane, pane
            assert "output pane says why" in " ".join(screen_text(app).split())
            app.exit()
