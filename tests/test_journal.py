"""The journal: append-only, one JSON record per line, replayable after a crash."""

from __future__ import annotations

import json
from pathlib import Path

from runbook.journal import Journal, replay
from runbook.model import StepState


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
