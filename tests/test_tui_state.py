"""What the screen says about the run must be true: the downtime clock across
quits, resumes and failures, steps done with warnings, the nodegroups being
deleted, the resumed run's finished steps, and the failed step in view."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from runbook.config import Settings
from runbook.events import (
    CutoverEnded,
    CutoverStarted,
    Output,
    Progress,
    RunEnded,
    RunStarted,
    StepChanged,
)
from runbook.executor import Decision, Outcome
from runbook.hoststate import HostState
from runbook.journal import Journal
from runbook.model import ApiCall, Leaves, Phase, Shell, StepState
from runbook.rehearsal import cloud
from screens.app import RunbookApp
from screens.dialogs import ConfirmDialog, ResumeDialog
from screens.widgets import Meter, PlanView
from tests.polling import until
from tests.test_tui_fakes import (
    FakeClock,
    ask,
    make_app,
    plan_of,
    report,
    screen_text,
    settings,
    tell,
)
from tests.test_tui_pilot import collect_notes, text_of

SIZE = (120, 40)
PREPARE = ["preflight", "new-database", "export-config", "upload", "unpack",
           "cloud-controller", "strip-autoscale", "carry-over", "properties", "schema"]
# 2026-03-14 02:14:07 UTC: when the earlier run's first cutover action ran.
BEGAN = datetime(2026, 3, 14, 2, 14, 7, tzinfo=UTC).timestamp()


def records(path: Path, *lines: dict[str, object]) -> Path:
    """A journal with these records, stamped as given (not now)."""
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def production() -> Settings:
    """A production run's settings: its estimate is a real-pace rehearsal's or a run's."""
    return dataclasses.replace(settings(), rehearsal=False)


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def cut_off_in_cutover(path: Path) -> Path:
    """A run stopped (quit) during the cutover: the stream manager is down."""
    steps = [{"ts": stamp(BEGAN - 600), "event": "step-end", "step": step, "state": "done",
              "detail": "ok"} for step in PREPARE]
    return records(
        path,
        {"ts": stamp(BEGAN - 900), "event": "run-start", "config": "rehearsal.toml",
         "host": "x", "rehearsal": True, "steps": []},
        *steps,
        {"ts": stamp(BEGAN), "event": "cutover-start", "step": "delete-nodegroups"},
        {"ts": stamp(BEGAN), "event": "step-start", "step": "delete-nodegroups"},
        {"ts": stamp(BEGAN + 40), "event": "step-end", "step": "delete-nodegroups",
         "state": "done", "detail": "3 nodegroups deleted"},
        {"ts": stamp(BEGAN + 60), "event": "cutover-end", "complete": False,
         "downtime_s": 60.0},
        {"ts": stamp(BEGAN + 60), "event": "run-end", "outcome": "stopped", "exit_code": 3},
    )


def status_line(app: object) -> str:
    return screen_text(app).splitlines()[1]  # type: ignore[arg-type]


async def test_the_downtime_clock_counts_from_the_journals_cutover_start_across_a_resume(
        tmp_path: Path) -> None:
    earlier = cut_off_in_cutover(tmp_path / "earlier.jsonl")
    clock = FakeClock(BEGAN + 600)  # ten minutes after the first cutover action
    app = make_app(journal=tmp_path / "now.jsonl", resume=earlier, clock_=clock)
    starts: list[bool] = []
    app.start_run = lambda: starts.append(True)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, ResumeDialog), what="the resume dialog")
        await pilot.pause()
        # Before the operator decides: the service is down, and has been for 10 minutes.
        assert "down 00:10:00" in status_line(app), status_line(app)
        await pilot.press("c")
        await until(lambda: starts, what="the run to continue")
        assert "not started" not in status_line(app) and "ended" not in status_line(app)
        clock.now += 5
        app.main.tick()
        await pilot.pause()
        assert "down 00:10:05" in status_line(app), status_line(app)
        # The continued run fails: the stream manager is still down, the clock goes on.
        tell(app, RunStarted("rehearsal.toml", "x", True, (), True),
             StepChanged(report("backup-live", StepState.FAILED, "mv: cannot move", 0.2)),
             CutoverEnded(False, 605.0), RunEnded(Outcome.FAILED.value, 1))
        await pilot.pause()
        clock.now += 60
        app.main.tick()
        await pilot.pause()
        assert "down 00:11:05" in status_line(app), status_line(app)
        assert "ended" not in status_line(app)


async def test_the_clock_counts_from_the_moment_the_report_says_the_cutover_began(
        tmp_path: Path) -> None:
    """Operator trial: the TUI counted the downtime from when it heard the
    cutover begin, the report from the journal's record, and the two said
    different seconds ("down since 02:14:08" against "began 02:14:07"). Here
    the app's clock is a fixed one far from the engine's: they agree only if
    the TUI takes the engine's moment."""
    from runbook.report import build
    from tests.test_tui_fakes import Talk

    journal = tmp_path / "run.jsonl"
    app = make_app(journal=journal, clock_=FakeClock(BEGAN),
                   steps=[Talk("delete-nodegroups", phase=Phase.CUTOVER)])
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        app.start_run()
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.press(*"delete-nodegroups", "enter")
        await until(lambda: app.runner is not None and app.runner.is_finished, what="the end")
    began = build(journal).downtime.began
    assert began is not None and app.run_state.down_since is not None
    assert abs(datetime.fromisoformat(began).timestamp() - app.run_state.down_since) < 0.001


async def test_a_new_run_while_the_host_is_down_says_so_from_the_hosts_record(
        tmp_path: Path) -> None:
    journal = tmp_path / "now.jsonl"
    host = settings().host
    HostState(tmp_path, host.address, host.port).begin_cutover(tmp_path / "old.jsonl")
    began = HostState(tmp_path, host.address, host.port).cutover()
    assert began is not None
    clock = FakeClock(datetime.fromisoformat(began.began).timestamp() + 75)
    app = make_app(journal=journal, clock_=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        await pilot.pause()
        assert "down 00:01:15" in status_line(app), status_line(app)


async def test_the_clock_shows_what_is_left_by_the_last_rehearsal(tmp_path: Path) -> None:
    records(tmp_path / "rehearsal.jsonl",
            {"ts": stamp(BEGAN - 86400), "event": "run-start", "rehearsal": True,
             "pace": cloud.REAL_PACE},
            {"ts": stamp(BEGAN - 86000), "event": "cutover-end", "complete": True,
             "downtime_s": 420.0})
    clock = FakeClock(BEGAN)
    app = make_app(journal=tmp_path / "now.jsonl", clock_=clock, settings_=production())
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.run_state.estimate_s == 420.0, what="the estimate")
        tell(app, CutoverStarted("delete-nodegroups", app.clock()))
        await until(lambda: app.run_state.down_since is not None, what="the cutover")
        clock.now += 120
        await pilot.pause()
        app.main.tick()
        await pilot.pause()
        line = status_line(app)
        assert "down 00:02:00" in line and "5m00s left" in line, line
        tell(app, CutoverEnded(True, 300.0))
        await pilot.pause()
        assert "was down 00:05:00" in status_line(app), status_line(app)


async def test_a_run_finds_the_estimate_of_a_rehearsal_kept_with_the_rehearsals(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`runbook rehearse` keeps its journals in the state dir's rehearsals/,
    `runbook run` its own in the state dir: the run's clock must find the
    rehearsal's downtime there, as `runbook report` does."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    state = tmp_path / "runbook"
    (state / "rehearsals").mkdir(parents=True)
    records(state / "rehearsals" / "rehearsal.jsonl",
            {"ts": stamp(BEGAN - 86400), "event": "run-start", "rehearsal": True,
             "pace": cloud.REAL_PACE},
            {"ts": stamp(BEGAN - 86000), "event": "cutover-end", "complete": True,
             "downtime_s": 420.0})
    app = make_app(journal=state / "now.jsonl", clock_=FakeClock(BEGAN), settings_=production())
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        await until(lambda: app.run_state.estimate_s == 420.0, what="the rehearsal's estimate")
        await pilot.pause()
        assert "7m00s" in status_line(app), status_line(app)


async def test_a_run_takes_no_estimate_from_a_fast_rehearsal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An operator trial: a production run said "the last cutover took 5.2s",
    the time of a rehearsal whose fake cloud ran forty times faster than a
    real one. A run's estimate is a real-pace rehearsal's (or a run's)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    rehearsals = tmp_path / "runbook" / "rehearsals"
    for name, pace, downtime, ago in (("real.jsonl", cloud.REAL_PACE, 420.0, 7200),
                                      ("fast.jsonl", cloud.FAST_PACE, 5.2, 3600)):
        written = Journal(rehearsals / name)
        written.write("run-start", config="rehearsal.toml", host="u@127.0.0.1:1",
                      rehearsal=True, pace=pace, steps=[], resumed=False)
        written.write("cutover-end", complete=True, downtime_s=downtime)
        written.write("run-end", outcome="done", exit_code=0)
        written.close()
        when = time.time() - ago
        os.utime(written.path, (when, when))
    app = make_app(journal=tmp_path / "runbook" / "now.jsonl", settings_=production())
    async with app.run_test(size=SIZE):
        await until(lambda: app.run_state.estimate_s is not None, what="the estimate")
    assert app.run_state.estimate_s == 420.0


JAVA = ("warning: the new release's unit sets no JAVA_HOME; Red5 Pro 11.1.0.b835 needs Java "
        "21, and the service will start with whatever java is first on its PATH, which on this "
        "host may be the Java 11 the old release ran on")


async def test_preflight_with_warnings_is_done_with_warnings_and_later_confirmations_repeat_them(
        ) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        app.front.tell(Output("preflight", "info", JAVA, warning=True))
        tell(app, StepChanged(report("preflight", StepState.DONE, "live 6.2, new 11.1", 1.2)))
        await pilot.pause()
        assert app.run_state.shown_state("preflight") == "warned"
        row = next(r for r in screen_text(app).splitlines()
                   if "Preflight checks" in r and "Step" not in r)
        assert "⚠" in row and "warnings" in row and "✓" not in row, row
        app.main.checklist.select_step("preflight")
        await pilot.pause()
        assert JAVA in text_of(app.main)
        for step in ["new-database", *PREPARE[2:]]:
            tell(app, StepChanged(report(step, StepState.DONE, "ok", 0.1)))
        answer = ask(app, "start-service", await plan_of("start-service"))
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the confirmation")
        await pilot.pause()
        assert JAVA in text_of(app.screen), "the warning, in full, before start-service"
        shown = screen_text(app)
        assert "Java 11 the old" in shown or "old release ran on" in shown, \
            "a long warning wraps instead of being cut"
        answer.cancel()


async def test_delete_nodegroups_says_how_many_are_left() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        from runbook.model import ApiCall, Wait
        names = ["eu-west", "us-east", "ap-south"]
        plan = [ApiCall("DELETE", f"admin/nodegroup/{n}",
                        f"curl -sS -X DELETE 'http://h/admin/nodegroup/{n}'") for n in names]
        plan.append(Wait("GET admin/nodegroup lists none", 600))
        answer = ask(app, "delete-nodegroups", plan)
        await until(lambda: app.asking is not None, what="the question")
        tell(app, StepChanged(report("delete-nodegroups", StepState.RUNNING)))
        app.front.tell(Output("delete-nodegroups", "cmd", plan[0].render()))
        await pilot.pause()
        app.main.flush_output()
        await until(lambda: "1 of 3" in screen_text(app) and "2 left" in screen_text(app),
                    what="the count of nodegroups")
        app.front.tell(Output("delete-nodegroups", "cmd", plan[1].render()))
        app.front.tell(Output("delete-nodegroups", "cmd", plan[2].render()))
        app.front.tell(Progress("delete-nodegroups", 10, 600,
                                "waiting for the nodegroups to be gone: 590s left"))
        await until(lambda: "3 of 3" in screen_text(app)
                    and "to be gone: 590s left" in screen_text(app),
                    what="every deletion sent, and the wait")
        answer.cancel()


async def deleting(app: RunbookApp, pilot: Pilot[Any]) -> asyncio.Task[Decision]:
    """delete-nodegroups asked about and running: what a progress line needs.
    The answer is the question's, for the test to cancel at its end."""
    await until(lambda: app.drawn, what="the first paint")
    answer = ask(app, "delete-nodegroups", await plan_of("delete-nodegroups"))
    await until(lambda: app.asking is not None, what="the question")
    tell(app, StepChanged(report("delete-nodegroups", StepState.RUNNING)))
    await pilot.pause()
    return answer


async def test_a_progress_line_shows_square_brackets_as_they_are() -> None:
    """The progress line read its text as Textual markup (review): a name in
    square brackets, as a folder or a nodegroup may be, vanished or restyled
    what followed it."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        answer = await deleting(app, pilot)
        app.front.tell(Progress("delete-nodegroups", 10, 600,
                                "[b]edge[/b] [link] 590s"))
        await until(lambda: "[b]edge[/b] [link] 590s" in screen_text(app),
                    what="the progress line, brackets and all")
        answer.cancel()


async def test_a_wait_shows_no_share_that_reads_as_progress() -> None:
    """Operator trial: "waiting for 2 of 2 nodegroups to be gone: 163s left"
    beside a bar at 10%: the share of the time limit used, read as work done.
    A wait's bar runs down its limit with no percentage; an upload's keeps it."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        answer = await deleting(app, pilot)
        app.front.tell(Progress("delete-nodegroups", 17, 180,
                                "waiting for 2 of 2 nodegroups to be gone: 163s left",
                                of_limit=True))
        await until(lambda: "163s left" in screen_text(app), what="the wait's line")
        assert "9%" not in screen_text(app) and "10%" not in screen_text(app)
        # Review: the bar filled with the time used, as progress does; it
        # shows the time left, across the whole row.
        bar = app.query_one("#progress-bar", Meter)
        drawn = bar.render()
        left = drawn.plain.split(" ")[0]
        assert len(drawn.plain) == bar.content_size.width
        assert drawn.spans[0].end == round(len(left) * 163 / 180), drawn.spans
        app.front.tell(Progress("delete-nodegroups", 90, 180, "copying"))
        await until(lambda: "50%" in screen_text(app), what="a share of work done")
        answer.cancel()


async def test_the_progress_row_is_mounted_with_the_first_progress() -> None:
    """Issue 12: hidden until a step reports progress, the progress row (its
    label and bar) was mounted and styled before the first paint all the
    same; it comes with the first progress, and shows as it did."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        assert not app.query("#progress-row"), "no progress row before any progress"
        answer = await deleting(app, pilot)
        app.front.tell(Progress("delete-nodegroups", 10, 600, "deleting: 590s left"))
        await until(lambda: "590s left" in screen_text(app), what="the progress line")
        assert app.query_one("#progress-row").display
        answer.cancel()


async def test_the_step_pane_is_filled_as_the_run_is_drawn() -> None:
    """Issue 12: the step pane's text, plan heading and plan were mounted and
    styled before the first paint, only for it to say "(nothing to run)" of
    a step whose plan was not worked out yet. They mount as the run is drawn
    (show_run), just after, and say the selected step and its plan."""
    app = make_app()
    first: list[str] = []
    draw = app.show_run

    def show_run() -> None:
        first.append(screen_text(app))
        first.append(str(len(app.main.detail.children)))
        draw()

    app.show_run = show_run  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        await pilot.pause()
        assert first[1] == "0", "the step pane's parts were mounted for the first paint"
        assert "(nothing to run)" not in first[0]
        shown = screen_text(app)
        assert "Step 1 of 17 · Preflight checks" in shown
        assert "Looks, and changes nothing" in shown


async def test_a_plan_shown_before_its_view_has_mounted_is_drawn_once() -> None:
    """The step pane's plan view is made as the run is drawn, and the step's
    final plan can come before it has mounted: its rows were mounted twice,
    once by show and once as it composed (the snapshot before the first step
    caught it: the plan twice as long)."""
    from textual.app import App, ComposeResult

    class Holder(App[None]):
        def compose(self) -> ComposeResult:
            yield from ()

    app = Holder()
    async with app.run_test() as pilot:
        view = PlanView([Shell("true")])
        await_mount = app.screen.mount(view)
        view.show([Shell("first"), Shell("second")])
        await await_mount
        await pilot.pause()
        assert len(view.children) == 2
        assert ["first" in str(row.render()) for row in view.children] == [True, False]


async def test_a_journal_failure_with_markup_in_it_never_stops_the_app() -> None:
    """Notices carry paths, error text and host output. Read as Textual markup,
    a "[/...]" in one raised MarkupError as it was drawn and stopped the app,
    and a "[main]" (as in a red5.log line) vanished. A journal that fails is
    said by the hint and the exit lines now, not by a toast (trial 60, F8:
    its toasts hid the checklist at 80x24): none is shown, and the app runs on."""
    failure = ("/srv/runs/[/b]/sm1.jsonl: cannot write the journal (No space left on "
               "device); [main] stopped")
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, RunEnded("failed", 1, journal_failure=failure))
        await pilot.pause()
        await pilot.pause()
        assert "sm1.jsonl" not in screen_text(app), "no toast of it"
        assert not any("sm1.jsonl" in str(n.message) for n in app._notifications)
        assert app.is_running and app.return_code is None


async def test_while_a_failed_step_asks_what_now_the_hint_says_so() -> None:
    """Operator trial: "Checking the host before the next step..." stayed under
    the dialog of a failed step that waited for t, r or q."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, StepChanged(report("backup-live", StepState.FAILED, "mv refused", 0.1)))
        failed = report("backup-live", StepState.FAILED, "mv refused", 0.1)
        answer = asyncio.ensure_future(app.front.recover(failed, can_roll_back=True))
        await until(lambda: app.screen is not app.main, what="the dialog")
        await pilot.pause()
        shown = screen_text(app)
        assert "Checking the host" not in shown, shown
        assert "waits for your answer" in shown, shown
        # Review: ctrl+c then asked as if a step ran ("Busy: checking the host"),
        # and after "wait" the hint said a running step would finish.
        from types import SimpleNamespace

        from screens.dialogs import QuitDialog

        notes = collect_notes(app)
        app.runner = SimpleNamespace(is_finished=False)  # type: ignore[assignment]
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not isinstance(app.screen, QuitDialog)
        assert notes and "dialog waits for an answer" in notes[-1], notes
        app.run_state.stop_requested = True
        app.main.refresh_hint()
        await pilot.pause()
        assert "waits for your answer" in screen_text(app)
        app.runner = None
        answer.cancel()


def test_every_notice_of_runbook_is_plain_text() -> None:
    """Each of runbook's notices says markup=False, at the call: the app's
    notify hands Textual's own notices (a saved screenshot) on with their
    markup (the super().notify call, not checked here)."""
    import ast

    unmarked = []
    for path in sorted((Path(__file__).parents[1] / "screens").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "notify" \
                    and not isinstance(node.func.value, ast.Call) \
                    and not any(k.arg == "markup" and isinstance(k.value, ast.Constant)
                                and k.value.value is False for k in node.keywords):
                unmarked.append(f"{path.name}:{node.lineno}")
    assert unmarked == []


async def test_textuals_own_notices_keep_their_markup() -> None:
    """Review: a plain default for the whole app showed Textual's own notice
    as "Saved screenshot to [$text-success]'...'"."""
    from textual.widgets._toast import Toast

    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        app.notify("Saved screenshot to [b]/tmp/shot.svg[/b]")
        await pilot.pause()
        shown = [str(toast.render()) for toast in app.screen.query(Toast)]
        assert shown == ["Saved screenshot to /tmp/shot.svg"], shown


async def test_resuming_shows_the_earlier_runs_finished_steps_at_once(tmp_path: Path) -> None:
    earlier = cut_off_in_cutover(tmp_path / "earlier.jsonl")
    app = make_app(journal=tmp_path / "now.jsonl", resume=earlier,
                   clock_=FakeClock(BEGAN + 600))
    starts: list[bool] = []
    app.start_run = lambda: starts.append(True)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, ResumeDialog), what="the resume dialog")
        await pilot.press("c")
        await until(lambda: starts, what="the run to continue")
        await pilot.pause()
        rows = screen_text(app).splitlines()
        for title in ("Preflight checks", "Delete the nodegroups"):
            row = next(r for r in rows if title in r and "Step" not in r)
            assert "✓" in row and "done" in row, row
        row = next(r for r in rows if "Rename red5pro to bak.red5pro" in r and "Step" not in r)
        assert "pending" in row, row


async def test_after_a_failed_step_it_is_selected_and_its_result_shown() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, StepChanged(report("preflight", StepState.DONE, "ok", 1.0)))
        app.main.checklist.select_step("preflight")
        await pilot.pause()
        tell(app, StepChanged(report("new-database", StepState.RUNNING)))
        app.front.tell(Output("new-database", "err", "ERROR 1045: Access denied"))
        tell(app, StepChanged(report("new-database", StepState.FAILED,
                                     "the new database refused the login", 0.4)))
        await pilot.pause()
        app.main.flush_output()
        await pilot.pause()
        assert app.main.checklist.selected_step == "new-database"
        assert "the new database refused the login" in text_of(app.main)
        assert "ERROR 1045: Access denied" in screen_text(app)


async def test_while_delete_nodegroups_waits_it_says_how_many_are_still_there(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every DELETE is sent in a moment; the wait for the cloud to take the
    groups down is the long part, and its line must count what is left, not
    only the seconds."""
    from types import SimpleNamespace

    import steps.cutover as cutover
    import steps.waiting as waiting

    listings = [["eu-west", "us-east", "ap-south"],  # before the deletions
                ["eu-west", "us-east", "ap-south"], ["us-east", "ap-south"], ["ap-south"], []]
    said: list[str] = []

    class Api:
        async def list_nodegroups(self) -> list[dict[str, str]]:
            return [{"name": n} for n in (listings.pop(0) if len(listings) > 1 else [])]

        async def delete_nodegroup(self, name: str) -> dict[str, str]:
            return {"name": name, "state": "terminating"}  # as the API answers

        def api_call(self, method: str, path: str) -> ApiCall:
            return ApiCall(method, path, f"curl -X {method} {path}")

    class Ctx:
        settings = SimpleNamespace(timeouts=SimpleNamespace(nodegroups_gone=600.0))
        # What the check saw, which the plan showed.
        facts = SimpleNamespace(scratch=SimpleNamespace(
            nodegroups_listed=("ap-south", "eu-west", "us-east"), nodegroups_going=()))
        host_state = None  # no fleet to set against the snapshot: only the wait is looked at

        async def api(self) -> Api:
            return Api()

        async def act(self, action: Any, call: Any) -> Any:
            return await call()

        def info(self, text: str) -> None:
            said.append(text)

        def note(self, kind: str, text: str, **_: Any) -> None:
            said.append(text)

        def progress(self, done: float, total: float | None, label: str, *,
                     of_limit: bool = False) -> None:
            said.append(label)

    saved = SimpleNamespace(nodegroups=[{"name": n} for n in ("eu-west", "us-east", "ap-south")],
                            describe=lambda: "the snapshot")
    monkeypatch.setattr(cutover, "snapshot", lambda _ctx: saved)
    monkeypatch.setattr(waiting, "POLL_S", 0.0)
    await cutover.DeleteNodegroups().run(Ctx())  # type: ignore[arg-type]
    waiting = [line for line in said if "left" in line]
    assert any("3 of 3 nodegroups" in line for line in waiting), said
    assert any("1 of 3 nodegroups" in line for line in waiting), said
    assert any("ap-south" in line for line in said), "the one still there is named"
    # A line only when some are gone: the API's order is not news, and "3 of 3
    # still there" right after the deletions read as if none had worked.
    assert not any("3 of 3 nodegroups still there" in line for line in said), said


async def test_skip_is_offered_only_for_a_step_that_can_be_skipped() -> None:
    """Operator trial: every cutover step's hint said "s skips it with a
    reason", and s then said the step could not be skipped because the stream
    manager was down, before anything was. (s stays a key: pressed, it says
    why not.)"""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        answer = ask(app, "carry-over", await plan_of("carry-over"))
        await until(lambda: app.asking is not None, what="the question")
        await until(lambda: "Skip" in screen_text(app).splitlines()[-1], what="the footer")
        assert "s skips it" in screen_text(app)
        answer.cancel()
        await pilot.pause()
        tell(app, StepChanged(report("carry-over", StepState.SKIPPED, "kept", 0.0)))
        answer = ask(app, "delete-nodegroups", await plan_of("delete-nodegroups"))
        await until(lambda: app.asking is not None
                    and app.asking.report.id == "delete-nodegroups", what="the cutover question")
        await pilot.pause()
        shown = screen_text(app)
        assert "s skips" not in shown, shown
        notes = collect_notes(app)
        await pilot.press("s")
        await pilot.pause()
        assert notes and "stream manager down, half upgraded" in notes[-1], notes
        assert "is down until" not in notes[-1]
        answer.cancel()


CUTOVER = ("delete-nodegroups", "backup-live", "promote-new", "stop-service", "service-unit",
           "start-service", "recreate")
WAY_BACK = ("rollback-nodegroups", "rollback-stop-new", "rollback-set-aside",
            "rollback-restore", "rollback-unit", "rollback-start", "rollback-recreate")


def went_back_from(app: RunbookApp, failed: str, how: StepState = StepState.FAILED,
                   left: dict[str, Leaves] | None = None,
                   not_undone: tuple[str, ...] = ()) -> None:
    """A cutover whose steps were done up to `failed`, which failed (or ended
    as `how` says), and the whole way back after it, done; `left`, what it
    leaves before another attempt; `not_undone`, the steps it could not touch."""
    tell(app, CutoverStarted(CUTOVER[0], app.clock()))
    for step_id in CUTOVER[:CUTOVER.index(failed)]:
        tell(app, StepChanged(report(step_id, StepState.DONE, "ok", 0.1)))
    tell(app, StepChanged(report(failed, how, "what it did is not known: try again", 0.1)))
    for step_id in WAY_BACK:
        tell(app, StepChanged(report(step_id, StepState.DONE, "ok", 0.1)))
    tell(app, CutoverEnded(True, 4.0))
    tell(app, RunEnded(Outcome.ROLLED_BACK.value, Outcome.ROLLED_BACK.exit_code,
                       before_another_attempt=left or {}, not_undone=not_undone))


async def test_after_the_way_back_the_hint_says_the_old_stream_manager_serves() -> None:
    """Operator trial: once every rollback step was done, the hint still said
    the cutover step had failed and to fix the cause and run runbook again,
    which would start the upgrade over, and the way back's heading still read
    as if it might be needed."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "start-service")
        await pilot.pause()
        shown = screen_text(app)
        assert "the old release serves again" in shown, shown
        assert "Select step 16 to read why it failed." in shown, shown
        assert "run runbook again" not in shown and "Fix the cause" not in shown, shown
        assert "if a step fails, or press r" not in shown, shown


async def test_after_the_way_back_the_cutover_rows_read_undone_and_not_run() -> None:
    """Operator trial (stop 38): after the way back, cutover rows 12-15 still
    read done, though the way back had undone each of them, and the steps it
    was chosen before read pending, as if work were left; the prepare heading
    still spoke of the live system as if the cutover had not begun."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "service-unit")
        await pilot.pause()
        checklist = app.main.checklist

        def row(step_id: str) -> str:
            return str(checklist.get_option(step_id).prompt)

        for step_id in ("backup-live", "promote-new", "stop-service"):
            assert "undone" in row(step_id) and " done " not in row(step_id), row(step_id)
        # Its nodegroups the way back made anew (test_after_the_way_back_delete_
        # nodegroups_reads_recreated_not_undone).
        assert "recreated" in row("delete-nodegroups"), row("delete-nodegroups")
        # What failed stays said: the way back does not make it something else.
        assert "failed" in row("service-unit"), row("service-unit")
        for step_id in ("start-service", "recreate"):
            assert "not run" in row(step_id) and "pending" not in row(step_id), row(step_id)
        assert " done " in row("rollback-recreate"), row("rollback-recreate")
        # Prepare's own work happened, and stays done.
        assert "pending" in row("preflight")
        headings = {phase: str(checklist.get_option(f"group-{phase}").prompt)
                    for phase in ("prepare", "cutover")}
        assert "keeps running" not in headings["prepare"], headings
        assert "undone" in headings["cutover"], headings


async def test_after_the_way_back_delete_nodegroups_reads_recreated_not_undone() -> None:
    """Operator trial: after `--fault start-fails`, r and the way back, row 11
    read "Delete the nodegroups  undone"; the way back's rollback-recreate
    makes new nodegroups (new generated names, only their origins launched),
    it does not undo the delete. The other undone rows keep their word."""
    from screens.views import detail

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "start-service")
        await pilot.pause()
        checklist = app.main.checklist
        row = str(checklist.get_option("delete-nodegroups").prompt)
        assert "recreated" in row and "undone" not in row, row
        for step_id in ("backup-live", "promote-new", "stop-service", "service-unit"):
            shown = str(checklist.get_option(step_id).prompt)
            assert "undone" in shown and "recreated" not in shown, shown
        said = detail(app.run_state, app.by_id["delete-nodegroups"]).plain
        assert "recreated" in said.splitlines()[0] and "undone" not in said.splitlines()[0], said


async def test_at_100_columns_the_legend_names_what_a_glyph_only_row_was_recreated() -> None:
    """Second review (stop 52): from 100 to 119 columns a row shows its glyph
    alone, and delete-nodegroups' ↺ was named "undone" by the legend, the
    word the fix above took from its row. The legend names both."""
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "start-service")
        await pilot.pause()
        said = str(app.main.query_one("#legend").render())
        assert "↺ undone/recreated" in said, said
        legend_rows = said.count("\n")
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "delete-nodegroups")  # nothing recreated: the word alone
        await pilot.pause()
        said = str(app.main.query_one("#legend").render())
        assert "↺ undone " in said and "recreated" not in said, said
        assert said.count("\n") == legend_rows, said  # the same height either way


@pytest.mark.parametrize("size", [(120, 40), (100, 30), (80, 24)], ids=str)
async def test_after_the_way_back_the_hint_gives_the_drop_command_whole_or_not_at_all(
        size: tuple[int, int]) -> None:
    """Re-trial (stop 52): after the way back the hint ended "(mysql -h
    127.0.0.3 -P 14109 -u smadmin" at 120x40, the rest cut, and at 100x30 no
    part of it showed. A command half shown is worse than none: where it does
    not fit, the hint names the database and says where the command is."""
    host = "sm-db-2.abcdefghij.us-east-1.rds.amazonaws.com"
    command = (f"mysql --protocol=tcp -h {host} -P 3306 -u smadmin -p -e "
               "'DROP DATABASE cluster'")
    left = Leaves("the nodegroups recreate made stay in the new database", "drop the cluster "
                  f"database on {host}:3306 first, from the stream manager host, as the live "
                  f"login smadmin ({command})")
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "start-service", left={"recreate": left})
        await pilot.pause()
        hint = app.main.query_one("#hint")
        lines = hint.render().wrap(app.main.size.width - 2)  # type: ignore[union-attr]
        # What shows: the lines the hint has.
        said = " ".join(line.plain.strip() for line in lines[:hint.size.height])
        assert f"drop the cluster database on {host}:3306" in said, said
        # Where the lines are too few for the aside and the keys, the keys
        # stay (trial 56, F6): "w writes the report" says where it is then.
        assert command in said or ("mysql" not in said and (
            "the report has the command" in said or "w writes the report" in said)), said


@pytest.mark.parametrize("size", [(140, 35), (80, 24)], ids=str)
async def test_after_the_way_back_the_hint_gives_recreates_drop_command(
        tmp_path: Path, size: tuple[int, int]) -> None:
    """Trial 61, F3: once the way back was done the hint said "drop the
    cluster database on HOST:PORT first (the report has the command)", where
    the README says it gives the command, and the report is not written yet
    (w). What recreate leaves to do is said by its command, whole, for the
    example's RDS host (at 100x30 its two lines are too few for it: there
    the hint says the exit lines print it)."""
    from runbook.config import load
    from steps.cutover import Recreate
    from steps.facts import Red5Facts
    from tests.example_config import example_here

    facts = Red5Facts()
    facts.db_user = "smadmin"
    left = Recreate().leaves(load(example_here(tmp_path)), facts)
    command = ("mysql --protocol=tcp -h sm-db-2.abcdefghij.us-east-1.rds.amazonaws.com -P "
               "3306 -u smadmin -p -e 'DROP DATABASE cluster'")
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "start-service", left={"recreate": left})
        await pilot.pause()
        hint = app.main.query_one("#hint")
        lines = hint.render().wrap(app.main.size.width - 2)  # type: ignore[union-attr]
        said = " ".join(line.plain.strip() for line in lines[:hint.size.height])
    assert command in said and "the report has the command" not in said, said
    assert "q quits" in said, said


@pytest.mark.parametrize("host", ["127.0.0.3", "sm-db-2.abcdefghij.us-east-1.rds.amazonaws.com"])
@pytest.mark.parametrize("size", [(120, 40), (100, 30), (80, 24)], ids=str)
async def test_after_the_way_back_the_hint_always_shows_the_keys(
        size: tuple[int, int], host: str) -> None:
    """Trial 56, F6: at 100x30, after a way back that left recreate in doubt,
    the hint ended "... to read why it was left in doubt. w" and the key bar
    followed: what w does, and q, did not show (whole at 80x24, which gives
    the hint a third line). The keys to press next are what the operator
    needs there: they always show, whatever else gives way."""
    command = (f"mysql --protocol=tcp -h {host} -P 29236 -u smadmin -p -e "
               "'DROP DATABASE cluster'")
    left = Leaves("the nodegroups recreate made stay in the new database", "drop the cluster "
                  f"database on {host}:29236 first, from the stream manager host, as the live "
                  f"login smadmin ({command})")
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "recreate", StepState.IN_DOUBT, left={"recreate": left})
        await pilot.pause()
        hint = app.main.query_one("#hint")
        lines = hint.render().wrap(app.main.size.width - 2)  # type: ignore[union-attr]
        said = " ".join(line.plain.strip() for line in lines[:hint.size.height])
        assert len(lines) <= hint.size.height, said
        assert said.endswith("w writes the report. q quits."), said
        assert f"drop the cluster database on {host}:29236" in said, said


async def test_recreate_done_before_the_way_back_reads_part_undone() -> None:
    """Operator trial (stop 51): a run gone back after recreate read recreate
    "undone", though what it made in the new database stays. Trial 54, F7:
    nor is it untouched: the way back deletes recreate's nodegroups
    (rollback-nodegroups), and the headless summary and the report say
    "partly undone by the way back"; the row says so too."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "recreate", StepState.DONE)
        await pilot.pause()
        checklist = app.main.checklist
        recreate = str(checklist.get_option("recreate").prompt)
        assert "part undone" in recreate and " done " not in recreate, recreate
        assert "undone" in str(checklist.get_option("start-service").prompt)


async def test_recreate_left_in_doubt_reads_part_undone_once_the_way_back_is_done() -> None:
    """Operator trial: recreate left in doubt still read "in doubt" once the
    way back was done, as if to be tried again, and its advice came before
    the way back, as the report says. Trial 54, F7: it then read "not
    undone", though the way back had just deleted recreate's nodegroups and
    the summary and the report said "partly undone by the way back"."""
    from screens.views import detail

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "recreate", StepState.IN_DOUBT)
        await pilot.pause()
        shown = str(app.main.checklist.get_option("recreate").prompt)
        assert "in doubt" not in shown and "not undone" not in shown, shown
        assert "part undone" in shown, shown
        said = detail(app.run_state, app.by_id["recreate"]).plain
        assert "before the way back" in said, said
        assert "partly undone by the way back" in said.lower(), said


async def test_recreate_the_way_back_could_not_touch_reads_not_undone() -> None:
    """Operator trial 54 (F9): the way back could not delete recreate's
    nodegroups (its first step warned, the nodes left running); the summary
    and the report say recreate was not undone, and the checklist read "part
    undone" and "undid it, recreate partly" beside them. Review 56b, F6:
    which steps, the run's end says (RunEnded.not_undone), not the words of
    what they leave."""
    left = {"recreate": Leaves("group-a and group-b, with the launch configs and scale "
                               "policies recreate made, stay in the new database after the "
                               "way back", "drop the cluster database first")}
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "recreate", StepState.DONE, left=left, not_undone=("recreate",))
        await pilot.pause()
        shown = str(app.main.checklist.get_option("recreate").prompt)
        assert "not undone" in shown and "part undone" not in shown, shown
        heading = str(app.main.checklist.get_option("group-cutover").prompt)
        assert "the way back undid all but recreate" in heading, heading
        from screens.views import detail
        said = detail(app.run_state, app.by_id["recreate"]).plain
        assert "Not undone by the way back: group-a and group-b" in said, said


async def test_the_cutover_heading_after_the_way_back_says_what_it_did_not_undo() -> None:
    """Operator trial: "CUTOVER · undone by the way back" stood above
    recreate's row, which read done: the way back does not undo recreate."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "recreate", StepState.DONE)
        await pilot.pause()
        heading = str(app.main.checklist.get_option("group-cutover").prompt)
        # Trial 54, F7: "the way back undid all but recreate", though it
        # deleted recreate's nodegroups: partly undone, as the report says.
        assert "undid all but" not in heading, heading
        assert "the way back undid it, recreate partly" in heading, heading
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "start-service")  # recreate not run: all of it undone
        await pilot.pause()
        heading = str(app.main.checklist.get_option("group-cutover").prompt)
        assert "recreate" not in heading and "undone by the way back" in heading, heading


async def test_a_step_left_in_doubt_reads_undone_once_the_way_back_is_done() -> None:
    """Operator trial: a step left in doubt (its kill sent, the runbook killed)
    and then gone back from still read "in doubt" once the way back was done,
    its output inviting a retry on a host that had been rolled back. The way
    back undid whatever it did; why it was left in doubt is still the hint's."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "stop-service", StepState.IN_DOUBT)
        await pilot.pause()
        shown = str(app.main.checklist.get_option("stop-service").prompt)
        assert "undone" in shown and "in doubt" not in shown, shown
        assert "to read why it was left in doubt" in screen_text(app)


async def test_after_an_upgrade_the_way_back_rows_read_not_run() -> None:
    """Its heading said the way back was not needed, while each of its rows
    still read pending, the word for work left (operator trial, stop 38)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        row = app.main.checklist.get_option("rollback-restore")
        assert "pending" in str(row.prompt)
        tell(app, RunEnded(Outcome.DONE.value, 0))
        await pilot.pause()
        for step_id in ("rollback-stop-new", "rollback-restore", "rollback-recreate"):
            shown = str(app.main.checklist.get_option(step_id).prompt)
            assert "not run" in shown and "pending" not in shown, shown


async def test_on_the_way_back_the_count_is_of_its_steps() -> None:
    """Operator trial (stop 38): after the way back the status row read "steps
    14/17 done or skipped", counting cutover steps the way back had undone as
    done, and saying nothing of the way back's own progress."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "start-service")
        await pilot.pause()
        clocks = app.main.clocks().plain
        assert f"way back {len(WAY_BACK)}/{len(WAY_BACK)} done" in clocks, clocks
        assert "steps " not in clocks, clocks


async def test_the_status_row_says_how_the_run_ended_in_words() -> None:
    """Operator trial: after the way back the status row read `run rolled-back`,
    the journal's token, beside clocks and counts said in words."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, CutoverStarted("delete-nodegroups", app.clock()), CutoverEnded(True, 4.0),
             RunEnded(Outcome.ROLLED_BACK.value, Outcome.ROLLED_BACK.exit_code))
        await pilot.pause()
        status = screen_text(app).splitlines()[1]
        assert "run rolled back" in status and "rolled-back" not in status, status


async def test_the_exit_line_after_the_tui_says_how_the_run_ended_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The line the CLI prints once the TUI has closed read `runbook:
    rolled-back; journal: ...`. The app's terminal loop is the one part left
    out: here the whole session in it is a run that was rolled back."""
    from runbook.cli import wiring
    from screens.app import RunbookApp
    from screens.tui import run_tui
    from tests.test_tui_fakes import TOKEN

    async def rolled_back(app: RunbookApp, **_: object) -> None:
        app.run_state.ended(Outcome.ROLLED_BACK)

    monkeypatch.setattr(RunbookApp, "run_async", rolled_back)
    journal = tmp_path / "run.jsonl"
    outcome = await run_tui(lambda _earlier: wiring.session(
        settings(), token=TOKEN, state_dir=tmp_path, journal_path=journal))
    assert outcome is Outcome.ROLLED_BACK
    assert capsys.readouterr().out == f"runbook: rolled back; journal: {journal}\n"


async def test_leaving_at_the_resume_dialog_names_the_journal_that_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review: leaving at the resume dialog, the exit line named the new run's
    journal, a file nobody wrote, beside lines about the earlier run's."""
    from runbook.cli import wiring
    from runbook.journal_replay import replay
    from screens.app import RunbookApp
    from screens.tui import run_tui
    from tests.test_tui_fakes import TOKEN
    from tests.test_tui_pilot import unfinished_journal

    earlier = unfinished_journal(tmp_path / "earlier.jsonl")

    async def left_at_the_dialog(app: RunbookApp, **_: object) -> None:
        app.run_state.ended(Outcome.STOPPED)

    monkeypatch.setattr(RunbookApp, "run_async", left_at_the_dialog)
    fresh = tmp_path / "fresh.jsonl"
    await run_tui(lambda _earlier: wiring.session(
        settings(), token=TOKEN, state_dir=tmp_path, journal_path=fresh),
        previous=replay(earlier))
    out = capsys.readouterr().out
    assert f"journal: {earlier}" in out and str(fresh) not in out, out


async def test_after_a_failed_cutover_step_the_hint_names_the_way_back_too() -> None:
    """The stream manager is down: 'fix it and run again' is half the answer
    at that moment; the other half is that there is a way back, and where."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, CutoverStarted("delete-nodegroups", app.clock()))
        tell(app, StepChanged(report("delete-nodegroups", StepState.DONE, "ok", 1.0)))
        tell(app, StepChanged(report("backup-live", StepState.FAILED, "mv refused", 0.1)))
        tell(app, CutoverEnded(False, 1.1))
        tell(app, RunEnded(Outcome.FAILED.value, Outcome.FAILED.exit_code))
        await pilot.pause()
        shown = screen_text(app)
        assert "stream manager is down" in shown
        assert "r " in shown and "way back" in shown


def heading(app: object, phase: str) -> str:
    return str(app.main.checklist.get_option(f"group-{phase}").prompt)  # type: ignore[attr-defined]


async def test_the_phase_headings_do_not_say_the_live_system_runs_while_it_is_down(
        tmp_path: Path) -> None:
    """Operator trial: a run continued mid-cutover re-ran preflight under
    "PREPARE · the live system keeps running", the stream manager down."""
    host = settings().host
    HostState(tmp_path, host.address, host.port).begin_cutover(tmp_path / "old.jsonl")
    app = make_app(journal=tmp_path / "now.jsonl", clock_=FakeClock(BEGAN))
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        await pilot.pause()
        assert "keeps running" not in heading(app, "prepare"), heading(app, "prepare")
        # Nor that these steps took it down, nor that they are under way
        # (operator trials: "before the cutover, now under way").
        assert "down" not in heading(app, "prepare") and "cutover" in heading(app, "prepare")
        assert "under way" not in heading(app, "prepare"), heading(app, "prepare")
        assert "downtime from the first step" not in heading(app, "cutover")
        assert "down since" in heading(app, "cutover"), heading(app, "cutover")
    # A fresh run: so until its cutover starts, and then no longer.
    app = make_app(journal=tmp_path / "fresh" / "now.jsonl", clock_=FakeClock(BEGAN))
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        await pilot.pause()
        assert "keeps running" in heading(app, "prepare")
        tell(app, CutoverStarted("delete-nodegroups", app.clock()))
        await pilot.pause()
        assert "keeps running" not in heading(app, "prepare"), heading(app, "prepare")
        assert "down since" in heading(app, "cutover"), heading(app, "cutover")


async def test_a_way_back_stopped_at_its_first_question_is_still_the_way_back(
        tmp_path: Path) -> None:
    """Review: the way back counted as begun from a rollback step's state, which
    went back to pending when the operator stopped at its first question; the
    status row returned to the cutover's estimate ("54.8s over") and the
    heading to "if a step fails, or press r". The engine says it began."""
    from runbook.events import WayBackStarted

    clock = FakeClock(BEGAN)
    app = make_app(journal=tmp_path / "now.jsonl", clock_=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        app.run_state.estimate_s = 5.2
        tell(app, CutoverStarted("delete-nodegroups", app.clock()),
             StepChanged(report("delete-nodegroups", StepState.FAILED, "timed out", 3.0)),
             WayBackStarted(),
             StepChanged(report("rollback-stop-new", StepState.PENDING)))
        clock.now += 60
        app.main.tick()
        await pilot.pause()
        line = status_line(app)
        assert "over" not in line and "5.2s" not in line, line
        assert "if a step fails, or press r" not in heading(app, "rollback")


async def test_the_way_back_is_not_timed_against_the_cutover_estimate(tmp_path: Path) -> None:
    """Operator trial: during the way back the status row said "54.8s over (the
    last cutover took 5.2s)": an upgrade's cutover time is no estimate for a
    way back. The down-since clock stays."""
    clock = FakeClock(BEGAN)
    app = make_app(journal=tmp_path / "now.jsonl", clock_=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        app.run_state.estimate_s = 5.2
        tell(app, CutoverStarted("delete-nodegroups", app.clock()))
        await until(lambda: app.run_state.down_since is not None, what="the cutover")
        clock.now += 3
        app.main.tick()
        await pilot.pause()
        assert "left" in status_line(app), status_line(app)  # the upgrade's own cutover
        tell(app, StepChanged(report("delete-nodegroups", StepState.FAILED, "timed out", 3.0)),
             StepChanged(report("rollback-stop-new", StepState.RUNNING)))
        clock.now += 57
        app.main.tick()
        await pilot.pause()
        line = status_line(app)
        assert "down 00:01:00" in line and "since" in line, line
        assert "over" not in line and "left" not in line and "5.2s" not in line, line
        tell(app, StepChanged(report("rollback-stop-new", StepState.DONE, "stopped", 1.0)))
        app.main.tick()
        await pilot.pause()
        line = status_line(app)
        assert "over" not in line and "5.2s" not in line, line
        assert "ROLLBACK" in heading(app, "rollback") and \
            "if a step fails, or press r" not in heading(app, "rollback")


@pytest.mark.parametrize(("rehearsal", "width"), [(True, 120), (False, 110)])
def test_the_status_line_keeps_the_whole_host_key_where_it_can(rehearsal: bool,
                                                               width: int) -> None:
    """Operator trial: at 120 columns a rehearsal's status line cut the host
    key's fingerprint ("SHA256:1YcYblgHoHLGdGBc…"), and a real run's at 110,
    which the README says it shows: the pace and the "runbook →" before the
    target took the room."""
    from screens.run_state import RunState
    from screens.views import Where, status_host

    state = RunState([], "red5admin@sm1.example.com:22")
    state.connection = "connected"
    state.fingerprint = "SHA256:" + "x" * 43
    where = Where(rehearsal, "", Path("run.jsonl"), "at the fast pace" if rehearsal else "")
    row = status_host(state, where, width=width)
    assert state.fingerprint in row.plain and state.target in row.plain, row.plain
    # Whole within the width; what comes after it (the pace) may be cut.
    assert row.plain.index(state.fingerprint) + len(state.fingerprint) <= width, row.plain
    wide = status_host(state, where, width=200)
    assert "runbook → " in wide.plain and (not rehearsal or "fast pace" in wide.plain)


@pytest.mark.parametrize(("run", "columns"), [
    ("production", 100), ("production", 110), ("rehearsal", 110), ("rehearsal", 130)])
async def test_from_100_columns_the_status_line_shows_the_host_key_whole_and_the_pace_whole_or_not(
        tmp_path: Path, run: str, columns: int) -> None:
    """README walkthrough: at 100 and 110 columns the status line cut the
    fingerprint itself ("SHA256:ESqF6Y91KUio62bv4YggjF7XA…"), which the
    README says is shown whole first, and at 130 a rehearsal's pace was cut."""
    from runbook.cli import wiring
    from runbook.events import Connected
    from screens.app import create_app
    from tests.test_tui_fakes import TOKEN

    rehearsal = run == "rehearsal"
    chosen = settings() if rehearsal else dataclasses.replace(
        production(), host=dataclasses.replace(settings().host, address="sm1.example.com",
                                               port=22))
    journal = tmp_path / "now.jsonl"
    app = create_app(lambda _: wiring.session(chosen, token=TOKEN, state_dir=tmp_path,
                                              journal_path=journal),
                     rehearsal=rehearsal, clock=FakeClock(), start_run=False)
    fingerprint = "SHA256:ESqF6Y91KUio62bv4YggjF7XA" + "q" * 18
    async with app.run_test(size=(columns, 40)) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, Connected(app.run_state.target, fingerprint))
        await pilot.pause()
        row = screen_text(app).splitlines()[0]
    assert fingerprint in row and app.run_state.target in row, row
    # What follows the host key is whole or absent: never "at the fa…".
    assert "…" not in row, row
    assert ("REHEARSAL" in row) is rehearsal, row


async def test_a_run_that_ends_without_asking_shows_the_step_it_ended_on() -> None:
    """Operator trial (twice): a resumed run that found its last steps done
    and ended with no question left the checklist on step 1, "Preflight
    checks ✓ done", beside the output of the step the run had ended on."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        assert app.main.checklist.selected_step == "preflight"
        tell(app, *(StepChanged(report(step, StepState.DONE, "done in the earlier run"))
                    for step in ("preflight", "new-database", "export-config")),
             StepChanged(report("upload", StepState.DONE, "found in place")),
             RunEnded(Outcome.STOPPED.value, Outcome.STOPPED.exit_code))
        await pilot.pause()
        assert app.main.checklist.selected_step == "upload"


async def test_a_run_that_asked_keeps_the_operators_selection_at_its_end() -> None:
    """The rule above is for a run that never asked: once the operator has
    been asked (and may have moved the cursor since), the end moves nothing."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        asked = ask(app, "preflight", await plan_of("preflight"))
        await pilot.pause()
        app.main.checklist.select_step("schema")
        tell(app, StepChanged(report("preflight", StepState.DONE, "ok")),
             RunEnded(Outcome.STOPPED.value, Outcome.STOPPED.exit_code))
        await pilot.pause()
        assert app.main.checklist.selected_step == "schema"
        asked.cancel()


async def test_a_run_stopped_with_a_step_in_doubt_says_in_doubt_not_failed() -> None:
    """Operator trial: stopped at the question of a step stopped with x, the
    hint said "Step 17 failed and the stream manager is down" beside the
    row's "! in doubt"."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, CutoverStarted(CUTOVER[0], app.clock()))
        for step_id in CUTOVER[:-1]:
            tell(app, StepChanged(report(step_id, StepState.DONE, "ok", 0.1)))
        tell(app, StepChanged(report(CUTOVER[-1], StepState.IN_DOUBT, "stopped by the operator")),
             RunEnded(Outcome.STOPPED.value, Outcome.STOPPED.exit_code))
        await pilot.pause()
        hint = " ".join(str(app.main.query_one("#hint").render()).split())
    assert "in doubt" in hint and "failed" not in hint, hint


async def test_w_before_the_run_ends_says_when_the_report_can_be_written() -> None:
    """Operator trial: w while the run went on did nothing and said nothing
    (the footer rightly leaves it out until there is a run to report)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        await pilot.press("w")
        await pilot.pause()
        said = [n.message for n in app._notifications]
    assert any("report" in note and "ends" in note for note in said), said


@pytest.mark.parametrize("kind", ["run", "lasting rehearsal", "throwaway rehearsal"])
async def test_the_end_hint_after_a_stop_at_a_failure_names_resume(tmp_path: Path,
                                                                   kind: str) -> None:
    """Re-trial 53 (L6): properties skipped on the template, the cutover was
    refused at delete-nodegroups, and after q the hint said "Fix the cause,
    then run runbook again"; the way on is `--resume`, which offers
    properties again, and the exit lines name its command ("to go on: ...").
    A rehearsal whose host goes with the app has no run to go on with."""
    from runbook.standing import WayBack

    journal = tmp_path / "now.jsonl"
    app = make_app(journal=journal, settings_=production() if kind == "run" else None,
                   going_back=(lambda _j: WayBack("runbook rehearse --resume --sandbox S"))
                   if kind == "lasting rehearsal" else None)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, StepChanged(report("delete-nodegroups", StepState.FAILED,
                                     "the cutover cannot begin: properties was skipped", 0.1)),
             RunEnded(Outcome.STOPPED.value, Outcome.STOPPED.exit_code))
        await pilot.pause()
        hint = " ".join(str(app.main.query_one("#hint").render()).split())
        assert "run runbook again" not in hint, hint
        if kind == "throwaway rehearsal":
            assert "--resume" not in hint and "rehearse again" in hint, hint
        else:
            assert "go on with --resume" in hint and "as runbook quits" in hint, hint


async def test_deletions_are_counted_from_the_plan_handed_over_not_the_preview() -> None:
    """Operator trial 54 (F16 LOW): while delete-nodegroups checked again after
    a refusal, the output pane said "nodegroups: 0 of 1 deletions sent, 1 left
    ({each nodegroup})": the preview's plan, made before the snapshot, with its
    placeholder and one call, where the fleet had two nodegroups."""
    from runbook.model import ApiCall
    from screens.run_state import RunState
    from screens.views import deletions
    from tests.test_tui_fakes import question
    from tests.test_tui_stop_step import procedure_cards

    step = "delete-nodegroups"
    state = RunState(procedure_cards(), "red5admin@sm1.example.com:22")
    state.plans[step] = [ApiCall("DELETE", "admin/nodegroup/{each nodegroup}",
                                 "curl -X DELETE '.../admin/nodegroup/{each nodegroup}'")]
    state.running = step
    assert deletions(state, step, ()) is None
    final = [ApiCall("DELETE", f"admin/nodegroup/{name}", f"curl -X DELETE '.../{name}'")
             for name in ("group-a", "group-b")]
    state.asked(question(step, final))
    assert deletions(state, step, [final[0].curl]) == \
        "nodegroups: 1 of 2 deletions sent, 1 left (group-b)"


def test_a_resumed_runs_next_question_says_the_steps_found_done_not_an_older_one() -> None:
    """Review of trial 56b F5's fix (hD): on a resume, start-service's question
    still echoed "✓ Step 2 done: ..." after steps 3 to 15 were found done
    since; the echo is the last that happened, as for the way back."""
    from runbook.events import StepChanged
    from runbook.model import StepReport
    from screens.run_state import RunState
    from screens.views import _last_result
    from tests.test_tui_stop_step import procedure_cards

    state = RunState(procedure_cards(), "red5admin@sm1.example.com:22")
    cards = state.cards
    state.apply(StepChanged(StepReport(cards[1].id, StepState.RUNNING)), 1.0)
    state.apply(StepChanged(StepReport(cards[1].id, StepState.DONE, "accepts the login")), 2.0)
    for card in cards[2:6]:
        state.apply(StepChanged(StepReport(card.id, StepState.DONE, "done before",
                                           found_done=True)), 3.0)
    said = "".join(part if isinstance(part, str) else part[0] for part in _last_result(state))
    assert "Steps 3 to 6" in said and "Step 2" not in said, said


async def test_the_hint_says_nodes_were_left_running_where_the_way_back_could_not_delete_them(
        ) -> None:
    """Trial 58, M1: the way back could not delete recreate's nodegroups,
    and the final hint said only to drop the new database; that their nodes
    were left running (and may bill) was in the exit lines and the report
    alone. It is said by the run's end (RunEnded.not_undone) and recreate's
    card, at every size, not read from what the step leaves."""
    left = {"recreate": Leaves("group-a, with what recreate made, stays in the new database",
                               "drop the cluster database on 127.0.0.3:24548 first, from the "
                               "stream manager host (mysql -h 127.0.0.3 -p)")}
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "recreate", StepState.DONE, left=left, not_undone=("recreate",))
        for size in (SIZE, (80, 24), (60, 20)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            hint = str(app.main.query_one("#hint").render())
            assert "left running" in hint and "cloud's console" in hint, (size, hint)
            assert "drop the cluster database" in hint and "q quits" in hint, (size, hint)
    # Where it could delete them, no such word.
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "recreate", StepState.DONE, left=left)
        await pilot.pause()
        hint = str(app.main.query_one("#hint").render())
        assert "left running" not in hint and "drop the cluster database" in hint, hint


async def test_the_legend_names_not_undone_where_a_row_shows_it() -> None:
    """Trial 58, L1: recreate's row read "≠ not undone" and the legend named
    every glyph but that one, at every width. Only recreate is undone in
    part or not at all, so no run shows both: where a row reads not undone,
    its look takes part undone's place, and the legend keeps its height."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "recreate", StepState.DONE, not_undone=("recreate",))
        for size in (SIZE, (80, 24), (60, 20)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            shown = str(app.main.query_one("#legend", Static).content)
            assert "≠" in shown and "not undone" in shown, (size, shown)
            assert "◐" not in shown, (size, shown)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        went_back_from(app, "recreate", StepState.DONE)
        await pilot.pause()
        shown = str(app.main.query_one("#legend", Static).content)
        assert "◐" in shown and "≠" not in shown, shown


def test_a_claim_refused_on_a_resumed_run_does_not_say_earlier_steps_only_looked(
        tmp_path: Path) -> None:
    """Review 62b, L2: on a resumed run, the steps an earlier run did are
    reported done (trusted from its journal) before this run's claim is
    refused at the first step to change the host. The hint took them for
    steps that ran in this run and "only looked at the host": upload and
    new-database, which changed it. Only this run's looks are said so; the
    earlier run's steps are said done earlier."""
    from runbook.journal_replay import replay
    from runbook.model import StepCard, StepReport
    from screens.run_state import RunState
    from screens.views import _hint_ended

    earlier = Journal(tmp_path / "run.jsonl")
    for step in ("preflight", "upload", "new-database"):
        earlier.write("step-end", step=step, state="done", detail="did", elapsed_s=1.0)
    earlier.write("run-end", outcome="stopped", exit_code=3)
    earlier.close()
    cards = [StepCard(n, step, step.title(), Phase.PREPARE, "Does.") for n, step in
             enumerate(("preflight", "upload", "new-database", "export-config"), start=1)]
    seen = RunState(cards=cards, target="u@h:22", previous=replay(tmp_path / "run.jsonl"))
    seen.apply(StepChanged(StepReport("preflight", StepState.RUNNING)), 0.0)
    seen.apply(StepChanged(StepReport("preflight", StepState.DONE, "looked")), 1.0)
    for step in ("upload", "new-database"):
        trusted = StepReport(step, StepState.DONE, "done in the earlier run: did")
        trusted.done_earlier = True
        seen.apply(StepChanged(trusted), 1.0)
    seen.apply(StepChanged(StepReport("export-config", StepState.RUNNING)), 2.0)
    seen.ended(Outcome.STOPPED, "sudo refused", refused=True)
    assert [card.id for card in seen.ran_before_the_refusal()] == ["preflight"]
    said = " ".join(_hint_ended(seen, journal=tmp_path / "run.jsonl", brief=False,
                                fits=None).plain.split())
    assert "Step 1 ran and only looked at the host" in said, said
    assert "Steps 2 and 3 were done in an earlier run" in said, said
    assert "refused at step 4" in said, said
