"""What the operator takes away from the TUI: the full log (`L`, searchable with
`/`, `n`, `N`), commands on the clipboard (`y`), and the report for the change
ticket at the end of the run (`w`)."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

from runbook.events import Output, StepChanged
from runbook.executor import Outcome
from runbook.journal import Journal
from runbook.model import StepState
from screens.app import RunbookApp
from screens.dialogs import ConfirmDialog, ResumeDialog
from screens.log_view import LogView
from tests.polling import until
from tests.test_tui_fakes import (
    TOKEN,
    Talk,
    ask,
    make_app,
    plan_of,
    report,
    screen_text,
    tell,
)
from tests.test_tui_pilot import unfinished_journal

SIZE = (120, 40)


def clipboard_writes(app: RunbookApp) -> list[str]:
    """What the app sends the terminal (where OSC 52 carries a copy)."""
    sent: list[str] = []
    driver = app._driver
    assert driver is not None
    write = driver.write

    def recording(data: str) -> None:
        sent.append(data)
        write(data)

    driver.write = recording  # type: ignore[method-assign]
    return sent


def osc52(text: str) -> str:
    return f"\x1b]52;c;{base64.b64encode(text.encode()).decode()}\a"


def feed(app: RunbookApp) -> None:
    tell(app, StepChanged(report("preflight", StepState.RUNNING)))
    app.front.tell(Output("preflight", "cmd", "$ cat /usr/local/red5pro/conf/red5.properties"))
    app.front.tell(Output("preflight", "out", "http.port=5080"))
    tell(app, StepChanged(report("preflight", StepState.DONE, "ok", 1.0)))
    tell(app, StepChanged(report("export-config", StepState.RUNNING)))
    for name in ("eu-west", "us-east"):
        app.front.tell(Output("export-config", "cmd", f"curl -sS 'http://h/admin/nodegroup/"
                                                      f"{name}?accessToken=$SM_API_TOKEN'"))
        app.front.tell(Output("export-config", "out", f'{{"name": "{name}"}}'))
    app.front.tell(Output("export-config", "err", "warning-free stderr line"))


async def test_the_full_log_has_every_line_with_its_step_and_finds_text() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        feed(app)
        # Seven lines told, and preflight's end (done: ok) as its own last line.
        await until(lambda: app.store.added == 8, what="the lines")
        await pilot.press("L")
        await until(lambda: isinstance(app.screen, LogView), what="the full log")
        view: LogView = app.screen  # type: ignore[assignment]
        await pilot.pause()
        shown = screen_text(app)
        assert "preflight" in shown and "export-config" in shown
        assert "http.port=5080" in shown and '{"name": "us-east"}' in shown
        assert [step for step, _ in view.entries] == ["preflight"] * 3 + ["export-config"] * 5
        await pilot.press("home", "slash")
        await until(lambda: app.focused is not None and app.focused.id == "log-find",
                    what="the search field")
        for key in "NODEGROUP":  # any case
            await pilot.press(key)
        await pilot.press("enter")
        await until(lambda: view.view.marked == 3, what="the first line that holds it")
        assert "2 lines hold" in screen_text(app)
        await pilot.press("n")
        await until(lambda: view.view.marked == 5, what="the next")
        await pilot.press("n")
        await until(lambda: view.view.marked == 3, what="round to the first again")
        await pilot.press("N")
        await until(lambda: view.view.marked == 5, what="the previous")
        # Lines that arrive while it is open join it.
        app.front.tell(Output("export-config", "info", "saved 2 nodegroups"))
        await until(lambda: "saved 2 nodegroups" in screen_text(app), what="a new line")
        await pilot.press("escape")
        await until(lambda: app.screen is app.main, what="back to the main screen")


async def test_y_copies_the_selected_steps_commands_and_the_log_one_line() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        sent = clipboard_writes(app)
        plan = await plan_of("delete-nodegroups")
        answer = ask(app, "delete-nodegroups", plan)
        await until(lambda: app.asking is not None, what="the question")
        await pilot.press("y")
        copied = app.clipboard
        assert copied.splitlines()[0].startswith("curl -sS -X DELETE")
        assert copied.splitlines()[-1].startswith("# wait up to")  # not a command: a comment
        assert '"$SM_API_TOKEN"' in copied and TOKEN not in copied
        assert osc52(copied) in sent, "the copy went to the terminal as OSC 52"
        feed(app)
        await until(lambda: app.store.added == 8, what="the lines")
        await pilot.press("L")
        await until(lambda: isinstance(app.screen, LogView), what="the full log")
        view: LogView = app.screen  # type: ignore[assignment]
        # Mounted (its last line selected) before keys go to it: pushed is not
        # yet mounted, and a `y` then reached the main screen's binding.
        await until(lambda: view.view.marked == 7, what="the log mounted")
        await pilot.press("home", "down", "down", "down")
        await until(lambda: view.view.marked == 3, what="the fourth line selected")
        await pilot.press("y")
        assert app.clipboard == "curl -sS 'http://h/admin/nodegroup/eu-west?accessToken=" \
                               "$SM_API_TOKEN'"
        answer.cancel()


async def test_y_typed_again_and_again_leaves_one_copy_toast() -> None:
    """Trial 54, F5: `y` typed ahead while preflight ran (meant as the next
    "run it") copied step 1's commands three times, and three stacked
    toasts covered the output pane. A copy still copies while a step runs
    (the selected step's commands, as at any time), but its toast replaces
    the one the copy before it left: one at most."""
    from textual.widgets._toast import Toast

    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        plan = await plan_of("export-config")
        answer = ask(app, "export-config", plan)
        await until(lambda: app.asking is not None, what="the question")
        answer.cancel()
        app.front.tell(StepChanged(report("export-config", StepState.RUNNING)))
        await pilot.pause()
        for _ in range(3):
            await pilot.press("y")
            await pilot.pause()
        await pilot.pause()
        assert app.clipboard.startswith("curl"), app.clipboard
        await until(lambda: app.screen.query(Toast), what="a toast")
        await pilot.pause(0.3)
        toasts = list(app.screen.query(Toast))
        assert len(toasts) == 1, toasts
        assert len(list(app._notifications)) == 1


async def test_the_palette_copies_one_line_of_the_plan() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        plan = await plan_of("export-config")
        answer = ask(app, "export-config", plan)
        await until(lambda: app.asking is not None, what="the question")
        await pilot.pause()
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        one = next(c for title, c in commands.items() if title.startswith("Copy 1. "))
        one.callback()
        assert app.clipboard.count("\n") == 0 and app.clipboard in plan[0].render()
        answer.cancel()


async def test_at_the_end_w_writes_the_report_beside_the_journal(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    app = make_app(journal=journal, steps=[Talk("preflight", lines=3)])
    notes: list[str] = []
    app.notify = lambda message, **_: notes.append(message)  # type: ignore[method-assign,assignment]
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        app.start_run()
        await until(lambda: app.asking is not None, what="the question")
        assert not any(b.action == "app.write_report" for _, b, enabled, _ in
                       app.screen.active_bindings.values() if enabled and b.show), \
            "no report key before the run has ended"
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.press("y")
        await until(lambda: app.outcome is Outcome.DONE, what="the end of the run")
        await until(lambda: "w writes the report" in screen_text(app), what="the offer")
        await pilot.press("w")
        written = tmp_path / "run-report.md"
        await until(written.exists, what="the report")
        await until(lambda: any(str(written) in n for n in notes), what="where it is")
        assert str(written) in screen_text(app).replace("\n", "") or \
            "The report is in" in screen_text(app)
    text = written.read_text()
    assert text.startswith("#") and "preflight" in text
    assert TOKEN not in text
    assert written.stat().st_mode & 0o077 == 0, "the report is the operator's until shared"


async def full_log_of_the_run_continued(tmp_path: Path, earlier: Path) -> str:
    """The full log (L) as it shows once the run in `earlier` is continued."""
    app = make_app(journal=tmp_path / "now.jsonl", resume=earlier)
    starts: list[Any] = []
    app.start_run = lambda: starts.append(True)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, ResumeDialog), what="the resume dialog")
        await pilot.press("c")
        await until(lambda: starts, what="the run to continue")
        await pilot.press("L")
        await until(lambda: isinstance(app.screen, LogView), what="the full log")
        await pilot.pause()
        return screen_text(app)


async def test_a_continued_runs_full_log_starts_with_the_earlier_lines(
        tmp_path: Path) -> None:
    shown = await full_log_of_the_run_continued(
        tmp_path, unfinished_journal(tmp_path / "earlier.jsonl"))
    assert "$ curl the nodegroups" in shown
    assert "the earlier run" in shown


async def test_the_full_log_marks_where_the_earlier_runs_were_cut_off(
        tmp_path: Path) -> None:
    """A journal resumed before (killed, resumed, killed again): its lines
    read as one run in the full log, with no sign of either cut."""
    earlier = unfinished_journal(tmp_path / "earlier.jsonl")
    journal = Journal(earlier)
    journal.write("run-start", config="rehearsal.toml", host="x", rehearsal=True, steps=[],
                  resumed=True)
    journal.write("action-start", step="export-config", n=1, kind="shell",
                  text="$ curl the nodegroups again")
    journal.close()
    shown = await full_log_of_the_run_continued(tmp_path, earlier)
    assert shown.index("$ curl the nodegroups") < shown.index("* cut off here") \
        < shown.index("* resumed") < shown.index("$ curl the nodegroups again"), shown


KEY_LINE = ("[127.0.0.1]:40541 ssh-ed25519 "
            "AAAAC3NzaC1lZDI1NTE5AAAAIOtMtv8gpWAvVbzy9THZ+oy23B9ptK9ntF+9dAUcYWQn")
REFUSED = (
    "red5admin@127.0.0.1:40541: refusing the host key SHA256:sZkbrFcIWWrI2/aIsYenGScwcJZB"
    "rZ9yLdAJat0eggg: it is not the key /sb/.rehearsal/known_hosts trusts for this host. "
    "Trust it only once you know it is the host's: compare the fingerprint with the host's "
    "own, read there by another way than this connection (its console, say): ssh-keygen -lf "
    "/sb/.rehearsal/ssh_host_ed25519_key.pub. Only if they are the same, ssh-keygen -R "
    "'[127.0.0.1]:40541' -f /sb/.rehearsal/known_hosts, then add this line to "
    f"/sb/.rehearsal/known_hosts:\n{KEY_LINE}\nNothing ran on the host, and nothing there "
    "has changed. Once the connection is settled, try the step again")


async def test_the_output_pane_says_how_to_copy_the_known_hosts_line_whole() -> None:
    """Trial 54, F15: in the Output pane the known_hosts line to add wraps at
    80 columns, so a mouse copy from there breaks it (the pane wraps every
    line: it has no sideways scroll). Right under it, the pane says where it
    is copied whole: y at the step's question."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        tell(app, StepChanged(report("preflight", StepState.RUNNING)))
        failed = dataclasses.replace(report("preflight", StepState.FAILED, REFUSED, 0.1),
                                     known_hosts_line=KEY_LINE)
        tell(app, StepChanged(failed))
        await until(lambda: any(KEY_LINE in line for line in app.store.lines["preflight"]),
                    what="the key line in the pane")
        await pilot.pause()
        lines = list(app.store.lines["preflight"])
    at = next(n for n, line in enumerate(lines) if KEY_LINE in line)
    after = " ".join(lines[at + 1:at + 3])
    assert "y at this step's question copies the line above whole" in after, lines


async def test_at_80_columns_the_known_hosts_line_is_one_row_and_y_copies_it_whole() -> None:
    """Re-trial: at 80 columns the refused host key's known_hosts line wrapped
    in the failure dialog, its key on a row of its own, and copying it off the
    screen took the break along. It is one row there, unwrapped (the row
    scrolls sideways), and y puts exactly that line on the clipboard."""
    import asyncio

    from textual.widgets import Static

    from runbook.executor import Recovery
    from screens.dialogs import RecoverDialog

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        sent = clipboard_writes(app)
        failed = dataclasses.replace(report("preflight", StepState.FAILED, REFUSED, 0.1),
                                     known_hosts_line=KEY_LINE)
        tell(app, StepChanged(failed))
        answer = asyncio.ensure_future(app.front.recover(failed, can_roll_back=False))
        await until(lambda: isinstance(app.screen, RecoverDialog)
                    and bool(app.screen.query("#recover-stop")), what="the failure dialog")
        await pilot.pause()
        rows = screen_text(app).splitlines()
        start = next((n for n, row in enumerate(rows) if "[127.0.0.1]:40541 ssh-ed25519" in row),
                     None)
        assert start is not None, rows
        # Nothing of the key on the next row: the line is not wrapped.
        assert "AAAAC3Nza" in rows[start] and "AAAAC3Nza" not in rows[start + 1], rows
        shown = app.screen.query_one("#known-hosts-line", Static)
        assert str(shown.render()) == KEY_LINE
        assert shown.region.height == 1 and shown.virtual_region.width >= len(KEY_LINE)
        await pilot.press("y")
        await until(lambda: app.clipboard == KEY_LINE, what="the line on the clipboard")
        assert osc52(KEY_LINE) in sent
        await pilot.pause()
        said = " ".join(screen_text(app).split())
        assert "Copied the known_hosts line" in said, said
        await pilot.press("q")
        await until(answer.done, what="the answer")
        assert answer.result() is Recovery.STOP


async def test_a_detail_merely_shaped_like_a_host_key_refusal_offers_no_copy() -> None:
    """Review: the line to copy was parsed out of any failed step's detail,
    so a step quoting host output shaped as "then add this line to ...:" and a
    line was offered y to copy it. Only a refused host key's report carries
    the line; a detail of that shape alone is shown as it is."""
    import asyncio

    from runbook.executor import Recovery
    from screens.dialogs import RecoverDialog

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        sent = clipboard_writes(app)
        failed = report("preflight", StepState.FAILED, REFUSED, 0.1)  # no known_hosts_line
        tell(app, StepChanged(failed))
        answer = asyncio.ensure_future(app.front.recover(failed, can_roll_back=False))
        await until(lambda: isinstance(app.screen, RecoverDialog)
                    and bool(app.screen.query("#recover-stop")), what="the failure dialog")
        await pilot.pause()
        assert not app.screen.query("#known-hosts-line")
        said = " ".join(screen_text(app).split())
        assert "copies this line" not in said, said
        await pilot.press("y")
        await pilot.pause()
        assert app.clipboard != KEY_LINE and osc52(KEY_LINE) not in sent
        await pilot.press("q")
        await until(answer.done, what="the answer")
        assert answer.result() is Recovery.STOP


async def _ended_run(app: RunbookApp, pilot: Any) -> None:
    """The app's run over one step, confirmed and done: the report key is offered."""
    await until(lambda: app.drawn, what="the first paint")
    app.start_run()
    await until(lambda: app.asking is not None, what="the question")
    await pilot.press("enter")
    await until(lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
    await pilot.press("y")
    await until(lambda: app.outcome is Outcome.DONE, what="the end of the run")


async def test_w_says_why_there_is_no_report_when_the_journal_is_damaged(tmp_path: Path) -> None:
    """Review 56b F2: a journal with a damaged line (not the last) made `w`
    do nothing and say nothing: its JournalError was no ReportError, and
    the worker it ended in was watched by nobody."""
    journal = tmp_path / "run.jsonl"
    app = make_app(journal=journal, steps=[Talk("preflight")])
    notes: list[str] = []
    app.notify = lambda message, **_: notes.append(message)  # type: ignore[method-assign,assignment]
    async with app.run_test(size=SIZE) as pilot:
        await _ended_run(app, pilot)
        first, *rest = journal.read_text().splitlines(keepends=True)
        journal.write_text("".join([first, "{half a record\n", *rest]))
        await pilot.press("w")
        await until(lambda: any("No report" in n for n in notes), what="why no report")
    said = next(n for n in notes if "No report" in n)
    assert f"{journal}:2" in said and "damaged" in said and "\n" not in said, said
    assert not (tmp_path / "run-report.md").exists()


async def test_a_background_worker_that_fails_says_so_masked(tmp_path: Path) -> None:
    """Review 56b F2: an error in one of the app's thread workers (the
    estimate, the report) vanished with the worker. One handler says it, in
    one line, masked as every sink is."""
    journal = tmp_path / "run.jsonl"
    app = make_app(journal=journal, steps=[Talk("preflight")])
    notes: list[str] = []
    app.notify = lambda message, **kw: notes.append(f"{kw.get('title', '')}| {message}")  # type: ignore[method-assign,assignment]
    async with app.run_test(size=SIZE) as pilot:
        await _ended_run(app, pilot)

        def broken(journal: Path) -> None:
            # What cannot be made to fail here for real: an error nobody foresaw.
            raise RuntimeError(f"unforeseen, with {TOKEN} in it\nand a second line")

        app.records._write = broken  # type: ignore[method-assign]
        await pilot.press("w")
        await until(lambda: any("report" in n.lower() and "unforeseen" in n for n in notes),
                    what="the worker's error")
    said = next(n for n in notes if "unforeseen" in n)
    assert TOKEN not in said and "RuntimeError" in said and "\n" not in said, said
