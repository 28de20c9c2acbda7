"""The exit lines, from a journal's story."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runbook.events import CutoverEnded
from runbook.headless import HeadlessFrontEnd
from runbook.journal_replay import Replay, StepHistory
from runbook.model import StepState
from runbook.standing import going_on, service_state
from screens.presentation import duration as shown_as

IDS = ["preflight", "delete-nodegroups", "start-service"]


def story(**fields: object) -> Replay:
    history = Replay(step_ids=IDS, **fields)  # type: ignore[arg-type]
    history.steps["preflight"] = StepHistory(state=StepState.DONE)
    return history


def test_a_stop_before_the_cutover_leaves_the_live_system_serving() -> None:
    said = service_state(story(outcome="stopped"))
    assert "has not begun" in said and "1 of 3 steps done or skipped" in said


def test_the_count_of_finished_steps_says_skipped_ones_are_in_it() -> None:
    """Operator trial: "(6 of 17 steps done)" after five done and one skipped."""
    history = story(outcome="stopped")
    history.steps["delete-nodegroups"] = StepHistory(state=StepState.SKIPPED)
    assert "2 of 3 steps done or skipped" in service_state(history)
    assert going_on(story(outcome="stopped"), resume="R", rollback="B") == ["to go on: R"]


def test_a_stop_mid_cutover_says_since_when_it_is_down_and_offers_the_way_back() -> None:
    began = (datetime.now(UTC) - timedelta(minutes=6, seconds=12)).isoformat()
    history = story(outcome="stopped", cutover_started=began)
    said = service_state(history)
    assert "down since" in said and "6m1" in said, said
    assert going_on(history, resume="R", rollback="B") == [
        "to go on: R", "to go back to the old stream manager instead: B"]


def test_finished_runs_have_nothing_to_go_on_with() -> None:
    upgraded = story(outcome="done", cutover_started="2026-01-01T00:00:00+00:00",
                     downtime_s=133.0)
    assert "new stream manager serves" in service_state(upgraded)
    assert "2m13s" in service_state(upgraded)
    assert going_on(upgraded, resume="R", rollback="B") == []
    back = story(outcome="rolled-back", cutover_started="2026-01-01T00:00:00+00:00")
    assert "old stream manager serves again" in service_state(back)
    assert going_on(back, resume="R", rollback="B") == []


def test_the_exit_line_gives_the_downtime_as_the_run_and_the_tui_showed_it() -> None:
    """A rehearsal's headless run printed `downtime: 5.1s` and then the exit line
    `the downtime was 5s`: two figures for one downtime. The headless line, the
    exit line and the TUI now say it one way: tenths under a minute, then cut
    (as a clock is) to whole seconds, so 119.6 s is 1m59s everywhere."""
    for seconds, words in ((5.1, "5.1s"), (59.96, "59.9s"), (119.6, "1m59s"),
                           (133.0, "2m13s")):
        said = service_state(story(outcome="done", cutover_started="2026-01-01T00:00:00+00:00",
                                   downtime_s=seconds))
        out = io.StringIO()
        HeadlessFrontEnd([], out=out, stdin=io.StringIO("")).tell(
            CutoverEnded(complete=True, downtime_s=seconds))
        assert f"the downtime was {words} " in said, said
        assert f"downtime: {words}\n" in out.getvalue(), out.getvalue()
        assert shown_as(seconds) == words
    # A clock set back on this machine reads as no time, not as a negative one.
    assert "(0.0s so far)" in service_state(story(
        outcome="stopped", cutover_started=(datetime.now(UTC) + timedelta(seconds=3)).isoformat()))


def test_the_report_and_the_headless_step_lines_cut_times_the_same_way() -> None:
    """The report rounded (119.6 s: "2 min 00 s") and headless printed a step's
    raw seconds ("in 119.6s") where the TUI and the exit line say 1m59s. And
    the report spelt them apart ("1 min 59 s"), a second form for the same
    figure (re-trial 57b, F-H): it writes them as the exit lines do."""
    from runbook.events import StepChanged
    from runbook.model import StepReport, StepState, duration
    from runbook.report_format import duration as written

    assert written(119.6) == "1m59s" and written(59.96) == "59.9s"
    assert written(-2.0) == "0.0s"
    assert written(None) == "-"
    out = io.StringIO()
    HeadlessFrontEnd([], out=out, stdin=io.StringIO("")).tell(StepChanged(StepReport(
        "upload", state=StepState.DONE, detail="both files are on the host", elapsed_s=119.6)))
    assert "in 1m59s]" in out.getvalue(), out.getvalue()
    # A damaged journal's Infinity or NaN reads as unknown; it does not end the exit lines.
    assert duration(float("inf")) == duration(float("nan")) == "?"


def test_the_way_back_alone_counts_the_upgrades_steps_before_it(tmp_path: Path) -> None:
    """Operator trial: after `runbook rollback` the exit line said "20 of 22
    steps done or skipped before the way back" where the upgrade had 17 steps
    (the TUI: 15/17): the way back's own run lists no upgrade steps, and every
    step the journal holds, the way back's too, was counted instead."""
    from runbook.journal import Journal
    from runbook.journal_replay import replay

    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="sm.toml", host="u@h:22", steps=IDS)
    for step in ("preflight", "delete-nodegroups"):
        journal.write("step-end", step=step, state="done", detail="ok")
    journal.write("cutover-start", step="delete-nodegroups")
    journal.write("step-end", step="start-service", state="failed", detail="no answer")
    journal.write("run-end", outcome="failed", exit_code=1)
    journal.write("run-start", config="sm.toml", host="u@h:22", steps=[], resumed=True)
    journal.write("way-back")
    for step in ("rollback-stop-new", "rollback-start"):
        journal.write("step-end", step=step, state="done", detail="ok")
    journal.write("cutover-end", complete=True, downtime_s=60.0)
    journal.write("run-end", outcome="rolled-back", exit_code=4)
    journal.close()
    said = service_state(replay(path))
    assert "(2 of 3 steps done or skipped before the way back)" in said, said


def test_a_run_whose_preflight_did_not_pass_says_nothing_of_what_serves() -> None:
    """Operator trial: from a machine that had no record of a cutover under way,
    preflight found no live install (it was bak.red5pro), and the exit line
    still said the live stream manager served as before."""
    history = story(outcome="failed")
    history.steps["preflight"] = StepHistory(state=StepState.FAILED)
    said = service_state(history)
    assert "serves" not in said, said
    assert "changed nothing" in said and "0 of 3 steps done or skipped" in said, said


def test_a_resumed_run_whose_preflight_failed_does_not_say_it_changed_nothing() -> None:
    history = story(outcome="failed")
    history.steps["preflight"] = StepHistory(state=StepState.FAILED)
    history.steps["delete-nodegroups"] = StepHistory(state=StepState.SKIPPED)
    said = service_state(history)
    assert "serves as before" not in said and "changed nothing" not in said, said
    assert "preflight did not pass" in said, said


def test_a_stop_part_way_back_says_the_way_back_is_under_way(tmp_path: Path) -> None:
    """Operator trial (stop 26): stopped after rollback-set-aside, the exit line
    said only "down since ..., 15 of 17 steps done; to go on: ...", as if the
    upgrade stood where it had failed. The host had no red5pro at all then:
    the way back was part done, and going on goes on back."""
    from runbook.journal import Journal
    from runbook.journal_replay import replay

    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="sm.toml", host="u@h:22", steps=IDS)
    journal.write("step-end", step="preflight", state="done", detail="ok")
    journal.write("cutover-start", step="delete-nodegroups")
    journal.write("step-end", step="delete-nodegroups", state="done", detail="ok")
    journal.write("step-end", step="start-service", state="failed", detail="no answer")
    journal.write("way-back")
    journal.write("step-end", step="rollback-stop-new", state="done", detail="ok")
    journal.write("step-end", step="rollback-set-aside", state="done", detail="ok")
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    history = replay(path)
    said = service_state(history)
    assert "down since" in said and "way back" in said, said
    assert "2 of its steps done" in said, said
    lines = going_on(history, resume="R", rollback="B")
    assert lines and "back" in lines[0] and "R" in lines[0], lines
    assert not any("instead" in line for line in lines), lines


def test_a_rehearsals_way_back_with_no_cutover_step_finished_is_a_command_alone() -> None:
    """Way-back trial (stop 45): "... --rollback-after delete-nodegroups (it runs
    delete-nodegroups again first: no cutover step finished)", pasted from the
    exit line or the report's code span, was a shell syntax error."""
    import shlex

    from runbook.standing import rehearsed_way_back

    began = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    history = story(outcome="stopped", cutover_started=began)
    history.steps["delete-nodegroups"] = StepHistory(state=StepState.IN_DOUBT)
    back = rehearsed_way_back(history, "runbook rehearse --resume", IDS[1:], ["rollback-x"])
    assert back is not None
    assert shlex.split(back.command) == ["runbook", "rehearse", "--resume", "--rollback-after",
                                         "delete-nodegroups"]
    assert "delete-nodegroups again" in back.note
    lines = going_on(history, resume="R", rollback=back.command, rollback_note=back.note)
    said, command = lines[1].rsplit(": ", 1)
    assert command == back.command and "again" in said, lines


def test_a_service_a_failed_step_left_running_is_said_while_down_and_not_on_the_way_back(
) -> None:
    """Trial 58 L6: the new release left up without serving (start-service
    failed on an unreachable database) was not in the exit lines. Said from
    the step's fact while the stream manager is down; on the way back its
    own lines say where things stand (rollback-stop-new stops it)."""
    from runbook.model import LEFT_RUNNING

    began = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    runs = "the new release's service runs: start-service failed and left it running"
    down = story(outcome="failed", cutover_started=began, facts={LEFT_RUNNING: runs})
    assert service_state(down).endswith(f"; {runs}"), service_state(down)
    nothing = story(outcome="failed", cutover_started=began, facts={LEFT_RUNNING: None})
    assert "runs" not in service_state(nothing), service_state(nothing)
    back = story(outcome="failed", cutover_started=began, facts={LEFT_RUNNING: runs},
                 way_back_taken=True)
    assert "runs" not in service_state(back), service_state(back)
