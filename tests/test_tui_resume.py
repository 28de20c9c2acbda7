"""The resume dialog's "New run" over an earlier run stopped part way
(operator trial): what it offers, and what the run, its journal and the
notices then do, wired as the CLI wires them (runbook.cli.lifecycle.prepare_run).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, Static

from runbook.cli import door, lifecycle
from runbook.config import ConfigError
from runbook.journal import Journal
from runbook.journal_replay import Replay
from runbook.session import host_state
from runbook.stopping import Stopper
from screens.app import RunbookApp, create_app
from screens.dialogs import ResumeDialog
from screens.widgets import Wrapped
from tests.polling import until
from tests.test_tui_fakes import TOKEN, WORDS_A_SENTENCE, FakeClock, longest_sentence, settings
from tests.test_tui_pilot import SIZE, collect_notes, hold_the_run, text_of

PREPARED = ("preflight", "new-database", "export-config", "upload", "unpack")
# As the trial's journal was named: the host and the time it began.
EARLIER = "127.0.0.1-20250101T172916Z.jsonl"


def stopped_part_way(path: Path, *, cutover: bool, failed: str | None = None) -> Path:
    """A rehearsal's journal as the executor leaves it when the operator stops:
    five prepare steps done; with `cutover`, the nodegroups deleted, the live
    install moved aside, and the stream manager down."""
    path.parent.mkdir(parents=True, exist_ok=True)
    journal = Journal(path)
    journal.write("run-start", config=settings().source, host="red5admin@127.0.0.1:2222",
                  rehearsal=True, steps=[], resumed=False)
    for step in PREPARED:
        journal.write("step-start", step=step)
        journal.write("step-end", step=step, state="done", detail="ok")
    if cutover:
        for step in ("strip-autoscale", "carry-over", "properties", "schema"):
            journal.write("step-end", step=step, state="done", detail="ok")
        journal.write("cutover-start", step="delete-nodegroups")
        for step in ("delete-nodegroups", "backup-live"):
            journal.write("step-start", step=step)
            journal.write("step-end", step=step, state="done", detail="ok")
        if failed is not None:
            journal.write("step-start", step=failed)
            journal.write("step-end", step=failed, state="failed", detail="mv refused")
        journal.write("cutover-end", complete=False, downtime_s=24.0)
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    return path


def opened(tmp_path: Path, *words: str, host_says_down: Path | None = None
           ) -> tuple[RunbookApp, list[str]]:
    """The app as `runbook rehearse --sandbox DIR WORDS` opens it (the host
    already started): its session factory, the earlier run offered, and the
    notes said on the way; `host_says_down`: the journal whose cutover the
    host's own record says is under way."""
    state_dir = tmp_path / "operator"
    if host_says_down is not None:
        host_state(settings(), state_dir).begin_cutover(host_says_down)
    args = door.command_line().parse_args(["rehearse", "--sandbox", str(tmp_path), *words])
    said: list[str] = []
    opening, _, _ = lifecycle.prepare_run(args, settings(), token=TOKEN, folder=tmp_path / "runs",
                                          state_dir=state_dir, offer_resume=True, stopper=Stopper(),
                                          isolated=True, say=said.append)
    app = create_app(opening.open_session, previous=opening.previous, rehearsal=True,
                     clock=FakeClock(), start_run=False, new_journal=opening.new_journal,
                     named=opening.named)
    app.notes = tuple(said)
    return app, said


async def the_dialog(app: RunbookApp) -> ResumeDialog:
    await until(lambda: isinstance(app.screen, ResumeDialog), what="the resume dialog")
    await until(lambda: app.screen.query("#resume-continue"), what="its buttons")
    assert isinstance(app.screen, ResumeDialog)
    return app.screen


async def test_a_resume_asked_to_roll_back_says_so_in_its_dialog(tmp_path: Path) -> None:
    """Operator trial (stop 26): `rehearse --resume --rollback-after
    service-unit`, mid-cutover, opened a dialog that said "Continue it to
    finish the cutover": the way back the operator had asked for was not in it."""
    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    app, _ = opened(tmp_path, "--resume", "--rollback-after", "backup-live",
                    host_says_down=earlier)
    hold_the_run(app)
    async with app.run_test(size=SIZE):
        shown = text_of(await the_dialog(app))
    assert "finish the cutover" not in shown, shown
    assert "way back" in shown and "Rename red5pro to bak.red5pro" in shown, shown


async def test_mid_cutover_resume_offers_no_new_run_and_says_why(tmp_path: Path) -> None:
    """Operator trial: `rehearse --resume` over a run stopped in the cutover;
    "New run (n)" appended a fresh start to the same journal (the report:
    "resumed 2 time(s)"), the notice still said "resuming the run in ...",
    and the five steps the dialog showed done went back to "your turn". A
    cutover under way is that run's (its snapshot, what is in doubt), and a
    new run is refused by the CLI for it: the dialog does not offer one, and
    says why."""
    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    app, _ = opened(tmp_path, "--resume", host_says_down=earlier)
    notes = collect_notes(app)
    starts = hold_the_run(app)
    before = earlier.read_bytes()
    async with app.run_test(size=SIZE) as pilot:
        dialog = await the_dialog(app)
        shown = text_of(dialog)
        assert not dialog.query("#resume-start-over"), "a New run button mid-cutover"
        assert "New run is not offered" in shown and "cutover" in shown, shown
        # As the run goes on (the executor's rule, headless alike): what was
        # skipped before the cutover began is not offered again.
        flat = " ".join(shown.split())
        assert "skipped before the cutover began stays skipped" in flat, flat
        assert "skipped step is offered again" not in flat, flat
        assert "New run" not in " ".join(str(b.label) for b in dialog.query(Button))
        hint = app.main.query_one("#hint", Static).content
        assert "new run" not in str(hint), hint
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is dialog and not starts
        await pilot.press("c")
        await until(lambda: starts, what="the run to go on")
        assert app.journal_path == earlier and app.session.resume is not None
        assert app.run_state.finished == len(PREPARED) + 6
        # Operator trial: the journal claimed for a new run stayed beside it,
        # empty, all through the run ("holds no records" to report and log).
        assert list(earlier.parent.glob("*.jsonl")) == [earlier]
    assert earlier.read_bytes() == before
    assert not any("new run" in note.lower() for note in notes), notes


async def test_an_earlier_log_that_cannot_be_read_does_not_keep_the_run_from_going_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Continue starts the run once the earlier run's log lines are read, in a
    worker; only a ReportError or an OSError there was said. Any other error
    (a JournalError, a slip in reading) ended the worker without a word, and
    the run never went on (code review, stop 48). The log is for looking
    back: the run goes on, and the notice says what is left out."""
    from runbook.journal import JournalError
    from screens import records

    def unreadable(path: Path, **_: Any) -> list[tuple[str, str]]:
        raise JournalError(f"{path}: is not a regular file")

    monkeypatch.setattr(records, "log_lines", unreadable)
    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=False)
    app, _ = opened(tmp_path, "--resume")
    notes = collect_notes(app)
    starts = hold_the_run(app)
    async with app.run_test(size=SIZE) as pilot:
        await the_dialog(app)
        await pilot.press("c")
        await until(lambda: starts, what="the run to go on")
        await until(lambda: any("leaves out the earlier run" in note for note in notes),
                    what="the notice")
    assert app.journal_path == earlier


async def test_a_resume_mid_cutover_leads_with_the_downtime_and_the_failed_step(
        tmp_path: Path) -> None:
    """Operator trial, stop 47: after a failed cutover step the dialog opened
    on sixteen rows of done steps; the failed one, and that the stream
    manager was down, showed only after scrolling to its end."""
    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True, failed="promote-new")
    app, _ = opened(tmp_path, "--resume", host_says_down=earlier)
    hold_the_run(app)
    async with app.run_test(size=SIZE):
        dialog = await the_dialog(app)
        order = [widget.id for widget in dialog.query("*") if widget.id]
        assert "resume-down" in order, text_of(dialog)
        assert order.index("resume-down") < order.index("resume-steps"), order
        lead = dialog.query_one("#resume-down", Wrapped).content.plain
    assert "down since" in lead, lead
    assert "Rename the new tree to red5pro" in lead and "failed" in lead, lead


async def test_a_resume_on_the_way_back_says_so_in_its_lead(tmp_path: Path) -> None:
    """TUI trial: the dialog's lead said the stream manager was down and the
    cutover had not ended; that continuing goes on with the way back already
    begun was said only at the end, after scrolling."""
    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True, failed="promote-new")
    lines = earlier.read_text().splitlines()
    # The operator chose the way back at promote-new's question, then quit.
    lines.insert(-2, '{"event": "way-back", "ts": "2026-01-01T00:00:09+00:00", '
                     '"step": "promote-new"}')
    earlier.write_text("\n".join(lines) + "\n")
    app, _ = opened(tmp_path, "--resume", host_says_down=earlier)
    hold_the_run(app)
    async with app.run_test(size=SIZE):
        dialog = await the_dialog(app)
        lead = dialog.query_one("#resume-down", Wrapped).content.plain
    assert "down since" in lead and "way back" in lead, lead


async def test_without_resume_the_app_offers_the_cutover_under_way_and_only_it(
        tmp_path: Path) -> None:
    """Operator trial: started again after a kill -9 mid-cutover, without
    --resume, the app refused to open (exit 2), where the README says it shows
    that run first and offers only continuing it."""
    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    app, _ = opened(tmp_path, host_says_down=earlier)
    assert app.offered is not None and app.offered.path == earlier
    async with app.run_test(size=SIZE) as pilot:
        dialog = await the_dialog(app)
        assert not dialog.query("#resume-start-over")
        assert "New run is not offered" in text_of(dialog)
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is dialog


def test_headless_without_resume_refuses_the_cutover_under_way_with_the_command_that_goes_on(
        tmp_path: Path) -> None:
    """Operator trial: the refusal said "continue it with --resume --journal J",
    which `rehearse` then refused (it needs the --sandbox), and named the
    moment as an ISO timestamp in UTC where every other line says the local
    time."""
    import re

    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    with pytest.raises(ConfigError) as refused:
        opened(tmp_path, "--headless", host_says_down=earlier)
    said = str(refused.value)
    assert f"runbook rehearse --sandbox {tmp_path} --resume --journal {earlier} --headless" \
        in said, said
    assert re.search(r"began here at \d\d:\d\d:\d\d ", said) and "+00:00" not in said, said
    # Operator trial: after a kill -9 it named going on alone; the way back
    # goes after the last cutover step the run finished.
    assert f"--resume --journal {earlier} --headless --rollback-after backup-live" in said, said


def test_a_run_refused_over_the_cutover_under_way_names_the_way_back_too(
        tmp_path: Path) -> None:
    """As `runbook run` says it: with the stream manager down after a kill -9,
    going back may be the operator's choice, and the refusal was the only
    line that knew the cutover's journal."""
    from dataclasses import replace

    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    production = replace(settings(), rehearsal=False)
    state_dir = tmp_path / "operator"
    host_state(production, state_dir).begin_cutover(earlier)
    args = door.command_line().parse_args(["run", production.source, "--headless"])
    with pytest.raises(ConfigError) as refused:
        lifecycle.prepare_run(args, production, token=TOKEN, folder=tmp_path / "runs",
                              state_dir=state_dir, offer_resume=True, stopper=Stopper(), say=print)
    said = str(refused.value)
    assert "--resume --journal" in said and "\n" not in said, said
    # Operator trial: pasted as said, without --headless, the way back drew
    # the full screen into a script's output and hung there.
    assert "go back to the old stream manager: runbook rollback " \
           f"{os.path.abspath(production.source)} --journal {earlier} --headless" in said, said


def test_a_headless_run_s_exit_lines_name_headless_commands(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The exit lines of a headless run stopped mid-cutover: both commands go
    on as the run was started, headless (operator trial)."""
    from dataclasses import replace
    from types import SimpleNamespace

    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    stopper = Stopper()
    stopper.sessions.append(SimpleNamespace(journal_path=earlier))  # type: ignore[arg-type]
    lifecycle.where_it_stands(stopper, replace(settings(), rehearsal=False), headless=True)
    said = capsys.readouterr().out
    going_on = [line for line in said.splitlines() if "runbook run " in line
                or "runbook rollback " in line]
    assert len(going_on) == 2 and all(line.endswith(" --headless") for line in going_on), said


def test_exit_lines_name_no_command_for_a_journal_another_runbook_holds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Way-back trial (stop 45): `runbook rollback` refused a journal the TUI
    was writing ("another runbook is writing this journal"), then named that
    same command as the way to go on back."""
    from dataclasses import replace
    from types import SimpleNamespace

    from runbook.journal import Journal

    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    stopper = Stopper()
    stopper.sessions.append(SimpleNamespace(journal_path=earlier))  # type: ignore[arg-type]
    holder = Journal(earlier)  # the other runbook, still at it
    try:
        lifecycle.where_it_stands(stopper, replace(settings(), rehearsal=False), headless=True)
    finally:
        holder.close()
    said = capsys.readouterr().out
    assert "runbook run " not in said and "runbook rollback " not in said, said
    assert "another runbook" in said, said


async def test_mid_cutover_by_the_journal_alone_offers_no_new_run(tmp_path: Path) -> None:
    """With the host's record of the cutover gone, the earlier run's journal
    still says the stream manager went down and never came back, and the
    dialog offers no new run either."""
    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    host_state(settings(), tmp_path / "operator").begin_cutover(earlier)
    record = host_state(settings(), tmp_path / "operator")
    (record.path / "cutover.json").unlink()  # lost: the state folder wiped, say
    assert record.cutover() is None
    app, _ = opened(tmp_path)
    assert app.offered is not None and app.offered.path == earlier
    async with app.run_test(size=SIZE) as pilot:
        dialog = await the_dialog(app)
        assert not dialog.query("#resume-start-over")
        assert "New run is not offered" in text_of(dialog)
        # Review: "runbook refuses one until the cutover ends" is the host's
        # record's to say, and here only the journal says it.
        assert "refuses" not in text_of(dialog)
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is dialog


@pytest.mark.parametrize("cut", ["after-a-step", "before-its-first-check"])
async def test_a_run_stopped_on_its_way_back_is_said_to_go_on_back(
        tmp_path: Path, cut: str) -> None:
    """Review: the dialog said "continue it to finish the cutover" of a run
    that had taken the way back; continued, it goes on back. Also (review)
    when it was killed after `r`, before the way back's first step was
    recorded: the executor goes on back from there too."""
    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    journal = Journal(earlier)
    journal.write("way-back")
    if cut == "after-a-step":
        journal.write("step-start", step="rollback-stop-new")
        journal.write("step-end", step="rollback-stop-new", state="done", detail="ok")
        journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    host_state(settings(), tmp_path / "operator").path.mkdir(parents=True, exist_ok=True)
    app, _ = opened(tmp_path, "--resume")
    async with app.run_test(size=SIZE):
        dialog = await the_dialog(app)
        shown = " ".join(text_of(dialog).split())
        assert "way back" in shown and "finish the cutover" not in shown, shown
        # Operator trial: it said preflight and new-database look again; going
        # on back runs the way back's steps alone.
        said = " ".join(str(dialog.query_one("#resume-text").content).split())
        assert "preflight" not in said and "new-database" not in said, said


async def test_n_at_the_resume_dialog_is_no_answer_and_starts_no_new_run(tmp_path: Path) -> None:
    """Review 56b F7: `n` chose "New run" here, where every other dialog (and
    headless) takes n for "no": a reflex n to "An earlier run did not finish"
    left that run and began another from preflight. A new run is `s` now;
    n starts nothing and says which keys answer."""
    stopped_part_way(tmp_path / "runs" / EARLIER, cutover=False)
    app, _ = opened(tmp_path, "--resume")
    starts = hold_the_run(app)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await the_dialog(app)
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is dialog and not starts and app.session.resume is not None
        said = str(dialog.query_one("#dialog-notice", Static).content)
        assert "s starts a new run" in said and "c continues" in said, said
        buttons = " ".join(str(b.label) for b in dialog.query(Button))
        assert "(s)" in buttons and "(n)" not in buttons, buttons
        shown = text_of(dialog)
        assert "s  New run" in shown and "n  New run" not in shown, shown


async def test_a_new_run_asked_for_after_resume_gets_its_own_journal(tmp_path: Path) -> None:
    """Before the cutover a new run is the operator's to choose, also after
    --resume: it goes into a fresh journal beside the earlier one (which is
    left as it was), every step is checked afresh, and the notices say so
    instead of "resuming the run in ..."."""
    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=False)
    app, said = opened(tmp_path, "--resume")
    assert any("resuming the run in" in note for note in said)
    notes = collect_notes(app)
    starts = hold_the_run(app)
    before = earlier.read_bytes()
    async with app.run_test(size=SIZE) as pilot:
        dialog = await the_dialog(app)
        assert app.run_state.finished == len(PREPARED)
        assert dialog.query("#resume-start-over")
        await pilot.press("s")
        await until(lambda: starts, what="the new run to start")
        assert app.session.resume is None
        assert app.journal_path != earlier and app.journal_path.parent == earlier.parent
        assert app.main.where.journal == app.journal_path
        assert app.run_state.finished == 0
    assert earlier.read_bytes() == before
    assert not any("resuming the run in" in note for note in notes), notes
    assert any(str(app.journal_path) in note and str(earlier) in note for note in notes), notes


def test_leaving_at_the_resume_dialog_still_says_where_the_earlier_run_stands(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A new run's journal is its own now, and is not written before the
    operator answers the dialog: leaving there, the exit lines speak of the
    run --resume named, as they did when that was the session's journal."""
    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    app, _ = opened(tmp_path, "--resume", host_says_down=earlier)
    stopper = Stopper()
    stopper.watch(app.session)
    # Nothing is claimed for a new run before the dialog is answered: the
    # session shown is the run offered.
    assert app.session.journal_path == earlier
    assert list(earlier.parent.glob("*.jsonl")) == [earlier]
    lifecycle.where_it_stands(stopper, None, resume="runbook rehearse --resume --sandbox S",
                              earlier=app.offered)
    said = capsys.readouterr().out
    assert "the stream manager is down" in said, said
    assert "runbook rehearse --resume --sandbox S" in said, said


async def test_the_earlier_runs_steps_keep_their_columns(tmp_path: Path) -> None:
    """Seen beside the trial: the way back's longest title ran into its
    state ("...on the old databasepending")."""
    stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    app, _ = opened(tmp_path, "--resume")
    hold_the_run(app)
    async with app.run_test(size=SIZE):
        dialog = await the_dialog(app)
        rows = dialog.query_one("#resume-steps", Static).content
        words = [line.rstrip().rsplit(" ", 1) for line in str(rows).splitlines()
                 if "in flight" not in line]
        assert len({len(head) for head, _ in words}) == 1, words


async def test_the_first_paint_shows_the_earlier_runs_states(tmp_path: Path) -> None:
    """The checklist's first frame is the run's: a resumed run's done steps do
    not show as pending until the frame after (they did, all of them)."""
    stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    app, _ = opened(tmp_path, "--resume")
    hold_the_run(app)
    seen: list[list[str]] = []
    show_run = app.show_run

    def rows() -> list[str]:
        checklist = app.main.checklist
        return [str(checklist.get_option_at_index(index).prompt)
                for index in range(checklist.option_count)]

    def painted_then_drawn() -> None:
        seen.append(rows())  # the first frame's rows, as Ready found them
        show_run()
        seen.append(rows())

    app.show_run = painted_then_drawn  # type: ignore[method-assign]
    async with app.run_test(size=SIZE):
        await the_dialog(app)
        first, drawn = seen
        assert any("done" in row for row in drawn), drawn
        assert first == drawn


@pytest.mark.parametrize(("cutover", "looks"), [
    (True, "preflight, new-database and start-service"),
    # Until the cutover begins, the merge of the live file may be out of date.
    (False, "preflight, new-database, export-config, carry-over, properties and start-service"),
])
async def test_the_resume_dialog_says_which_steps_look_again(
        tmp_path: Path, cutover: bool, looks: str) -> None:
    """Operator trial: the dialog said done steps stay done, and continuing
    then asked for preflight again, the count of steps done going down."""
    stopped_part_way(tmp_path / "runs" / EARLIER, cutover=cutover)
    app, _ = opened(tmp_path, "--resume")
    hold_the_run(app)
    async with app.run_test(size=SIZE):
        dialog = await the_dialog(app)
        said = str(dialog.query_one("#resume-text").content)
        assert f"except {looks}, which look at the host again" in " ".join(said.split()), said


@pytest.mark.parametrize("words", [(), ("--headless",)])
def test_a_new_run_is_refused_while_another_runbook_works_on_the_same_host(
        tmp_path: Path, words: tuple[str, ...]) -> None:
    """Safety review: a second runbook on the same host (a terminal left open,
    a colleague) was only told, in a note, of the unfinished run it saw, and
    went on beside it: two runs acting on one host."""
    live = tmp_path / "runs" / EARLIER
    live.parent.mkdir(parents=True)
    journal = Journal(live)  # the other runbook, still running: its journal held
    try:
        journal.write("run-start", config=settings().source, host="red5admin@127.0.0.1:2222",
                      rehearsal=True, steps=[], resumed=False)
        with pytest.raises(ConfigError) as refused:
            opened(tmp_path, *words)
    finally:
        journal.close()
    said = str(refused.value)
    assert "another runbook" in said and str(live) in said and "\n" not in said, said
    assert [p.name for p in live.parent.iterdir()] == [EARLIER], "no journal claimed"


@pytest.mark.parametrize(("then", "now", "warned"), [
    (1.0, 1.0, False), (0.025, 0.025, False), (0.025, 1.0, True), (None, 1.0, False)],
    ids=["same-real", "same-fast", "fast-then-real", "then-unknown"])
def test_a_rehearsal_resumed_at_another_pace_says_its_times_will_compare_with_none(
        tmp_path: Path, then: float | None, now: float, warned: bool) -> None:
    """Operator trial: a rehearsal begun fast and resumed at the real pace (an
    exported RUNBOOK_REHEARSAL_PACE, say) said nothing until its report, which
    then had no pace and no estimate to give."""
    import dataclasses

    from runbook.report_format import pace_name

    path = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=False)
    if then is not None:
        records = path.read_text().splitlines()
        first = json.loads(records[0])
        first["pace"] = then
        path.write_text("\n".join([json.dumps(first), *records[1:]]) + "\n")
    args = door.command_line().parse_args(["rehearse", "--sandbox", str(tmp_path), "--resume"])
    said: list[str] = []
    lifecycle.prepare_run(args, dataclasses.replace(settings(), rehearsal_pace=now), token=TOKEN,
                          folder=tmp_path / "runs", state_dir=tmp_path / "operator",
                          offer_resume=True, stopper=Stopper(), isolated=True, say=said.append)
    pace_notes = [note for note in said if "pace" in note]
    if not warned:
        assert not pace_notes, said
        return
    assert len(pace_notes) == 1, said
    assert pace_name(then) in pace_notes[0] and pace_name(now) in pace_notes[0], said
    assert "no other run" in pace_notes[0], said


@pytest.mark.parametrize("cutover", [False, True], ids=["before-the-cutover", "mid-cutover"])
def test_a_config_set_the_template_refuses_holds_only_until_the_cutover(
        tmp_path: Path, cutover: bool) -> None:
    """Second review: the config's [properties] set, checked against the
    distribution's template before anything connects, also refused a run
    going on from a cutover, whose properties step no longer merges."""
    import dataclasses
    import zipfile

    from runbook.config import ConfigError

    zip_path = tmp_path / "red5pro-server-11.1.0.b835-release.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("red5pro-server-11.1.0.b835/webapps/streammanager/WEB-INF/"
                         "red5-web.properties", "proxy.enabled=false\n")
    stopped_part_way(tmp_path / "runs" / EARLIER, cutover=cutover)
    changed = dataclasses.replace(settings(), distribution=zip_path,
                                  property_overrides={"proxy.enabled": "yes"})
    args = door.command_line().parse_args(["rehearse", "--sandbox", str(tmp_path), "--resume"])

    def prepare() -> None:
        lifecycle.prepare_run(args, changed, token=TOKEN, folder=tmp_path / "runs",
                              state_dir=tmp_path / "operator", offer_resume=True,
                              stopper=Stopper(), isolated=True, say=lambda _: None)

    if cutover:
        prepare()
    else:
        with pytest.raises(ConfigError, match=r"proxy\.enabled"):
            prepare()


async def test_what_a_run_said_before_its_screen_opened_is_shown_on_it(tmp_path: Path) -> None:
    """`runbook run` printed its opening notes (the host's lock cannot be had,
    which run it resumes) just before the TUI took the screen: seen only after
    the run (second review, stop 47). The app says them as notices, and the
    CLI prints them again once it has closed."""
    from runbook.cli import wiring

    def open_session(continuing: Replay | None) -> Any:
        return wiring.session(settings(), token=TOKEN, state_dir=tmp_path,
                              journal_path=tmp_path / "run.jsonl", resume=continuing)

    said = "runbook: state/hosts/sm-22/run.lock: cannot be locked (No locks available)"
    app = create_app(open_session, clock=FakeClock(), start_run=False, notes=(said,))
    notes = collect_notes(app)
    async with app.run_test(size=SIZE):
        await until(lambda: said in notes, what="the note")
    assert app.notes == (said,)


async def test_a_run_superseded_by_a_later_finished_run_is_not_offered(tmp_path: Path) -> None:
    """Trial 54, F24: the resume dialog offered, focused on "Continue it", a
    run that had stopped before its cutover, though later runs on the same
    host had finished since (the last one upgraded it); continuing it, its
    preflight misdescribed the host. Superseded, it is not offered: a new
    run starts, and nothing says an unfinished run is there to continue."""
    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=False)
    stamp = earlier.stat().st_mtime - 3600
    os.utime(earlier, (stamp, stamp))
    later = Journal(tmp_path / "runs" / "127.0.0.1-20250101T190000Z.jsonl")
    later.write("run-start", config=settings().source, host="red5admin@127.0.0.1:2222",
                rehearsal=True, steps=[], resumed=False)
    later.write("cutover-start", step="delete-nodegroups")
    later.write("cutover-end", complete=True, downtime_s=30.0)
    later.write("run-end", outcome="done", exit_code=0)
    later.close()
    app, said = opened(tmp_path)
    assert app.offered is None
    assert not any("unfinished run" in note for note in said), said
    assert app.session.journal_path not in (earlier, later.path)
    hold_the_run(app)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.drawn, what="the first paint")
        await pilot.pause()
        assert not isinstance(app.screen, ResumeDialog)


async def test_a_done_step_offered_again_on_resume_still_counts_done(tmp_path: Path) -> None:
    """Trial 54, F7: the status bar said "steps 16/17 done or skipped" at the
    resume dialog, then 15/17 after "Continue it": preflight, done, is asked
    again (it only looks, and later steps rely on it), and while it waited
    its turn or ran again it counted as not done. Done before, it counts
    done until this run says otherwise (a failure here does not)."""
    from runbook.events import StepChanged
    from runbook.model import StepState
    from tests.test_tui_fakes import ask, report, tell

    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    app, _ = opened(tmp_path, "--resume", host_says_down=earlier)
    starts = hold_the_run(app)
    async with app.run_test(size=SIZE) as pilot:
        await the_dialog(app)
        before = app.run_state.finished
        await pilot.press("c")
        await until(lambda: starts, what="the run to go on")
        assert app.run_state.finished == before
        asked = ask(app, "preflight", [])
        await until(lambda: app.run_state.asking == "preflight", what="preflight asked again")
        assert app.run_state.finished == before
        tell(app, StepChanged(report("preflight", StepState.RUNNING)))
        await pilot.pause()
        assert app.run_state.finished == before
        tell(app, StepChanged(report("preflight", StepState.FAILED, "sudo refused", 0.1)))
        await pilot.pause()
        assert app.run_state.finished == before - 1
        asked.cancel()


def began_no_step(path: Path) -> Path:
    """A rehearsal's journal of a run stopped at its first question (a piped
    `q`, or a new run chosen and left at once): nothing done, nothing begun."""
    journal = Journal(path)
    journal.write("run-start", config=settings().source, host="red5admin@127.0.0.1:2222",
                  rehearsal=True, steps=[], resumed=False)
    journal.write("confirm", step="preflight", answer="stop", reason="")
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    return path


async def test_the_dialog_offers_the_run_that_got_somewhere_not_a_newer_empty_one(
        tmp_path: Path) -> None:
    """Trial 55, F1: after a headless try stopped at its first question, the
    dialog offered that run, every step pending, and nothing on screen spoke
    of the run five steps in."""
    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=False)
    os.utime(earlier, (1, 1))
    began_no_step(tmp_path / "runs" / "127.0.0.1-20250102T080000Z.jsonl")
    app, said = opened(tmp_path)
    assert app.offered is not None and app.offered.path == earlier
    assert any(str(earlier) in note for note in said), said
    hold_the_run(app)
    async with app.run_test(size=SIZE):
        dialog = await the_dialog(app)
        assert str(earlier) in text_of(dialog)
        assert app.run_state.finished == len(PREPARED)


def test_headless_refuses_a_new_rehearsal_over_an_unfinished_one(tmp_path: Path) -> None:
    """As `run` says it (trial 55, F1), in the rehearsal's own commands: a
    lasting sandbox's stopped run goes on with --resume there, or a new run
    begins on purpose with --new-run; nothing is claimed meanwhile."""
    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=False)
    with pytest.raises(ConfigError) as refused:
        opened(tmp_path, "--headless")
    said = str(refused.value)
    assert "\n" not in said, said
    assert f"runbook rehearse --sandbox {tmp_path} --resume --journal {earlier} --headless" \
        in said, said
    assert f"runbook rehearse --sandbox {tmp_path} --new-run --headless" in said, said
    assert [p.name for p in earlier.parent.iterdir()] == [EARLIER], "no journal claimed"


async def test_new_run_opens_a_new_run_without_the_dialog(tmp_path: Path) -> None:
    """--new-run is the dialog's "New run", chosen beforehand: the TUI starts
    it in a journal of its own, the earlier one left as it was."""
    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=False)
    before = earlier.read_bytes()
    app, said = opened(tmp_path, "--new-run")
    assert app.offered is None
    assert any("left as it is" in note and str(earlier) in note for note in said), said
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.main.ready, what="the main screen")
        await pilot.pause()
        assert not isinstance(app.screen, ResumeDialog)
        assert app.journal_path != earlier and app.session.resume is None
    assert earlier.read_bytes() == before


@pytest.mark.parametrize("words", [("--new-run",), ("--new-run", "--headless")])
def test_new_run_is_refused_while_a_runs_cutover_is_under_way_by_its_journal(
        tmp_path: Path, words: tuple[str, ...]) -> None:
    """The dialog offers no new run mid-cutover, whatever the host's record
    says (it may be gone): nor does --new-run start one. The refusal names
    going on and going back."""
    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    with pytest.raises(ConfigError) as refused:
        opened(tmp_path, *words)
    said = str(refused.value)
    assert "a cutover began here" in said and "--rollback-after backup-live" in said, said
    assert "--new-run" not in said, said
    assert [p.name for p in earlier.parent.iterdir()] == [EARLIER], "no journal claimed"


@pytest.mark.parametrize("cutover", [False, True], ids=["before-the-cutover", "mid-cutover"])
async def test_resume_with_its_journal_named_goes_on_without_asking(
        tmp_path: Path, cutover: bool) -> None:
    """Trial 55, F6: `--resume --journal J`, the very line runbook printed,
    still opened "Continue it (c) / New run (n) / Quit": the operator had
    said which run, and "New run" was one key away from leaving it. With
    both given it goes on with that run, in its journal, at once; what it
    did shows on the main screen, and the notes say which run goes on."""
    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=cutover)
    app, said = opened(tmp_path, "--resume", "--journal", str(earlier),
                       host_says_down=earlier if cutover else None)
    notes = collect_notes(app)
    starts = hold_the_run(app)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: starts, what="the run to go on")
        await pilot.pause()
        assert not isinstance(app.screen, ResumeDialog)
        assert app.journal_path == earlier and app.session.resume is not None
        assert app.run_state.finished == len(PREPARED) + (6 if cutover else 0)
        # Mid-cutover, in the output pane, not over the step (trial 56, F8).
        shown = list(app.store.of("preflight")) if cutover else notes
    assert list(earlier.parent.glob("*.jsonl")) == [earlier]
    assert any(f"resuming the run in {earlier}" in note for note in shown), (shown, said)


def test_the_cli_hands_the_tui_a_named_resume(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """lifecycle.go passes on that the run was named, and only then: --resume
    alone still offers the dialog (the newest unfinished run, not seen yet)."""
    import asyncio

    import screens.tui

    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=False)
    handed: list[bool] = []

    async def run_tui(*_: Any, named: bool = False, **__: Any) -> Any:
        handed.append(named)
        from runbook.model import Outcome
        return Outcome.STOPPED

    monkeypatch.setattr(screens.tui, "run_tui", run_tui)
    for words in (("--resume", "--journal", str(earlier)), ("--resume",)):
        args = door.command_line().parse_args(["rehearse", "--sandbox", str(tmp_path), *words])
        prepared = lifecycle.prepare_run(args, settings(), token=TOKEN, folder=tmp_path / "runs",
                                         state_dir=tmp_path / "operator", offer_resume=True,
                                         stopper=Stopper(), isolated=True, say=lambda _: None)
        asyncio.run(lifecycle.go(args, *prepared))
    assert handed == [True, False]


@pytest.mark.parametrize("cutover", [False, True], ids=["before the cutover", "mid-cutover"])
async def test_continue_it_is_said_in_short_sentences(tmp_path: Path, cutover: bool) -> None:
    """Review 56b F12: "Continue it" was one sentence of 50 words and more,
    its clauses joined by semicolons."""
    stopped_part_way(tmp_path / "runs" / EARLIER, cutover=cutover)
    app, _ = opened(tmp_path, "--resume")
    hold_the_run(app)
    async with app.run_test(size=SIZE):
        dialog = await the_dialog(app)
        said = str(dialog.query_one("#resume-text", Wrapped).content)
        longest = longest_sentence(said)
        assert len(longest.split()) <= WORDS_A_SENTENCE, longest
        for meant in ("same journal goes on", "Done steps stay done", "in doubt",
                      "outcome is not there"):
            assert meant in said, said


@pytest.mark.parametrize("size", [(80, 24), (100, 30)], ids=str)
async def test_a_resume_mid_cutover_says_where_the_cutover_stands_and_hides_nothing(
        tmp_path: Path, size: tuple[int, int]) -> None:
    """Trial 56, F8: kill -9 mid-cutover, `rehearse --resume`, c: with the
    downtime clock running, the first screen was "Step 1 of 17 · Preflight
    checks ▶ your turn" and its enter hint, nothing said that the cutover
    goes on at a later step nor why preflight came first, and the opening's
    notices (the host, the service adopted, the pace) lay over the step box
    (80x24) or the checklist (100x30) until the first step ran. The first
    screen says which cutover step is next and that the steps that look at
    the host are asked first; the notices go to the output pane, not over
    the step."""
    from tests.test_tui_fakes import ask, screen_text

    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    app, _ = opened(tmp_path, "--resume", host_says_down=earlier)
    # As `runbook rehearse --sandbox` says them as its host starts.
    app.notes = (*app.notes, "rehearsal host: red5admin@127.0.0.1:2222, sandbox /tmp/sb1",
                 "adopted the service left running by an earlier rehearsal (pid 19738)",
                 "rehearsal pace fast: the fake cloud's nodes come and go 20x faster; "
                 "RUNBOOK_REHEARSAL_PACE sets it")
    starts = hold_the_run(app)
    async with app.run_test(size=size) as pilot:
        await the_dialog(app)
        await pilot.press("c")
        await until(lambda: starts, what="the run to go on")
        asked = ask(app, "preflight", [])
        await until(lambda: app.run_state.asking == "preflight", what="preflight asked again")
        await pilot.pause()
        shown = screen_text(app)
        flat = " ".join(shown.split())
        # The step's box, whole: no notice over it.
        assert "Step 1 of 17 · Preflight checks" in shown, shown
        assert not app._notifications, [n.message for n in app._notifications]
        # Where the cutover stands, and why preflight comes first.
        assert "step 13" in flat and "after preflight, new-database and cloud-controller" \
            in flat, shown
        # What the opening said: in the output pane, beside the step.
        assert "adopted the service left running" in " ".join(app.store.of("preflight")), \
            list(app.store.of("preflight"))
        asked.cancel()


async def test_s_and_q_mid_cutover_are_answered(tmp_path: Path) -> None:
    """Trial 56b F1: mid-cutover the dialog took `s` (a new run, not offered
    then) and `q` (the main screen's quit key) in silence, where `n` said
    which keys answer. `s` says why it is no answer; `q` quits, as escape
    and ctrl+c do there: nothing has started yet."""
    from runbook.model import Outcome

    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    app, _ = opened(tmp_path, "--resume", host_says_down=earlier)
    starts = hold_the_run(app)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await the_dialog(app)
        await pilot.press("s")
        await pilot.pause()
        assert app.screen is dialog and not starts
        said = str(dialog.query_one("#dialog-notice", Static).content)
        assert "new run is not offered" in said.lower() and "c continues" in said, said
        assert "s starts" not in said, said
        await pilot.press("q")
        await until(lambda: getattr(app, "return_value", None) is not None,
                    what="the app to quit")
    assert app.return_value is Outcome.STOPPED and not starts


async def test_q_before_the_cutover_quits_the_resume_dialog(tmp_path: Path) -> None:
    """Trial 56b F1: `q` at the dialog did nothing; it quits as escape does."""
    from runbook.model import Outcome

    stopped_part_way(tmp_path / "runs" / EARLIER, cutover=False)
    app, _ = opened(tmp_path, "--resume")
    starts = hold_the_run(app)
    async with app.run_test(size=SIZE) as pilot:
        await the_dialog(app)
        await pilot.press("q")
        await until(lambda: getattr(app, "return_value", None) is not None,
                    what="the app to quit")
    assert app.return_value is Outcome.STOPPED and not starts


async def test_a_resume_mid_cutover_names_the_step_it_goes_on_at_in_its_lead(
        tmp_path: Path) -> None:
    """Trial 56b F2: killed at start-service's turn, nothing failed, the
    dialog's first screen at 80x24 said the stream manager was down but not
    where the cutover goes on: that step's pending row was two pages down."""
    from tests.test_tui_fakes import screen_text

    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    app, _ = opened(tmp_path, "--resume", host_says_down=earlier)
    hold_the_run(app)
    at = next(card for card in app.cards if card.phase.value == "cutover"
              and card.id not in ("delete-nodegroups", "backup-live"))
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await the_dialog(app)
        lead = " ".join(dialog.query_one("#resume-down", Wrapped).content.plain.split())
        await pilot.pause()
        # The box's borders, and the scroll bar, out of the wrapped lines.
        shown = " ".join(screen_text(app).translate(str.maketrans("│▌▐▊▎┃", "      ")).split())
    meant = f"goes on at step {at.number}, {at.title}"
    assert meant in lead, lead
    assert meant in shown, shown


def test_exit_lines_of_a_run_whose_journal_was_replaced_come_from_the_kept_copy(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Trial 60, F11: a journal replaced mid-cutover (another file now at its
    path, the run's records kept beside it as NAME-kept.jsonl): the exit lines
    said nothing of the stream manager, down since the cutover began, nor the
    commands that go on or back, which every other stop of a cutover says."""
    from dataclasses import replace
    from types import SimpleNamespace

    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    kept = earlier.with_name(f"{earlier.stem}-kept.jsonl")
    earlier.rename(kept)
    earlier.write_text('{"not": "mine"}\n')
    stopper = Stopper()
    stopper.sessions.append(SimpleNamespace(journal_path=earlier))  # type: ignore[arg-type]
    lifecycle.where_it_stands(stopper, replace(settings(), rehearsal=False), headless=True)
    said = capsys.readouterr().out
    assert "down" in said, said
    assert f"--resume --journal {earlier}" in said and "runbook rollback " in said, said
    assert str(kept) in said, "where the run's records are"


def test_exit_lines_read_the_kept_copy_where_an_older_journal_was_copied_over_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Review 60c, F4: an older journal copied over the run's mid-cutover
    (the run stopped and kept its records beside): the file at the path
    still parses, and the exit lines read it: "the cutover has not begun:
    the live stream manager serves as before", while it was down."""
    from dataclasses import replace
    from types import SimpleNamespace

    earlier = stopped_part_way(tmp_path / "runs" / EARLIER, cutover=True)
    kept = earlier.with_name(f"{earlier.stem}-kept.jsonl")
    earlier.rename(kept)
    stopped_part_way(earlier, cutover=False)  # the older copy, parseable
    stopper = Stopper()
    stopper.sessions.append(SimpleNamespace(  # type: ignore[arg-type]
        journal_path=earlier, kept_beside=kept))
    lifecycle.where_it_stands(stopper, replace(settings(), rehearsal=False), headless=True)
    said = capsys.readouterr().out
    assert "serves as before" not in said and "down" in said, said
    assert str(kept) in said, said


def _stopped_as_its_journal_went(path: Path, *, then: str) -> Path:
    """A rehearsal stopped by its journal being removed before upload's first
    action (what the run had recorded written back in place), then, with
    `then` "an older copy", an older copy of it put in place and the run's
    records kept beside it as NAME-kept.jsonl."""
    from runbook.journal import JournalWriteError, Record

    path.parent.mkdir(parents=True, exist_ok=True)
    journal = Journal(path)
    journal.write(Record.RUN_START, config=settings().source, host="red5admin@127.0.0.1:2222",
                  rehearsal=True, steps=[], resumed=False)
    journal.write(Record.STEP_START, step="preflight")
    journal.write(Record.STEP_END, step="preflight", state="done", detail="ok")
    older = path.read_bytes()
    journal.write(Record.STEP_START, step="new-database")
    journal.write(Record.STEP_END, step="new-database", state="done", detail="ok")
    journal.write(Record.STEP_START, step="upload")
    path.unlink()
    with pytest.raises(JournalWriteError):
        journal.write(Record.ACTION_START, step="upload", attempt="a1", n=1, text="put")
    journal.close()
    if then == "an older copy":
        path.rename(path.with_name(f"{path.stem}-kept.jsonl"))
        path.write_bytes(older)
    return path


async def test_a_run_stopped_as_its_journal_went_is_offered_saying_so(tmp_path: Path) -> None:
    """Operator trial 60, F10: the run stopped as its journal was removed; the
    next session's dialog said it "was cut off without an end", or "a step
    failed", and upload, which had sent nothing, was in doubt. It says the
    journal went, and upload is not in doubt."""
    earlier = _stopped_as_its_journal_went(tmp_path / "runs" / EARLIER, then="")
    app, said = opened(tmp_path, "--resume")
    assert any("journal was removed during the run" in line for line in said), said
    hold_the_run(app)
    async with app.run_test(size=SIZE):
        shown = " ".join(text_of(await the_dialog(app)).split())
    assert str(earlier) in shown, shown
    assert "its journal was removed during the run" in shown, shown
    assert "cut off" not in shown and "a step failed" not in shown, shown
    assert "doubt" not in shown.replace("A step in doubt is checked", ""), shown


def test_an_older_copy_put_back_over_what_the_run_kept_is_refused_naming_that(
        tmp_path: Path) -> None:
    """Operator trial 60, F10: an older copy put in the journal's place, the
    run's own records kept beside it: the next session went on from the older
    copy, its last steps unknown to it. It refuses, naming the copy to put
    back."""
    earlier = _stopped_as_its_journal_went(tmp_path / "runs" / EARLIER, then="an older copy")
    kept = earlier.with_name(f"{earlier.stem}-kept.jsonl")
    for words in (["--resume"], ["--resume", "--journal", str(earlier)], []):
        with pytest.raises(ConfigError) as refused:
            opened(tmp_path, *words)
        message = str(refused.value)
        assert str(kept) in message and str(earlier) in message, message
        assert "older" in message and "\n" not in message, message
