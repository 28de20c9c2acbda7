"""The journal: append-only, one JSON record per line, replayable after a crash."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runbook.earlier_runs import unfinished
from runbook.journal import Journal, JournalError, JournalWriteError, Record, claim, in_use, read
from runbook.journal_replay import replay
from runbook.model import Phase, StepState
from tests.example_config import example_here

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "sample-configs" / "production.example.toml"


def test_records_are_json_lines_in_order(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "run.jsonl")
    journal.write("run-start", config="x.toml")
    journal.write("step-start", step="upload")
    journal.close()
    lines = (tmp_path / "run.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["event"] for r in records] == ["run-start", "step-start"]
    assert all("ts" in r and "mono" in r for r in records)


def test_reopening_appends(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    for _ in range(2):
        journal = Journal(path)
        journal.write("run-start")
        journal.close()
    assert len(path.read_text().splitlines()) == 2


def test_an_action_without_an_end_is_in_doubt(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "run.jsonl")
    journal.write("step-start", step="upload")
    journal.write("action-start", step="upload", n=1, text="$ mkdir -p /tmp/x")
    journal.write("action-end", step="upload", n=1, status="ok")
    journal.write("step-end", step="upload", state="done")
    journal.write("step-start", step="unpack")
    journal.write("action-start", step="unpack", n=1, text="$ unzip ...")
    journal.close()
    # A crash mid-write leaves a torn line; it must not break the replay.
    with open(tmp_path / "run.jsonl", "a") as handle:
        handle.write('{"event": "action-e')
    state = replay(tmp_path / "run.jsonl")
    assert state.state("upload") is StepState.DONE
    assert state.state("unpack") is StepState.IN_DOUBT
    assert state.steps["unpack"].in_flight == ["$ unzip ..."]
    assert not state.finished


def test_an_attempt_started_again_leaves_nothing_of_the_cut_one_in_flight(
        tmp_path: Path) -> None:
    """Review: a step's next attempt settles what the one cut off left
    running, yet the replay still listed that one's command and job as in
    flight on the step done since, for every later run to wait on."""
    journal = Journal(tmp_path / "run.jsonl")
    journal.write("run-start", steps=["unpack"])
    journal.write("step-start", step="unpack", attempt="a1")
    journal.write("action-start", step="unpack", attempt="a1", n=1, text="$ unzip ...",
                  job="job-a1")
    journal.write("run-start", steps=["unpack"], resumed=True)  # killed, then resumed
    journal.write("step-start", step="unpack", attempt="a2")
    journal.write("action-start", step="unpack", attempt="a2", n=1, text="$ unzip ...",
                  job="job-a2")
    journal.write("action-end", step="unpack", attempt="a2", n=1, status="ok")
    journal.write("step-end", step="unpack", state="done")
    journal.close()
    unpack = replay(tmp_path / "run.jsonl").steps["unpack"]
    assert unpack.state is StepState.DONE
    assert (unpack.in_flight, unpack.in_flight_jobs) == ([], [])


def test_skip_reason_and_downtime_are_replayed(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "run.jsonl")
    journal.write("step-end", step="new-database", state="skipped", reason="checked by DBA")
    journal.write("cutover-start", step="delete-nodegroups")
    journal.write("cutover-end", downtime_s=42.5)
    journal.write("run-end", outcome="done", exit_code=0)
    journal.close()
    state = replay(tmp_path / "run.jsonl")
    assert state.state("new-database") is StepState.SKIPPED
    assert state.steps["new-database"].skip_reason == "checked by DBA"
    assert state.downtime_s == 42.5
    assert state.finished and state.outcome == "done"


def test_a_steps_running_time_outlives_a_later_session_that_found_it_done(
        tmp_path: Path) -> None:
    """TUI trial (stop 49): steps finished in an earlier session lost their
    times in a resumed run's checklist; a session that only finds the step
    done ran nothing, and keeps the time of the one that ran it."""
    from runbook.model import StepCard
    from screens.run_state import RunState

    journal = Journal(tmp_path / "run.jsonl")
    journal.write("step-end", step="upload", state="done", detail="sent", elapsed_s=42.5)
    journal.write("step-end", step="backup", state="failed", detail="no", elapsed_s=3.0)
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.write("step-end", step="upload", state="done", detail="already done",
                  elapsed_s=None)
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    earlier = replay(tmp_path / "run.jsonl")
    assert earlier.steps["upload"].elapsed_s == 42.5
    # Second review: found done after a failed attempt, it has no time.
    again = Journal(tmp_path / "run.jsonl")
    again.write("step-end", step="backup", state="done", detail="already", elapsed_s=None)
    again.close()
    assert replay(tmp_path / "run.jsonl").steps["backup"].elapsed_s is None
    cards = [StepCard(1, "upload", "Upload", Phase.PREPARE, "Sends."),
             StepCard(2, "backup", "Backup", Phase.PREPARE, "Keeps.")]
    seen = RunState(cards=cards, target="u@h:22", previous=earlier)
    assert seen.elapsed("upload", 0.0) == 42.5
    assert seen.elapsed("backup", 0.0) == 3.0  # its row is the earlier run's failure


def test_the_cutover_began_when_the_hosts_record_says_and_else_at_the_record(
        tmp_path: Path) -> None:
    """The cutover-start record carries the host's record of the moment, which
    every clock counts from; a journal from before it has only its own time."""
    now = Journal(tmp_path / "now.jsonl")
    now.write("cutover-start", step="delete-nodegroups", began="2026-03-14T02:14:07.998+00:00")
    now.close()
    assert replay(tmp_path / "now.jsonl").cutover_started == "2026-03-14T02:14:07.998+00:00"
    older = Journal(tmp_path / "older.jsonl")
    record = older.write("cutover-start", step="delete-nodegroups")
    older.close()
    assert replay(tmp_path / "older.jsonl").cutover_started == record["ts"]


# --- a journal that heals (issue 7) -------------------------------------------------


def _run_so_far(path: Path) -> None:
    journal = Journal(path)
    journal.write("run-start", config="x.toml")
    journal.write("step-start", step="unpack")
    journal.write("action-start", step="unpack", n=1, text="$ unzip ...")
    journal.close()


def _crash_mid_write(path: Path, fragment: bytes = b'{"event": "action-e') -> None:
    with open(path, "ab") as handle:
        handle.write(fragment)


def test_a_torn_last_line_is_cut_before_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    _run_so_far(path)
    _crash_mid_write(path)
    resumed = Journal(path)
    resumed.write("run-start", config="x.toml")
    resumed.close()
    records = [json.loads(line) for line in path.read_bytes().split(b"\n")[:-1]]
    assert [r["event"] for r in records] == ["run-start", "step-start", "action-start",
                                             "journal-repaired", "run-start"]
    repair = records[3]
    assert repair["line"] == 4 and repair["dropped_bytes"] == len(b'{"event": "action-e')
    assert repair["fragment"] == '{"event": "action-e'
    assert resumed.repaired is not None and f"{path}:4" in resumed.repaired
    assert "\n" not in resumed.repaired
    # A second crash: the run must still be there to resume, its action in doubt.
    _crash_mid_write(path, b'{"ev')
    found = unfinished(tmp_path, config="x.toml")
    assert found is not None and found.path == path
    assert found.state("unpack") is StepState.IN_DOUBT


def test_an_intact_journal_is_not_repaired(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    _run_so_far(path)
    before = path.read_bytes()
    journal = Journal(path)
    journal.close()
    assert journal.repaired is None and path.read_bytes() == before


def test_a_last_record_without_its_line_end_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    _run_so_far(path)
    _crash_mid_write(path, b'{"event": "action-end", "step": "unpack", "n": 1}')
    assert replay(path).state("unpack") is StepState.IN_DOUBT  # running, never ended
    resumed = Journal(path)
    resumed.write("step-end", step="unpack", state="done")
    resumed.close()
    events = [r["event"] for r in read(path)]
    assert events == ["run-start", "step-start", "action-start", "action-end",
                      "journal-repaired", "step-end"]
    assert resumed.repaired is not None and f"{path}:4" in resumed.repaired
    assert replay(path).steps["unpack"].in_flight == []


def test_a_line_torn_inside_a_character_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    _run_so_far(path)
    whole = json.dumps({"event": "output", "text": "déjà vu — again"}, ensure_ascii=False)
    encoded = whole.encode()
    _crash_mid_write(path, encoded[:encoded.index("—".encode()) + 1])
    assert replay(path).state("unpack") is StepState.IN_DOUBT
    resumed = Journal(path)
    resumed.close()
    assert resumed.repaired is not None
    assert [r["event"] for r in read(path)][-1] == "journal-repaired"


def test_a_line_separator_inside_a_record_is_not_a_line_end(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    for text in ("ok\u2028then", "NEL\x85here", "and\u2029more"):
        journal.write("output", step="unpack", lines=[["out", text]])
    journal.close()
    assert [r["lines"][0][1] for r in read(path)] == ["ok\u2028then", "NEL\x85here",
                                                      "and\u2029more"]


def test_damage_in_the_middle_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    _run_so_far(path)
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1][:10]
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(JournalError, match=rf"^{re.escape(str(path))}:2: .*damaged"):
        replay(path)


def test_a_line_nested_too_deep_for_json_is_damage_not_a_crash(tmp_path: Path) -> None:
    """Operator trial: a line of 100000 nested brackets raised RecursionError
    out of report, log, run --resume and rollback, and out of rehearse and
    report when it only lay beside the journal they read."""
    path = tmp_path / "run.jsonl"
    _run_so_far(path)
    with path.open("ab") as journal:
        journal.write(b"[" * 100000 + b"]" * 100000 + b"\n")
    with pytest.raises(JournalError, match=rf"^{re.escape(str(path))}:4: .*damaged"):
        replay(path)


def test_a_completed_damaged_last_line_is_named_not_dropped(tmp_path: Path) -> None:
    # What appending onto a torn line used to leave: a fragment with a whole
    # record glued on, ended by a line end. No crash writes that.
    path = tmp_path / "run.jsonl"
    _run_so_far(path)
    _crash_mid_write(path, b'{"event": "action-e{"event": "run-start"}\n')
    with pytest.raises(JournalError, match=rf"^{re.escape(str(path))}:4: "):
        replay(path)


def test_a_file_that_was_never_a_journal_is_not_called_damaged(tmp_path: Path) -> None:
    """Operator trial: `runbook report /etc/passwd` said "not a journal record;
    the file is damaged", which reads as a run's journal gone bad."""
    path = tmp_path / "passwd"
    path.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/bin/sh\n")
    with pytest.raises(JournalError) as raised:
        replay(path)
    said = str(raised.value)
    assert said.startswith(f"{path}: ") and "not a runbook journal" in said, said
    assert "damaged" not in said, said


def _age(path: Path, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def test_unfinished_names_a_damaged_journal_newer_than_the_run_it_would_pick(
    tmp_path: Path,
) -> None:
    older, newer = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _run_so_far(older)
    _age(older, 3600)
    _run_so_far(newer)
    _crash_mid_write(newer, b'{"event": "action-e{"event": "run-start"}\n')
    with pytest.raises(JournalError) as raised:
        unfinished(tmp_path, config="x.toml")
    message = str(raised.value)
    assert message.startswith(f"{newer}:4: ") and "\n" not in message
    assert "move it aside" in message and "--journal" in message


def test_unfinished_names_a_damaged_journal_when_it_is_the_only_one(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    _run_so_far(path)
    _crash_mid_write(path, b'garbage\n{"event": "note"}\n')
    with pytest.raises(JournalError, match=rf"^{re.escape(str(path))}:4: "):
        unfinished(tmp_path, config="x.toml")


def test_unfinished_passes_over_a_damaged_journal_of_another_config(tmp_path: Path) -> None:
    mine, theirs = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _run_so_far(mine)
    _age(mine, 3600)
    journal = Journal(theirs)
    journal.write("run-start", config="other.toml")
    journal.close()
    _crash_mid_write(theirs, b'garbage\n{"event": "note"}\n')
    found = unfinished(tmp_path, config="x.toml")
    assert found is not None and found.path == mine


def _host_run(path: Path, host: str, outcome: str | None, age: float) -> None:
    """A run of `host` that failed at schema (outcome None: cut off), or ended
    as `outcome` says, last written `age` seconds ago."""
    journal = Journal(path)
    journal.write("run-start", config="sm.toml", host=host, rehearsal=False)
    journal.write("step-start", step="schema")
    journal.write("step-end", step="schema", state="failed" if outcome != "done" else "done")
    if outcome is not None:
        journal.write("run-end", outcome=outcome, exit_code=0 if outcome == "done" else 1)
    journal.close()
    _age(path, age)


@pytest.mark.parametrize("later", ["done", "rolled-back"])
def test_a_run_a_later_finished_run_of_the_same_host_superseded_is_not_offered(
    tmp_path: Path, later: str,
) -> None:
    """Trial 54, F24: the resume dialog offered a run that failed at schema,
    though two cutovers had run on that host since and the last one upgraded
    it; continuing it misdescribed the host (the old tree's identity looked
    for in the new release). A later finished run (upgraded, or back on the
    old release) of the same host is where that host stands: nothing older
    is left to continue. Another host's finished run hides nothing."""
    _host_run(tmp_path / "stale.jsonl", "ubuntu@sm1:22", "failed", 7200)
    _host_run(tmp_path / "other.jsonl", "ubuntu@sm2:22", "done", 3600)
    found = unfinished(tmp_path, host="ubuntu@sm1:22")
    assert found is not None and found.path == tmp_path / "stale.jsonl"
    _host_run(tmp_path / "finished.jsonl", "ubuntu@sm1:22", later, 60)
    assert unfinished(tmp_path, host="ubuntu@sm1:22") is None
    # One newer than that finished run is offered, as ever.
    _host_run(tmp_path / "newest.jsonl", "ubuntu@sm1:22", None, 0)
    found = unfinished(tmp_path, host="ubuntu@sm1:22")
    assert found is not None and found.path == tmp_path / "newest.jsonl"


def _nothing_begun(path: Path, host: str, age: float, *, failed_look: bool = False) -> None:
    """A run of `host` that began no step: stopped at its first question (a
    piped `q`), or, `failed_look`, failed as preflight first looked (its
    connection refused), last written `age` seconds ago."""
    journal = Journal(path)
    journal.write("run-start", config="sm.toml", host=host, rehearsal=False)
    if failed_look:
        journal.write("step-end", step="preflight", state="failed", detail="cannot connect")
    else:
        journal.write("confirm", step="preflight", answer="stop", reason="")
    journal.write("run-end", outcome="stopped" if not failed_look else "failed",
                  exit_code=3 if not failed_look else 1)
    journal.close()
    _age(path, age)


@pytest.mark.parametrize("failed_look", [False, True])
def test_a_run_that_began_no_step_does_not_hide_one_that_got_somewhere(
    tmp_path: Path, failed_look: bool,
) -> None:
    """Trial 55, F1: a headless try stopped at its first question (0 of 17)
    became the run --resume continued and the TUI offered, in place of the
    run stopped at 10 of 17 an hour before. A run that began no step has
    nothing to go on from: the run that got somewhere is the one offered.
    With nothing else unfinished, it is still the one there is."""
    _host_run(tmp_path / "real.jsonl", "ubuntu@sm1:22", "stopped", 3600)
    _nothing_begun(tmp_path / "empty.jsonl", "ubuntu@sm1:22", 60, failed_look=failed_look)
    found = unfinished(tmp_path, host="ubuntu@sm1:22")
    assert found is not None and found.path == tmp_path / "real.jsonl"
    # Another host's run with steps done is no reason to pass over this one's.
    alone = tmp_path / "alone"
    alone.mkdir()
    _host_run(alone / "theirs.jsonl", "ubuntu@sm2:22", "stopped", 3600)
    _nothing_begun(alone / "empty.jsonl", "ubuntu@sm1:22", 60, failed_look=failed_look)
    found = unfinished(alone, host="ubuntu@sm1:22")
    assert found is not None and found.path == alone / "empty.jsonl"
    # Nor is a finished run of the host: it says where the host stands, and
    # the run begun since is the one to offer, as ever.
    _host_run(tmp_path / "real.jsonl", "ubuntu@sm1:22", "done", 3600)
    found = unfinished(tmp_path, host="ubuntu@sm1:22")
    assert found is not None and found.path == tmp_path / "empty.jsonl"


def _descriptor_of(path: Path) -> int:
    """The descriptor this process has the journal open on (the one it writes)."""
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == str(path):
                return int(name)
        except OSError:
            continue  # the listing's own descriptor, gone by now
    raise AssertionError(f"{path} is not open")


def _fill_the_disk_under(fd: int) -> None:
    # ENOSPC on the journal's own descriptor, as a full disk would answer.
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        os.dup2(full, fd)
    finally:
        os.close(full)


def test_a_journal_that_cannot_be_written_says_which_and_why(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start")
    _fill_the_disk_under(_descriptor_of(path))
    with pytest.raises(JournalWriteError) as raised:
        journal.write("step-start", step="upload")
    assert isinstance(raised.value, JournalError)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and "No space left on device" in message
    assert "\n" not in message
    journal.close()  # the run's cleanup must not raise on top of it


def test_after_a_failed_write_nothing_more_is_appended(tmp_path: Path) -> None:
    # A record after a torn one would put the damage in the middle, where
    # nothing can tell it from a damaged file; a torn end heals on reopening.
    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start")
    fd = _descriptor_of(path)
    saved = os.dup(fd)
    _fill_the_disk_under(fd)
    with pytest.raises(JournalWriteError):
        journal.write("step-start", step="upload")
    # The disk has room again; the journal must still not go on past the tear.
    os.dup2(saved, fd)
    os.close(saved)
    with pytest.raises(JournalWriteError, match="No space left on device"):
        journal.write("run-end", outcome="failed")
    journal.close()
    assert [r["event"] for r in read(path)] == ["run-start"]


def test_the_cli_reports_a_journal_it_cannot_write_in_one_line_and_exit_1(
    tmp_path: Path,
) -> None:
    """A journal the disk takes no more of. (It was /dev/full, which is a
    device, and refused as one now, exit 2, before any run: a file size limit
    stands in for the full disk.)"""
    import resource
    import signal

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))

    journal = tmp_path / "run.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "runbook.cli", "run", str(example_here(tmp_path)), "--headless",
         "--yes", "--journal", str(journal)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, preexec_fn=small_files,
        env={**os.environ, "SM_API_TOKEN": "not-a-real-token",
             "XDG_STATE_HOME": str(tmp_path)})
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"runbook: {journal}: ")
    assert "File too large" in result.stderr and "cannot write the journal" in result.stderr
    # Its first record did not fit: no run began, so none to go on with.
    assert "--resume" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert journal.stat().st_size == 0, "no part of a record left to read as a run"


def test_resume_names_the_damaged_journal_in_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "runbook" / "sm-20260101T000000Z.jsonl"
    config = example_here(tmp_path)
    journal = Journal(path)
    journal.write("run-start", config=str(config))
    journal.close()
    _crash_mid_write(path, b'{"event": "action-e{"event": "run-start"}\n')
    result = subprocess.run(
        [sys.executable, "-m", "runbook.cli", "run", str(config), "--headless",
         "--yes", "--resume"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, "SM_API_TOKEN": "not-a-real-token",
             "XDG_STATE_HOME": str(tmp_path)})
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"runbook: {path}:2: ")


def test_the_disk_is_waited_for_before_the_host_changes_not_for_every_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12: an fsync (1-3 ms here) per record added up in the downtime.
    What must be on disk before anything happens on the host is the action
    about to run, and everything before it, which one fsync covers; the lines
    between are written at once (a kill -9 keeps them) and synced with it."""
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    synced.clear()
    journal.write(Record.CHECK, step="s", done=False, detail="")
    journal.write(Record.CONFIRM, step="s", answer="run", reason="")
    journal.write(Record.STEP_START, step="s")
    for n in range(10):
        journal.write(Record.OUTPUT, step="s", lines=[["out", f"line {n}"]])
    assert synced == [], "records that precede no change were each waited for"
    assert len(path.read_text().splitlines()) == 13, "a record was held back"
    journal.write(Record.ACTION_START, step="s", attempt="a", n=1, kind="shell", text="true")
    assert len(synced) == 1
    journal.write(Record.ACTION_END, step="s", attempt="a", n=1, status="ok")
    journal.write(Record.OUTPUT, step="s", lines=[["out", "last"]])
    journal.close()
    assert len(synced) == 2, "closing left records unsynced"


def _synced_paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What each os.fsync from here on was of, by path."""
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


def test_a_new_journal_and_its_folders_outlive_a_power_cut(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the journal's contents were fsynced, never the folders that name it:
    after a power cut, the journal of a run that changed the host (or its
    new folder) could be gone (code review, stop 46). A name made is made
    durable in the folder that holds it."""
    synced = _synced_paths(monkeypatch)
    folder = tmp_path / "state" / "runbook"
    path = claim(folder, "run")
    assert {str(tmp_path), str(tmp_path / "state"), str(folder)} <= set(synced), synced
    synced.clear()
    Journal(folder / "other.jsonl").close()  # made by opening it
    assert str(folder) in synced, synced
    synced.clear()
    Journal(path).close()  # there already: nothing new to name
    assert str(folder) not in synced, synced
    # Nor may the host's record of a cutover that ended come back.
    from runbook.hoststate import HostState

    host = HostState(folder, "sm", 22)
    (host.path / "cutovers").mkdir(parents=True)  # an earlier cutover's
    host.begin_cutover(path)
    synced.clear()
    host.end_cutover("upgraded")
    assert str(host.path) in synced, synced


def test_the_way_back_chosen_is_on_disk_before_it_begins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The way back's first step may wait minutes (a reconnect, the settling
    of what the upgrade left running) before an action syncs the journal: a
    power cut then lost the operator's choice, and a resume went on forward
    (code review, stop 46)."""
    journal = Journal(tmp_path / "run.jsonl")
    synced = _synced_paths(monkeypatch)
    journal.write(Record.WAY_BACK, why="the operator chose it")
    assert str(tmp_path / "run.jsonl") in synced
    journal.close()


def test_the_folders_made_for_a_journal_are_the_operators_alone(tmp_path: Path) -> None:
    """A first run on a machine makes ~/.local/state/runbook and what is missing
    above it: all 0700, not only the last one (mkdir(parents=True) made the
    others with the umask's mode)."""
    folder = tmp_path / "state" / "runbook" / "rehearsals"
    claim(folder, "run")
    Journal(tmp_path / "elsewhere" / "runs" / "mine.jsonl").close()
    made = [path for path in tmp_path.rglob("*") if path.is_dir()]
    assert made and all(path.stat().st_mode & 0o777 == 0o700 for path in made), \
        [f"{path} {path.stat().st_mode & 0o777:o}" for path in made]


def _small_run(path: Path) -> None:
    journal = Journal(path)
    journal.write("run-start", config=str(EXAMPLE), host="ubuntu@sm1:22", rehearsal=False,
                  steps=["preflight"], resumed=False)
    journal.write("step-start", step="preflight")
    journal.write("action-start", step="preflight", attempt="a1b2c3d4", n=1, kind="shell",
                  text="true")
    journal.write("output", step="preflight", lines=[["out", "fine"]])
    journal.write("action-end", step="preflight", attempt="a1b2c3d4", n=1, status="ok")
    journal.write("step-end", step="preflight", state="done", detail="all good",
                  elapsed_s=1.5)
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()


@pytest.mark.parametrize(("event", "field", "value"), [
    ("output", "lines", -1), ("output", "lines", True), ("output", "lines", 1e308),
    ("step-end", "elapsed_s", 1e308), ("step-end", "elapsed_s", "soon"),
    ("step-end", "elapsed_s", float("nan")),  # test audit: the check's own comment names it
    ("action-start", "attempt", {}), ("action-start", "n", [1, 2]),
    # Security trial: report said "too many values to unpack" and log said nothing.
    ("output", "lines", [["out", "a", "b"]]), ("output", "lines", [["out", 1]]),
    ("output", "lines", ["out"]),
])
def test_a_record_with_a_field_of_the_wrong_kind_is_a_damaged_line(
        tmp_path: Path, event: str, field: str, value: object,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Bad-input trial: a journal edited by hand gave tracebacks: `log` on
    "lines": -1 (TypeError), `report` on an elapsed_s of 1e308 (OverflowError),
    `run --resume` on an attempt of {} (unhashable). Each reader says which
    line is damaged, in one line, exit 2."""
    from runbook import cli
    from runbook.journal_replay import replay

    path = tmp_path / "run.jsonl"
    _small_run(path)
    for command in (["log", str(path)], ["report", str(path)]):
        assert cli.main(command) == 0, capsys.readouterr().err
    capsys.readouterr()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    (number,) = [n for n, r in enumerate(records, start=1) if r["event"] == event]
    records[number - 1][field] = value
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(JournalError, match=f"^{re.escape(str(path))}:{number}: "):
        replay(path)
    for command in (["log", str(path)], ["report", str(path)], ["report", str(path), "--html"]):
        code = cli.main(command)
        err = capsys.readouterr().err
        assert code == 2, (command, err)
        assert err.count("\n") == 1 and f"{path}:{number}" in err, (command, err)


def test_a_relative_xdg_state_home_is_ignored(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad-input trial: XDG_STATE_HOME=relative/state put the journals under
    whatever folder runbook was started in; the XDG spec has a relative value
    ignored, as if unset."""
    from runbook.statedir import default_dir

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", "relative/state")
    assert default_dir() == tmp_path / ".local" / "state" / "runbook"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "abs"))
    assert default_dir() == tmp_path / "abs" / "runbook"


def test_a_look_at_whether_a_journal_is_in_use_does_not_refuse_its_run(tmp_path: Path) -> None:
    """in_use asks by taking the journal's lock for an instant: a run opening
    that journal in that instant (a report, the end-of-run line or a new run's
    look at its folder, from another process) was refused as "another
    runbook is writing" (code review, stop 46). Opening waits that instant out."""
    import fcntl
    import threading

    path = tmp_path / "run.jsonl"
    path.touch()
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as in_use holds it
    threading.Timer(0.03, os.close, (fd,)).start()
    Journal(path).close()


def test_a_cutover_that_began_at_the_epoch_is_a_time_like_any_other(tmp_path: Path) -> None:
    """The check that a cutover-start's time is one a clock can count from
    took a zero timestamp (1970-01-01, UTC) for none, and the line for damaged."""
    path = tmp_path / "run.jsonl"
    path.write_text('{"event": "run-start", "ts": "2026-01-01T00:00:00+00:00", "steps": ["a"]}\n'
                    '{"event": "cutover-start", "ts": "2026-01-01T00:00:01+00:00", '
                    '"step": "a", "began": "1970-01-01T00:00:00+00:00"}\n')
    assert replay(path).cutover_started == "1970-01-01T00:00:00+00:00"


def test_a_journal_on_a_filesystem_without_locks_is_written_with_a_note(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every failed flock read as a lock held: on a filesystem that gives no
    locks (ENOLCK, some NFS homes) every run was refused as "another runbook
    is writing this journal", and every look called its journal in use
    (stop 46's re-read). No lock is no writer: the run goes on, and says the
    journal is not guarded."""
    import errno
    import fcntl

    def flock(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    path = tmp_path / "run.jsonl"
    path.touch()
    monkeypatch.setattr(fcntl, "flock", flock)
    assert not in_use(path)
    journal = Journal(path)
    try:
        assert journal.unlocked is not None
        assert "No locks available" in journal.unlocked and str(path) in journal.unlocked
    finally:
        journal.close()


def test_a_lock_refused_as_eacces_is_a_lock_held(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where flock is carried over fcntl locks (SMB; POSIX allows it) a lock
    another holds is refused with EACCES, not EWOULDBLOCK: taken for "no
    locks here", a second writer went on beside the first (second review,
    stop 47)."""
    import errno
    import fcntl

    def flock(fd: int, operation: int) -> None:
        raise OSError(errno.EACCES, "Permission denied")

    path = tmp_path / "run.jsonl"
    path.touch()
    monkeypatch.setattr(fcntl, "flock", flock)
    assert in_use(path)
    with pytest.raises(JournalError, match="another runbook is writing"):
        Journal(path)


def test_a_look_sees_the_writer_where_read_only_files_get_no_write_lock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NFS gives a file opened only to read no lock for writing (EBADF). The
    look asked for one: first every journal read as in use, then (taken for
    no locks at all) none did, a writer's included (second review, stop 47)."""
    import errno
    import fcntl

    real = fcntl.flock

    def flock(fd: int, operation: int) -> None:
        read_only = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY
        if operation & fcntl.LOCK_EX and read_only:
            raise OSError(errno.EBADF, "Bad file descriptor")
        real(fd, operation)

    path = tmp_path / "run.jsonl"
    monkeypatch.setattr(fcntl, "flock", flock)
    journal = Journal(path)
    try:
        assert in_use(path)
    finally:
        journal.close()
    assert not in_use(path)


def test_a_pipe_named_as_a_journal_is_passed_over_not_waited_on(tmp_path: Path) -> None:
    """A FIFO `*.jsonl` among the journals: `runbook run`'s look for a run
    beside it opened it to read its lock and waited for a writer forever
    (code review, stop 48). The looks pass it over; a real journal beside it
    is still found. (In a child process: a hang must not hang the suite.)"""
    import subprocess
    import sys

    folder = tmp_path / "runs"
    folder.mkdir()
    os.mkfifo(folder / "0-a-pipe.jsonl")
    journal = Journal(folder / "sm1-run.jsonl")
    journal.write("run-start", config="sm.toml", host="ubuntu@sm1:22", rehearsal=False,
                  steps=[], resumed=False)
    journal.close()
    look = ("import sys; from pathlib import Path; "
            "from runbook.journal import in_use; "
            "from runbook.earlier_runs import running_beside, unfinished; "
            f"folder = Path({str(folder)!r}); "
            "print(running_beside(folder, host='ubuntu@sm1:22'), "
            "unfinished(folder, host='ubuntu@sm1:22').path.name, "
            "in_use(folder / '0-a-pipe.jsonl'))")
    done = subprocess.run([sys.executable, "-c", look], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["None", "sm1-run.jsonl", "False"], done.stdout


async def test_a_commands_last_line_before_it_goes_quiet_reaches_the_journal(
        tmp_path: Path) -> None:
    """Output is journalled in batches, and a batch was written only as the
    next line came: a line printed before minutes of silence (a schema import,
    a start that hangs), often the one that says why, was lost to a kill -9
    (code review, stop 48). It is written within a moment all the same."""
    import asyncio

    from runbook.run_context import _OutputBuffer

    journal = Journal(tmp_path / "run.jsonl")
    try:
        buffer = _OutputBuffer(journal, "schema")
        buffer.add("out", "first")
        buffer.add("out", "importing cluster.sql into the new database")
        await asyncio.sleep(1.5)  # the command goes quiet; nothing more comes
        written = [record for record in read(tmp_path / "run.jsonl")
                   if record["event"] == "output"]
    finally:
        journal.close()
    assert [line for record in written for _, line in record["lines"]] == [
        "first", "importing cluster.sql into the new database"], written


def test_a_path_that_is_not_utf8_is_journalled_not_raised(tmp_path: Path) -> None:
    """Review 57a, F4: a config path given with bytes that are not UTF-8 reaches
    the journal as a lone surrogate (how Python decodes argv); writing it raised
    UnicodeEncodeError, not JournalWriteError, past every handler of a write.
    It is journalled as a JSON escape and reads back as it was given."""
    journal = Journal(tmp_path / "run.jsonl")
    journal.write("note", text="/etc/caf\udce9.toml")
    journal.close()
    line = (tmp_path / "run.jsonl").read_bytes()
    line.decode("utf-8")  # the journal stays UTF-8
    assert json.loads(line)["text"] == "/etc/caf\udce9.toml"


def test_a_journal_removed_under_its_run_stops_it_and_is_put_back(tmp_path: Path) -> None:
    """Operator trial 59, F9: the journal removed during a run, and the run
    went on into the cutover writing into the removed file; afterwards
    nothing could resume it or take the way back. The next record that comes
    before a change stops the run, as a full disk does, and what the run had
    recorded goes back at its path, for --resume and rollback to read."""
    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write(Record.RUN_START)
    journal.write(Record.OUTPUT, step="upload", lines=[["out", "sent"]])
    path.unlink()
    with pytest.raises(JournalWriteError) as raised:
        journal.write(Record.ACTION_START, step="upload", n=1)
    message = str(raised.value)
    assert str(path) in message and "removed" in message, message
    assert "stopped rather than act unrecorded" in message and "\n" not in message, message
    # Ending with the run's end, which says why (trial 60, F10).
    assert [r["event"] for r in read(path)] == ["run-start", "output", "run-end"]
    with pytest.raises(JournalWriteError):
        journal.write(Record.RUN_END, outcome="failed")
    journal.close()
    assert [r["event"] for r in read(path)] == ["run-start", "output", "run-end"]


def test_a_journal_replaced_under_its_run_stops_it_and_leaves_the_new_file(
        tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write(Record.RUN_START)
    path.unlink()
    path.write_text("someone else's\n")
    with pytest.raises(JournalWriteError) as raised:
        journal.write(Record.ACTION_START, step="upload", n=1)
    message = str(raised.value)
    assert str(path) in message and "replaced" in message, message
    assert "stopped rather than act unrecorded" in message, message
    journal.close()
    assert path.read_text() == "someone else's\n"
    kept = tmp_path / "run-kept.jsonl"
    assert str(kept) in message and [r["event"] for r in read(kept)] == ["run-start", "run-end"]


def test_headless_says_a_journal_that_fails_mid_run_once(tmp_path: Path) -> None:
    """Headless printed a journal that failed mid-run twice: once among its
    lines ("the journal failed: ..."), then again as the command's one-line
    error. The error line alone says it. The limit is half the journal a
    whole run of this config writes, so the failure lands in its steps."""
    import resource
    import signal

    def run(journal: Path, limit: int | None) -> subprocess.CompletedProcess[str]:
        def small_files() -> None:
            if limit is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        return subprocess.run(
            [sys.executable, "-m", "runbook.cli", "run", str(example_here(tmp_path)),
             "--headless", "--yes", "--journal", str(journal)],
            capture_output=True, text=True, timeout=120, cwd=ROOT, preexec_fn=small_files,
            env={**os.environ, "SM_API_TOKEN": "not-a-real-token",
                 "XDG_STATE_HOME": str(tmp_path)})

    whole = tmp_path / "whole.jsonl"
    run(whole, None)
    journal = tmp_path / "run.jsonl"
    result = run(journal, whole.stat().st_size // 2)
    said = result.stdout + result.stderr
    assert result.returncode == 1, said
    assert "steps done or skipped" in result.stdout, "the run's own lines were printed"
    assert said.count("cannot write the journal") == 1, said
    assert result.stderr.startswith(f"runbook: {journal}: cannot write the journal"), said


@pytest.mark.parametrize("how", ["an older copy", "emptied", "same length"])
def test_a_journal_written_over_in_place_stops_its_run_and_is_kept_beside(
        tmp_path: Path, how: str) -> None:
    """Review 60a, F3: `cp old.jsonl run.jsonl`, an editor's save, `: >`
    write into the same file (the same inode): the run went on appending after
    an older copy, and the next reader took its cutover for one that never
    began. Stopped as for a file replaced, what the run recorded is kept
    beside it."""
    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write(Record.RUN_START)
    older = path.read_bytes()
    journal.write(Record.CUTOVER_START, step="delete-nodegroups",
                  began="2026-12-07T04:25:41.000+00:00")
    journal.write(Record.OUTPUT, step="delete-nodegroups", lines=[["out", "sent"]])
    ours = path.read_bytes()
    if how == "an older copy":
        shutil.copyfile(_older(tmp_path, older), path)  # opens it with O_TRUNC, as cp does
        put = older
    elif how == "emptied":
        path.write_bytes(b"")
        put = b""
    else:
        put = ours[:-2] + b"x\n"
        path.write_bytes(put)
    journal.write(Record.OUTPUT, step="delete-nodegroups", lines=[["out", "after"]])
    with pytest.raises(JournalWriteError) as raised:
        journal.write(Record.ACTION_START, step="delete-nodegroups", n=2)
    message = str(raised.value)
    assert str(path) in message and "written over" in message, message
    assert "stopped rather than act unrecorded" in message and "\n" not in message, message
    journal.close()
    kept = tmp_path / "run-kept.jsonl"
    assert str(kept) in message, message
    assert [r["event"] for r in read(kept)] == ["run-start", "cutover-start", "output", "output",
                                                "run-end"]
    assert path.read_bytes().startswith(put)
    # Review 60c, F4: the exit lines read the copy, not the file at the path.
    assert journal.kept_beside == kept


def _older(folder: Path, data: bytes) -> Path:
    aside = folder / "backup.jsonl"
    aside.write_bytes(data)
    return aside


def test_a_journal_that_fails_names_the_whole_command_that_goes_on(tmp_path: Path) -> None:
    """Operator trial 60, F8: the journal removed mid-run said "go on with
    --resume --journal PATH", no command: a tired operator types `runbook run
    --resume ...` for a rehearsal. Given the command that goes on (as the
    exit lines have it), each failure names it whole."""
    path = tmp_path / "run.jsonl"
    journal = Journal(path, go_on=lambda at: f"runbook rehearse --resume --sandbox SB "
                                             f"--journal {at}")
    journal.write(Record.RUN_START)
    path.unlink()
    with pytest.raises(JournalWriteError) as raised:
        journal.write(Record.ACTION_START, step="upload", n=1)
    journal.close()
    message = str(raised.value)
    assert f"go on with runbook rehearse --resume --sandbox SB --journal {path}" in message, \
        message


def test_a_throwaway_rehearsals_journal_that_fails_offers_no_resume(tmp_path: Path) -> None:
    """Operator trial 60, F9: a throwaway rehearsal (its sandbox removed as
    it ends) whose journal failed said "make room or fix the file, then
    --resume": nothing is left to resume. It says the sandbox goes, and how
    to practise going on."""
    import resource
    import signal

    path = tmp_path / "run.jsonl"
    journal = Journal(path, go_on=lambda _at: None)
    journal.write(Record.RUN_START)
    limit = path.stat().st_size + 16
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        with pytest.raises(JournalWriteError) as raised:
            journal.write(Record.OUTPUT, step="upload", lines=[["out", "x" * 200]])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)
        journal.close()
    message = str(raised.value)
    assert "cannot write the journal" in message, message
    assert "--resume" not in message, message
    assert "--sandbox" in message and "removed" in message, message


def test_a_rehearsal_gives_its_journal_the_command_that_goes_on_or_none() -> None:
    """What `runbook rehearse` gives its journal to name (Journal's go_on): a
    lasting sandbox's resume, as its exit lines give it; a throwaway one's
    none, its host removed as it ends (trial 60, F8 and F9)."""
    import argparse
    from types import SimpleNamespace

    from runbook.cli.rehearse import Rehearsal

    def given(**options: object) -> argparse.Namespace:
        return argparse.Namespace(**{"sandbox": None, "keep": False, "headless": False,
                                     "yes": False, **options})

    host: Any = SimpleNamespace(sandbox=Path("/srv/sb"))
    throwaway = Rehearsal(given(), [])._go_on(host)
    assert throwaway(Path("/srv/j.jsonl")) is None
    lasting = Rehearsal(given(sandbox=Path("/srv/sb"), headless=True), [])._go_on(host)
    assert lasting(Path("/srv/j.jsonl")) == \
        "runbook rehearse --sandbox /srv/sb --resume --journal /srv/j.jsonl --headless"


def _a_run_whose_journal_goes(path: Path, *, how: str, actions_before: int) -> str:
    """A run with preflight done and upload begun, its journal removed (or
    replaced) before upload's next action: what the run said as it stopped."""
    journal = Journal(path)
    journal.write(Record.RUN_START, config="/srv/c.toml", host="admin@10.0.0.5:22",
                  rehearsal=False, steps=["preflight", "upload", "unpack"])
    journal.write(Record.STEP_START, step="preflight")
    journal.write(Record.STEP_END, step="preflight", state="done", elapsed_s=1.0)
    journal.write(Record.STEP_START, step="upload")
    for n in range(1, actions_before + 1):
        journal.write(Record.ACTION_START, step="upload", attempt="a1", n=n, text=f"put {n}")
        journal.write(Record.ACTION_END, step="upload", attempt="a1", n=n, status="ok")
    path.unlink()
    if how == "replaced":
        path.write_text("someone else's\n")
    with pytest.raises(JournalWriteError) as raised:
        journal.write(Record.ACTION_START, step="upload", attempt="a1", n=actions_before + 1,
                      text="put more")
    journal.close()
    return str(raised.value)


@pytest.mark.parametrize("how", ["removed", "replaced"])
@pytest.mark.parametrize("actions_before", [0, 1])
def test_a_run_stopped_by_its_journal_going_is_read_so_not_as_cut_off(
        tmp_path: Path, how: str, actions_before: int) -> None:
    """Operator trial 60, F10: the journal removed mid-run, the run stopped and
    kept its records (back in place, or beside), and the operator put them
    back: the next session read no run-end, called the run "cut off" (by a
    kill, a lost terminal...) and upload, whose next action never began, "in
    doubt". The records kept end with the run's end: stopped because its
    journal went, before upload's next action; upload is as it was before that
    attempt when it had done nothing, else failed part way, nothing in flight."""
    from runbook.log import log_lines
    from runbook.report import build
    from runbook.report_md import markdown

    path = tmp_path / "run.jsonl"
    _a_run_whose_journal_goes(path, how=how, actions_before=actions_before)
    if how == "replaced":
        shutil.copyfile(tmp_path / "run-kept.jsonl", path)  # the operator puts it back
    history = replay(path)
    words = {"removed": "removed", "replaced": "replaced by another file"}[how]
    assert history.outcome == "failed" and history.journal_lost == words, history
    upload = history.steps["upload"]
    assert upload.state is (StepState.PENDING if actions_before == 0 else StepState.FAILED), \
        upload
    assert not upload.in_flight, upload
    # Review 61b, F6: one rule for the replay (the resume view) and the
    # report, and it says why in both cases, before the first action too.
    assert f"journal was {words}" in upload.detail, upload.detail
    built = build(path)
    reported = next(step for step in built.steps if step.id == "upload")
    assert reported.detail == upload.detail, (reported.detail, upload.detail)
    assert reported.state == ("not reached" if actions_before == 0 else "failed"), reported
    said = " ".join(line for _, line in log_lines(path))
    assert "cut off" not in said and f"its journal was {words} during the run" in said, said
    report = markdown(built)
    assert "cut off" not in report and f"its journal was {words} during the run" in report, \
        report


@pytest.mark.parametrize(("outcome", "code"), [("done", 0), ("stopped", 3),
                                               ("rolled-back", 4)])
def test_a_journal_removed_just_before_the_runs_end_keeps_that_end(
        tmp_path: Path, outcome: str, code: int) -> None:
    """Review 61b, F5: the journal removed after a run's last step ended,
    before its run-end: the records written back ended with a made-up end,
    failed (exit 1), "stopped rather than act unrecorded", though the run
    had ended on its own, done (or stopped, or rolled back). The end written
    back is the run's own, with its exit code; the run says its journal went
    as it ended, and exits with that code."""
    from runbook.log import log_lines

    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write(Record.RUN_START, config="/srv/c.toml", host="admin@10.0.0.5:22",
                  rehearsal=False, steps=["preflight"])
    journal.write(Record.STEP_START, step="preflight")
    journal.write(Record.STEP_END, step="preflight", state="done", elapsed_s=1.0)
    path.unlink()
    with pytest.raises(JournalWriteError) as raised:
        journal.write(Record.RUN_END, outcome=outcome, exit_code=code)
    journal.close()
    said = str(raised.value)
    assert raised.value.exit_code == code, said
    assert "as the run ended" in said and "rather than act unrecorded" not in said, said
    assert "--resume" not in said, said
    end = list(read(path))[-1]
    assert end["event"] == "run-end" and end["outcome"] == outcome, end
    assert end["exit_code"] == code, end
    history = replay(path)
    assert history.outcome == outcome and history.exit_code == code, history
    assert not history.journal_lost, history
    assert "rather than act unrecorded" not in history.how_it_ended(), history.how_it_ended()
    assert history.steps["preflight"].state is StepState.DONE
    lines = " ".join(line for _, line in log_lines(path))
    assert "rather than act unrecorded" not in lines, lines


def _bytes_read() -> int:
    """What this process has read so far, by the kernel's count (rchar)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def test_the_kept_copy_is_told_by_its_beginning_not_read_whole(tmp_path: Path) -> None:
    """Review 62b, L8: each --resume and rollback looked for the copy a run
    kept by reading every *-kept*.jsonl in the folder whole, and kept copies
    of long runs build up there. Only as much of each as the journal holds
    is read to tell whether it goes on from it. By the kernel's count of the
    bytes read, not a stand-in."""
    from runbook.journal import kept_later

    journal = tmp_path / "run.jsonl"
    journal.write_text('{"event": "run-start"}\n')
    ours = journal.read_bytes()
    rest = b'{"event": "note", "text": "' + b"x" * (8 << 20) + b'"}\n'
    (tmp_path / "run-kept.jsonl").write_bytes(ours + rest)
    (tmp_path / "other-kept.jsonl").write_bytes(b'{"event": "other"}\n' + rest)
    before = _bytes_read()
    found = kept_later(journal)
    read = _bytes_read() - before
    assert found == tmp_path / "run-kept.jsonl"
    assert read < 1 << 20, f"{read} bytes read to find the kept copy"
