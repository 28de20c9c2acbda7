"""`runbook report` and `runbook log`: the record of a run, read from its journal.

Two real rehearsals feed most of these tests: one that upgrades the fake host
and one that fails (upload skipped with a reason, so unpack finds no zip).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import javaproperties
import pytest

from runbook.curl import api_path
from runbook.executor import Answer, Decision, Outcome, Recovery
from runbook.journal import Journal
from runbook.journal_replay import replay
from runbook.log import log_lines
from runbook.redact import is_secret_key
from runbook.rehearsal import cloud
from runbook.rehearsal.host import RehearsalHost
from runbook.report import Report, build
from runbook.report_html import html
from runbook.report_md import markdown
from tests.rehearsal import rehearsal_host, rehearse
from tests.scripted import ScriptedFrontEnd
from tests.test_faults import Operator, faulted, with_timeouts

ROOT = Path(__file__).parents[1]
PROPS = "webapps/streammanager/WEB-INF/red5-web.properties"
SKIP_REASON = "copied by hand <before> the window"
# Stands in for the cloud settings a real launch config body holds.
BODY_MARKER = "lc-body-7f3a9e-cloud-setting"


@dataclass
class Rehearsed:
    journal: Path
    outcome: Outcome
    secrets: list[str]
    records: list[dict]

    def notes(self, kind: str) -> list[dict]:
        return [r for r in self.records if r["event"] == "note" and r["kind"] == kind]

    def facts(self) -> dict:
        found: dict = {}
        for record in self.records:
            if record["event"] == "facts":
                found.update(record["facts"])
        return found


def live_secrets(host: RehearsalHost) -> list[str]:
    """Every secret of the live red5-web.properties, and the API token."""
    live = javaproperties.loads((host.install_dir / "red5pro" / PROPS).read_text())
    found = [v for k, v in live.items() if is_secret_key(k) and len(v) >= 6]
    assert found, "the live properties must hold secrets for this test to mean anything"
    return [*found, host.api_token]


def records(journal: Path) -> list[dict]:
    return [json.loads(line) for line in journal.read_text().splitlines()]


def _rehearse(tmp: Path, answers: dict[str, Decision] | None = None) -> Rehearsed:
    journal = tmp / "runs" / "run.jsonl"

    async def go() -> Rehearsed:
        async with rehearsal_host(tmp) as host:
            secrets = live_secrets(host)
            outcome = await rehearse(host, ScriptedFrontEnd(answers), journal)
        return Rehearsed(journal, outcome, secrets, records(journal))

    return asyncio.run(go())


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> Rehearsed:
    run = _rehearse(tmp_path_factory.mktemp("upgraded"))
    assert run.outcome is Outcome.DONE, [r for r in run.records if r["event"] == "step-end"]
    # What a real launch config carries (cloud settings) must stay in the snapshot.
    snapshot = Path(run.facts()["snapshot"])
    data = json.loads(snapshot.read_text())
    for body in data["launchconfigs"].values():
        body.setdefault("properties", {}).setdefault("property", []).append(
            {"name": "aws.instanceSecret", "value": BODY_MARKER})
    snapshot.write_text(json.dumps(data))
    # An earlier rehearsal beside the journal: its cutover is the estimate.
    earlier = Journal(run.journal.parent / "earlier.jsonl")
    # At the pace of this one: any other's time would say nothing of it.
    earlier.write("run-start", config="rehearsal.toml", host="x@127.0.0.1:1", rehearsal=True,
                  pace=run.records[0]["pace"], scenario=run.records[0]["scenario"])
    earlier.write("cutover-end", complete=True, downtime_s=42.5)
    earlier.write("run-end", outcome="done", exit_code=0)
    earlier.close()
    os.utime(run.journal.parent / "earlier.jsonl", (1, 1))  # older than the run
    return run


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> Rehearsed:
    run = _rehearse(tmp_path_factory.mktemp("failed"),
                    {"upload": Decision(Answer.SKIP, SKIP_REASON)})
    assert run.outcome is not Outcome.DONE
    return run


def report_of(run: Rehearsed) -> str:
    return markdown(build(run.journal, estimate_from=[run.journal.parent]))


def plain(text: str) -> str:
    """Markdown text with its backslash escapes undone: what a reader sees."""
    return re.sub(r"\\(.)", r"\1", text)


def section(text: str, title: str) -> str:
    """The Markdown section under `## title`, up to the next one."""
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert found, f"no section {title!r} in:\n{text[:3000]}"
    return found.group(1)


def in_both(report: Report, title: str) -> tuple[str, str]:
    """The section `title` of the report in Markdown and in HTML."""
    return (section(markdown(report), title),
            html(report).split(f"<h2>{title}</h2>")[1].split("<h2>")[0])


# --- the report ------------------------------------------------------------------------


def test_the_report_names_who_ran_what_against_which_host(upgraded: Rehearsed) -> None:
    text = report_of(upgraded)
    start = next(r for r in upgraded.records if r["event"] == "run-start")
    connected = next(r for r in upgraded.records if r["event"] == "connected")
    facts = upgraded.facts()
    head = plain(text.split("\n## ", 1)[0])
    assert getpass.getuser() in head
    assert start["host"] in head and connected["fingerprint"] in head
    assert "rehearsal.toml" in head
    assert f"{facts['live_version']} → {facts['new_version']}" in head
    assert f"{facts['api_version']} → {facts['new_api_version']}" in head
    answered = upgraded.notes("service-answered")[0]["text"]
    assert answered.split(" (")[0] in head
    assert "done" in head.splitlines()[0]
    # Start and end as the journal has them (to the second, UTC).
    assert start["ts"][:19].replace("T", " ") in head
    assert upgraded.records[-1]["ts"][:19].replace("T", " ") in head


def test_downtime_is_set_against_the_last_rehearsal(upgraded: Rehearsed) -> None:
    downtime = section(report_of(upgraded), "Downtime")
    began = next(r for r in upgraded.records if r["event"] == "cutover-start")
    ended = next(r for r in upgraded.records if r["event"] == "cutover-end")
    # The start is the host's record of it, which the cutover-start record carries.
    assert began["began"][11:19] in downtime and ended["ts"][11:19] in downtime
    assert f"{ended['downtime_s']:.1f}s" in downtime
    assert "42.5s" in downtime and "earlier.jsonl" in downtime


def test_a_rehearsal_records_the_pace_its_host_ran_at(upgraded: Rehearsed) -> None:
    """conftest sets the fake cloud's pace for the whole session."""
    assert upgraded.records[0]["pace"] == cloud.parse_pace(os.environ[cloud.PACE_ENV])
    assert build(upgraded.journal, estimate_from=[]).pace == upgraded.records[0]["pace"]


def test_every_step_has_its_times_outcome_and_detail(upgraded: Rehearsed) -> None:
    steps = section(report_of(upgraded), "Steps")
    ends = {r["step"]: r for r in upgraded.records if r["event"] == "step-end"}
    starts = {r["step"]: r for r in upgraded.records if r["event"] == "step-start"}
    start = next(r for r in upgraded.records if r["event"] == "run-start")
    for number, step in enumerate(start["steps"], start=1):
        row = next(line for line in steps.splitlines() if f"| `{step}` |" in line)
        assert row.startswith(f"| {number} |")
        assert "| done |" in row
        assert ends[step]["ts"][11:19] in row and starts[step]["ts"][11:19] in row
        assert ends[step]["detail"][:30] in plain(row)


def test_commands_and_api_calls_are_listed_as_run(upgraded: Rehearsed) -> None:
    commands = section(report_of(upgraded), "Commands and API calls")
    for record in upgraded.records:
        if record["event"] == "action-start":
            first = record["text"].splitlines()[0]
            if "/configurations/launchconfig" in first and " -d " in first:
                first = first.split(" -d ")[0]  # the body is cloud settings: not shown
            assert first in commands
    assert "-X DELETE" in commands and '"$SM_API_TOKEN"' in commands


def test_the_commands_section_says_what_it_leaves_out(upgraded: Rehearsed) -> None:
    """The read-only looks (probes) are not journalled: a report that says it
    lists the run's commands "as run" must not let the reader think it is all."""
    probes = ("systemctl is-active red5pro", "sha256sum")
    commands = section(report_of(upgraded), "Commands and API calls")
    assert not any(probe in commands for probe in probes)  # what the claim is about
    page = " ".join(html(build(upgraded.journal, estimate_from=[])).split())
    for text in (" ".join(commands.split()), page):
        assert "read-only looks" in text and "are not recorded, so not listed" in text
        # Review: the API's and the database's reads are not journalled either.
        assert "API and database reads" in text


def test_a_fleet_whose_snapshot_is_gone_has_no_counts_before(upgraded: Rehearsed) -> None:
    """Operator trial: reported after a throwaway rehearsal (its snapshot went
    with the sandbox), the table's total said 0 origins and 0 nodes before,
    as if there had been none."""
    snapshot = Path(upgraded.facts()["snapshot"])
    aside = snapshot.with_name(snapshot.name + ".aside")
    snapshot.rename(aside)
    try:
        report = build(upgraded.journal, estimate_from=[])
    finally:
        aside.rename(snapshot)
    assert report.fleet.problem
    fleet = plain(section(markdown(report), "Nodegroups and origins"))
    total = next(line for line in fleet.splitlines() if line.startswith("| **total**"))
    assert total.split(" | ")[4:6] == ["?", "?"], total
    page = html(report)
    assert "<td><b>total</b></td><td></td><td></td><td></td><td>?</td><td>?</td>" in page, \
        page[page.find("<b>total</b>") - 20:][:200]


def test_no_snapshot_and_nothing_recreated_is_not_no_nodegroups(tmp_path: Path) -> None:
    """Without the snapshot the report cannot say there were no nodegroups."""
    journal = Journal(tmp_path / "run.jsonl")
    journal.write("run-start", config="c.toml", host="u@h:22", rehearsal=False,
                  steps=["preflight"], resumed=False)
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    report = build(journal.path, estimate_from=[])
    assert report.fleet.problem
    for text in (plain(markdown(report)), html(report)):
        assert "No nodegroups before" not in text
        assert "the nodegroups before are not known" in text


def test_warnings_properties_and_fleet(upgraded: Rehearsed) -> None:
    text = report_of(upgraded)
    warnings = plain(section(text, "Warnings"))
    for note in upgraded.records:
        if note["event"] == "note" and note["text"].startswith("warning"):
            assert note["text"].splitlines()[0][:60] in warnings

    decisions = section(text, "Properties decisions")
    assert "config.dbHost = " in decisions and "[decided: set]" in decisions
    # Trial 55 F11: what the merged file leaves out is counted where the
    # ticket's reader looks, not only in the removed group.
    assert ("1 key only the live file has will be left out of the merged file: "
            "instancecontroller.recycleDeadNodes") in decisions, decisions

    fleet = plain(section(text, "Nodegroups and origins"))
    recreated = upgraded.notes("nodegroup-recreated")
    assert recreated
    for note in recreated:
        row = next(line for line in fleet.splitlines() if note["old"] in line)
        assert note["new"] in row and note["launch_config"] in row
        assert ", ".join(note["regions"]) in row
    snapshot = json.loads(Path(upgraded.facts()["snapshot"]).read_text())
    for name in snapshot["launchconfigs"]:
        assert name in fleet


def _leaves(value: object) -> list[str]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value] if isinstance(value, str) else []


def test_secrets_and_launch_config_bodies_never_reach_the_report(upgraded: Rehearsed) -> None:
    report = build(upgraded.journal, estimate_from=[upgraded.journal.parent])
    snapshot = json.loads(Path(upgraded.facts()["snapshot"]).read_text())
    # The bodies' own words (an image, a description), as the recreate call sent them.
    bodies = [leaf for name, body in snapshot["launchconfigs"].items()
              for leaf in _leaves(body) if len(leaf) >= 12 and leaf != name]
    assert bodies and any(b in upgraded.journal.read_text() for b in bodies)
    for text in (markdown(report), html(report)):
        for secret in upgraded.secrets:
            assert secret not in text
        for leaf in bodies:
            assert leaf not in text
        assert "body not shown" in text


def test_a_failed_run_shows_the_failed_steps_output_and_skip_reasons(failed: Rehearsed) -> None:
    text = report_of(failed)
    assert failed.records[-1]["outcome"] in text.splitlines()[0]
    end = next(r for r in failed.records if r["event"] == "step-end" and r["state"] == "failed")
    lines = [line for r in failed.records if r["event"] == "output" and r["step"] == end["step"]
             for _stream, line in r["lines"]]
    assert lines, "the failed step must have said something"
    output = section(text, "Output of failed steps")
    assert f"`{end['step']}`" in output
    for line in lines:
        assert line in output
    # Only the failed step's lines: preflight's are not there.
    assert "live install:" not in output
    assert SKIP_REASON in plain(section(text, "Skipped steps"))
    last = next(line for line in section(text, "Steps").splitlines() if "| `recreate` |" in line)
    assert "| not reached |" in last
    html_text = html(build(failed.journal, estimate_from=[]))
    assert "copied by hand &lt;before&gt; the window" in html_text
    for secret in failed.secrets:
        assert secret not in text and secret not in html_text


def test_the_html_is_self_contained_and_escapes_everything(
    upgraded: Rehearsed, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    journal.write_bytes(upgraded.journal.read_bytes())
    with journal.open("a") as more:
        more.write(json.dumps({"ts": "2026-01-01T00:00:00.000+00:00", "event": "note",
                               "step": "recreate", "kind": "x",
                               "text": "warning: <script>alert(1)</script> & "
                                       '<img src="https://example.com/x.png">'}) + "\n")
    page = html(build(journal, estimate_from=[]))
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in page
    assert "&lt;img src=&quot;https://example.com/x.png&quot;&gt;" in page


# --- on the command line ---------------------------------------------------------------


def runbook(*args: str, state: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "XDG_STATE_HOME": str(state)}
    return subprocess.run([sys.executable, "-m", "runbook.cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=60, cwd=ROOT, env=environ)


def test_report_reads_the_newest_journal_of_the_state_dir(
    upgraded: Rehearsed, failed: Rehearsed, tmp_path: Path
) -> None:
    folder = tmp_path / "runbook"
    folder.mkdir()
    (folder / "old.jsonl").write_bytes(failed.journal.read_bytes())
    os.utime(folder / "old.jsonl", (1, 1))
    (folder / "new.jsonl").write_bytes(upgraded.journal.read_bytes())
    # Newer still, and empty: claimed by a run that has written nothing yet.
    (folder / "starting.jsonl").write_bytes(b"")
    os.utime(folder / "starting.jsonl", (time.time() + 60, time.time() + 60))
    result = runbook("report", state=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# ") and "done" in result.stdout.splitlines()[0]
    assert str(folder / "new.jsonl") in result.stdout

    out = tmp_path / "report.html"
    result = runbook("report", str(folder / "old.jsonl"), "--html", "--out", str(out),
                     state=tmp_path)
    assert result.returncode == 0 and result.stdout == "", result.stderr
    assert out.read_text().startswith("<!DOCTYPE html>") and "failed" in out.read_text()


def test_log_shows_every_line_with_its_step(upgraded: Rehearsed, tmp_path: Path) -> None:
    result = runbook("log", str(upgraded.journal), state=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = iter(result.stdout.splitlines())
    said = [f"[{r['step']}] {line}" for r in upgraded.records if r["event"] == "output"
            for _stream, line in r["lines"]]
    # Every line the steps printed, in order (commands and notes between them).
    assert all(line in lines for line in said)
    assert all(re.match(r"\[[a-z-]+\] ", line) for line in result.stdout.splitlines())

    only = runbook("log", str(upgraded.journal), "--step", "upload", state=tmp_path)
    assert only.returncode == 0 and only.stdout
    # Then how the run ended, which --step keeps as the README says (trial, stop 48).
    *upload, end = only.stdout.splitlines()
    assert all(line.startswith("[upload] ") for line in upload), upload
    assert end.startswith("[runbook] done "), end

    # How each step ended is a line the run showed too: a step's log that ends
    # on its last command (`kill -9 ...`) does not say what came of it.
    ended = [f"[{r['step']}] {r['state']}: {r['detail']}" for r in upgraded.records
             if r["event"] == "step-end" and r.get("detail")]
    assert ended and all(line in result.stdout.splitlines() for line in ended)
    stop = runbook("log", str(upgraded.journal), "--step", "stop-service", state=tmp_path)
    assert stop.stdout.splitlines()[-2] == (
        "[stop-service] done: no java process of the old install remains")


def test_log_grep_finds_a_line_with_its_step(upgraded: Rehearsed, tmp_path: Path) -> None:
    result = runbook("log", str(upgraded.journal), "--grep", "SHA256 ", state=tmp_path)
    assert result.returncode == 0, result.stderr
    found = result.stdout.splitlines()
    assert found and all("sha256 " in line.lower() for line in found)
    assert any(line.startswith("[upload] ") and line.endswith(" matches") for line in found)
    none = runbook("log", str(upgraded.journal), "--grep", "no such line anywhere",
                   state=tmp_path)
    assert none.returncode == 0 and none.stdout == ""


def test_a_result_of_several_lines_is_several_log_lines(tmp_path: Path) -> None:
    """A failure's detail can hold an API's stack trace; as one entry, `runbook
    log` printed its second line untagged and the TUI's full log copied the
    wrong line below it."""
    path = tmp_path / "run.jsonl"
    path.write_text(
        '{"event": "run-start", "ts": "2026-01-01T00:00:00+00:00", "steps": ["recreate"]}\n'
        '{"event": "step-end", "ts": "2026-01-01T00:00:01+00:00", "step": "recreate", '
        '"state": "failed", "detail": "the API answered 500: NPE\\n\\tat foo"}\n'
        '{"event": "run-end", "ts": "2026-01-01T00:00:02+00:00", "outcome": "failed"}\n')
    assert log_lines(path)[:2] == [("recreate", "failed: the API answered 500: NPE"),
                                   ("recreate", "\tat foo")]


def test_a_steps_result_line_says_its_state_in_words(tmp_path: Path) -> None:
    """Review: `runbook log` and the TUI's output said `in-doubt: …` and
    `needs-review: …`, the journal's tokens, where the report says words."""
    path = tmp_path / "run.jsonl"
    path.write_text(
        '{"event": "run-start", "ts": "2026-01-01T00:00:00+00:00", "steps": ["a", "b"]}\n'
        '{"event": "step-end", "ts": "2026-01-01T00:00:01+00:00", "step": "a", '
        '"state": "in-doubt", "detail": "reconnected"}\n'
        '{"event": "step-end", "ts": "2026-01-01T00:00:02+00:00", "step": "b", '
        '"state": "needs-review", "detail": "3 keys undecided"}\n'
        '{"event": "run-end", "ts": "2026-01-01T00:00:03+00:00", "outcome": "failed"}\n')
    assert log_lines(path)[:2] == [("a", "in doubt: reconnected"),
                                   ("b", "needs review: 3 keys undecided")]


def _damaged(tmp_path: Path) -> Path:
    path = tmp_path / "damaged.jsonl"
    path.write_text('{"event": "run-start", "ts": "2026-01-01T00:00:00+00:00"}\n'
                    "this is not a record\n"
                    '{"event": "run-end", "ts": "2026-01-01T00:00:01+00:00"}\n')
    return path


@pytest.mark.parametrize("command", ["report", "log"])
@pytest.mark.parametrize("which", ["damaged", "missing", "empty state dir"])
def test_a_damaged_or_missing_journal_is_one_line_and_exit_2(
    tmp_path: Path, command: str, which: str
) -> None:
    args = {"damaged": [str(_damaged(tmp_path))],
            "missing": [str(tmp_path / "nowhere.jsonl")],
            "empty state dir": []}[which]
    result = runbook(command, *args, state=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""
    if which == "damaged":
        assert "damaged.jsonl:2" in result.stderr


@pytest.mark.parametrize("cutover_start", [
    '{"event": "cutover-start", "step": "a"}',  # no time at all
    '{"event": "cutover-start", "ts": "nonsense", "step": "a"}',
    '{"event": "cutover-start", "ts": "2026-01-01T00:00:01+00:00", "step": "a", '
    '"began": "yesterday"}',
    # Read as a time, but none a clock can count from (second review, stop 46).
    '{"event": "cutover-start", "ts": "2026-01-01T00:00:01+00:00", "step": "a", '
    '"began": "0001-01-01T00:00:00"}',
])
@pytest.mark.parametrize("command", ["report", "log"])
def test_a_cutover_start_without_a_time_to_count_from_is_a_damaged_line(
        tmp_path: Path, command: str, cutover_start: str) -> None:
    """The downtime counts from a cutover's start. Without a time that reads as
    one, `runbook report` (and a resume, in its closing line) ended in a
    traceback, exit 1 (code review, stop 46): now the damaged line, named."""
    path = tmp_path / "run.jsonl"
    path.write_text('{"event": "run-start", "ts": "2026-01-01T00:00:00+00:00", '
                    '"steps": ["a"]}\n' + cutover_start + "\n")
    result = runbook(command, str(path), state=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "run.jsonl:2" in result.stderr, result.stderr


def _chatty(tmp_path: Path) -> Path:
    """A failed run whose step said a lot: far more than a pipe holds."""
    journal = Journal(tmp_path / "chatty.jsonl")
    journal.write("run-start", config="c.toml", host="u@h:22", rehearsal=False,
                  steps=["loud"], resumed=False)
    journal.write("step-start", step="loud")
    for batch in range(20):
        journal.write("output", step="loud",
                      lines=[["out", f"line {batch}-{n} " + "x" * 60] for n in range(500)])
    journal.write("step-end", step="loud", state="failed", detail="too loud", elapsed_s=1.0)
    journal.write("run-end", outcome="failed", exit_code=1)
    journal.close()
    return journal.path


@pytest.mark.parametrize("args", [["report"], ["report", "--html"], ["log"]])
def test_output_into_a_closed_pipe_ends_quietly(tmp_path: Path, args: list[str]) -> None:
    journal = _chatty(tmp_path)
    environ = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    with subprocess.Popen([sys.executable, "-m", "runbook.cli", *args, str(journal)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                          env=environ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline()
        process.stdout.close()  # `| head -1`
        error = process.stderr.read()
        code = process.wait(timeout=60)
    assert error == b""
    assert code == 141


def test_a_resumed_run_is_one_story(tmp_path: Path) -> None:
    """A resume appends to the journal: the first start, the last end, a step
    done earlier keeps its own times, and an action with no end is in doubt."""
    journal = Journal(tmp_path / "resumed.jsonl")
    start = {"config": "c.toml", "host": "u@h:22", "rehearsal": False,
             "steps": ["one", "two"]}
    journal.write("run-start", **start, resumed=False)
    journal.write("step-start", step="one")
    journal.write("step-end", step="one", state="done", detail="did one", elapsed_s=1.5)
    journal.write("step-start", step="two")
    journal.write("action-start", step="two", attempt="a", n=1, kind="shell", text="$ cut off")
    journal.write("run-start", **start, resumed=True)
    journal.write("step-end", step="one", state="done", detail="done in the earlier run",
                  elapsed_s=None, already=True)
    journal.write("confirm", step="two", answer="stop", reason="")
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    report = build(journal.path, estimate_from=[])
    one, two = report.steps
    assert (one.state, one.detail, one.elapsed_s) == ("done", "did one", 1.5)
    assert two.state == "in-doubt" and two.actions[0].status is None
    assert report.runs == 2 and report.outcome == "stopped"
    text = markdown(report)
    assert "resumed 1 time(s)" in text and "no end recorded (in doubt)" in text
    # Said in words, as the TUI says it; the report keeps the journal's token
    # only as the HTML class its colour hangs on.
    assert "### `two`: in doubt" in text and "in-doubt" not in text
    page = html(report)
    assert '<span class="in-doubt">in doubt</span>' in page
    assert ">in-doubt<" not in page


def test_a_rolled_back_run_is_said_in_words_in_the_title_and_the_summary(
    tmp_path: Path
) -> None:
    """Operator trial: the change ticket's title read `... - rolled-back`, the
    journal's token. The journal keeps its token (old journals still read);
    the report says it as the TUI and the exit line do."""
    journal = Journal(tmp_path / "run.jsonl")
    journal.write("run-start", config="c.toml", host="u@h:22", rehearsal=False,
                  steps=["delete-nodegroups"], resumed=False)
    journal.write("run-end", outcome="rolled-back", exit_code=4)
    journal.close()
    report = build(journal.path, estimate_from=[])
    assert report.outcome == "rolled-back"
    text = plain(markdown(report))
    assert text.startswith("# Stream Manager upgrade: u@h:22 - rolled back\n"), text[:200]
    assert "| Outcome | rolled back (exit 4) |" in text, text
    page = html(report)
    assert "<title>Stream Manager upgrade: u@h:22 - rolled back</title>" in page
    assert "<h1>Stream Manager upgrade: u@h:22 - rolled back</h1>" in page
    assert "<th>Outcome</th><td>rolled back (exit 4)</td>" in page
    assert "rolled-back" not in text and "rolled-back" not in page


def test_report_and_log_find_a_rehearsal_when_it_is_the_newest_run(
    upgraded: Rehearsed, tmp_path: Path
) -> None:
    """`runbook rehearse` keeps its journals in rehearsals/ of the state dir;
    right after one, `runbook report` with no journal must read it."""
    folder = tmp_path / "runbook" / "rehearsals"
    folder.mkdir(parents=True)
    (folder / "rehearsed.jsonl").write_bytes(upgraded.journal.read_bytes())
    for command in ("report", "log"):
        result = runbook(command, state=tmp_path)
        assert result.returncode == 0, result.stderr
    assert str(folder / "rehearsed.jsonl") in runbook("report", state=tmp_path).stdout


def test_the_estimate_is_an_earlier_finished_cutover_not_a_later_run_or_a_way_back(
    upgraded: Rehearsed, tmp_path: Path
) -> None:
    """A report made later must say what it said at the time: a run finished
    after this one started is no estimate for it, nor is a rollback's time."""
    import time as clock

    from runbook.report import downtime_estimate

    run = tmp_path / "run.jsonl"
    run.write_bytes(upgraded.journal.read_bytes())
    started = datetime.fromisoformat(upgraded.records[0]["ts"]).timestamp()
    pace = upgraded.records[0]["pace"]

    def journal(name: str, outcome: str, downtime: float, mtime: float) -> None:
        written = Journal(tmp_path / name)
        written.write("run-start", config="rehearsal.toml", host="x@127.0.0.1:1",
                      rehearsal=True, pace=pace)
        written.write("cutover-end", complete=True, downtime_s=downtime)
        written.write("run-end", outcome=outcome, exit_code=0)
        written.close()
        os.utime(tmp_path / name, (mtime, mtime))

    journal("before.jsonl", "done", 42.5, started - 3600)
    journal("rolled-back.jsonl", "rolled-back", 9.3, started - 60)
    journal("after.jsonl", "done", 7.0, clock.time())
    assert downtime_estimate(run, [tmp_path], pace=pace) == (42.5, tmp_path / "before.jsonl")


# --- a failure the run came back from ----------------------------------------------------


def _row(text: str, step: str) -> str:
    """The steps table's row of `step`, as a reader sees it."""
    return plain(next(line for line in section(text, "Steps").splitlines()
                      if f"| `{step}` |" in line))


async def _api_answers(host: RehearsalHost, version: str, within: float = 60.0) -> None:
    """Until the stream manager answers on API `version`, as the step's check asks."""
    url = host.api_base_url + api_path("admin/debug/cloudcontroller", version)
    deadline = asyncio.get_running_loop().time() + within
    async with httpx.AsyncClient() as client:
        while True:
            try:
                answer = await client.get(url, params={"accessToken": host.api_token})
                if answer.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert asyncio.get_running_loop().time() < deadline, f"{url} never answered"
            await asyncio.sleep(0.5)


def test_a_failure_before_a_resume_stays_in_the_report(tmp_path: Path) -> None:
    """Operator trial: `--fault slow-start`; start-service gave up, the operator
    stopped, resumed, and the step's check found it done. The report said
    `done | already done: ...` and "No step failed.", leaving the downtime
    unexplained; only `runbook log` showed the failure."""
    journal = tmp_path / "runs" / "run.jsonl"

    async def go() -> tuple[Outcome, Outcome]:
        async with rehearsal_host(tmp_path, unit_wait=False) as host:
            settings = with_timeouts(host, service_start=4)
            first = await faulted(host, ["slow-start"], Operator(), journal, settings)
            # The slow service comes up after all, as in the trial, before the resume.
            await _api_answers(host, host.scenario.new.api)
            again = await rehearse(host, ScriptedFrontEnd(), journal, settings,
                                   resume=replay(journal))
        return first, again

    first, again = asyncio.run(go())
    assert first is Outcome.FAILED and again is Outcome.DONE, (first, again)
    written = records(journal)
    failure = next(r for r in written if r["event"] == "step-end"
                   and r["step"] == "start-service" and r["state"] == "failed")
    assert "gave up after waiting for the Stream Manager API" in failure["detail"]
    said = [line for r in written[:written.index(failure)]
            if r["event"] == "output" and r["step"] == "start-service"
            for _stream, line in r["lines"]]
    assert said, "the failed attempt printed something"

    report = build(journal, estimate_from=[])
    text = markdown(report)
    row = _row(text, "start-service")
    assert "| done (failed once, then found done on resume) |" in row, row
    output = plain(section(text, "Output of failed steps"))
    assert "No step failed." not in output
    assert "### `start-service`: recovered" in output, output
    assert failure["detail"].split("\n")[0] in output
    for line in said:
        assert line in output
    # The downtime it cost is explained where the downtime is.
    downtime = plain(section(text, "Downtime"))
    assert "`start-service` (failed once, then found done on resume)" in downtime, downtime
    page = html(report)
    assert "done (failed once, then found done on resume)" in page
    assert "gave up after waiting for the Stream Manager API" in page
    assert "No step failed." not in page
    assert "<code>start-service</code> (failed once, then found done on resume)" in page


def _journal(tmp_path: Path, name: str = "run.jsonl", *, rehearsal: bool = False,
             pace: float | None = None, steps: list[str] | None = None) -> Journal:
    journal = Journal(tmp_path / name)
    paced = {} if pace is None else {"pace": pace}
    journal.write("run-start", config="c.toml", host="u@h:22", rehearsal=rehearsal, **paced,
                  steps=steps or ["one", "two"], resumed=False)
    return journal


def test_a_run_cut_off_mid_cutover_says_how_long_it_was_down_at_least(tmp_path: Path) -> None:
    """Operator trial: killed with -9 after promote-new, the report read "the
    stream manager was still down, - after it began", and its downtime row
    had no figure at all. The journal's last record is as far as it knows."""
    journal = _journal(tmp_path, steps=["backup-live", "promote-new"])
    journal.write("cutover-start", step="backup-live")
    journal.write("step-start", step="backup-live")
    journal.write("step-end", step="backup-live", state="done", detail="moved")
    journal.write("step-start", step="promote-new")
    journal.close()
    records = [json.loads(line) for line in journal.path.read_text().splitlines()]
    began = datetime.fromisoformat(records[1]["ts"])
    records[-1]["ts"] = began.replace(second=(began.second + 12) % 60,
                                      minute=began.minute + (began.second + 12) // 60
                                      ).isoformat(timespec="milliseconds")
    journal.path.write_text("".join(json.dumps(record) + "\n" for record in records))
    report = build(journal.path, estimate_from=[])
    for text in (plain(section(markdown(report), "Downtime")),
                 html(report).split("<h2>Downtime</h2>")[1].split("<h2>")[0]):
        said = " ".join(text.split())
        assert " - after" not in said, said
        assert "at least 12.0s" in said, said
        assert "cut off" in said, said


def test_a_run_that_ended_with_the_service_down_gives_no_end_to_the_downtime(
        tmp_path: Path) -> None:
    """Operator trial: a run stopped mid-cutover (SIGHUP) reported its downtime
    as "ended 18:43:44, took 1 min 07 s" over the sentence saying the stream
    manager was still down: a change ticket would have recorded an outage
    that went on as over."""
    journal = _journal(tmp_path, steps=["backup-live", "promote-new"])
    journal.write("cutover-start", step="backup-live")
    journal.write("step-start", step="backup-live")
    journal.write("step-end", step="backup-live", state="done", detail="moved")
    journal.write("cutover-end", complete=False, downtime_s=67.0)
    journal.write("run-end", outcome="stopped", exit_code=129)
    journal.close()
    report = build(journal.path, estimate_from=[])
    for text in in_both(report, "Downtime"):
        row = next(line for line in re.split(r"\n|<tr>", text) if "this run" in line)
        cells = [c.strip() for c in re.split(r"\||</?t[dh]>", plain(row)) if c.strip()]
        assert cells[2:4] == ["-", "at least 1m07s"], cells
        assert "still down" in " ".join(plain(text).split())


def test_a_failed_steps_output_keeps_what_it_noted(tmp_path: Path) -> None:
    """Operator trial: recreate, cut off, showed only its "rebuilding" lines
    under Output of failed steps; the origins it had launched, which the
    screen and `runbook log` showed, were left out of the ticket."""
    journal = _journal(tmp_path, steps=["recreate"])
    journal.write("step-start", step="recreate")
    journal.write("output", step="recreate", lines=[["info", "rebuilding group-a"]])
    journal.write("note", step="recreate", kind="note",
                  text="group-a -> group-b: 1 origin(s) launched")
    journal.write("output", step="recreate", lines=[["info", "rebuilding group-c"]])
    journal.write("step-end", step="recreate", state="failed", detail="the API went away")
    journal.write("run-end", outcome="failed", exit_code=1)
    journal.close()
    report = build(journal.path, estimate_from=[])
    for text in in_both(report, "Output of failed steps"):
        said = plain(text)
        assert said.index("rebuilding group-a") < said.index("1 origin(s) launched") \
            < said.index("rebuilding group-c"), said


def test_a_journal_record_torn_at_its_end_is_named_not_dropped_in_silence(
        tmp_path: Path) -> None:
    """Operator trial: a journal whose last record was cut mid-write (a kill
    while writing) was reported and logged, exit 0, with no word of the
    record left out: the host may have gone one action further."""
    from runbook.log import log_lines

    journal = _journal(tmp_path, steps=["backup-live"])
    journal.write("step-start", step="backup-live")
    journal.close()
    with journal.path.open("ab") as file:
        file.write(b'{"ts": "2026-01-01T00:00:09+00:00", "event": "action-start", "st')
    report = build(journal.path, estimate_from=[])
    for text in in_both(report, "Warnings"):
        assert "cut off" in plain(text) and "last record" in plain(text), text
    said = [line for _step, line in log_lines(journal.path)]
    assert any("last record" in line and "cut off" in line for line in said), said
    # Trial 59, F3: a full disk cuts a record short too, not only a crash.
    assert any("the disk filled" in line for line in said), said
    from runbook.journal import Journal

    reopened = Journal(journal.path)
    reopened.close()
    assert reopened.repaired is not None and "the disk filled" in reopened.repaired, \
        reopened.repaired


def test_a_note_of_the_properties_step_is_reported_once(tmp_path: Path) -> None:
    """Review: with notes among a step's lines, the properties section, which
    added the notes itself, would print each twice."""
    journal = _journal(tmp_path, steps=["properties"])
    journal.write("step-start", step="properties")
    journal.write("note", step="properties", kind="note", text="3 keys carried over")
    journal.write("step-end", step="properties", state="done", detail="written")
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    report = build(journal.path, estimate_from=[])
    for text in in_both(report, "Properties decisions"):
        assert plain(text).count("3 keys carried over") == 1, text


def test_a_lost_connection_is_on_the_record(tmp_path: Path) -> None:
    """Operator trial: the SSH connection dropped mid-cutover and the run
    reconnected; the report said nothing of it (Warnings: None), and the
    ticket read as a quiet night."""
    journal = _journal(tmp_path, steps=["backup-live"])
    journal.write("step-start", step="backup-live")
    journal.write("reconnecting", host="u@h:22", attempt=1, wait_s=0.0,
                  reason="ConnectionLost")
    journal.write("reconnecting", host="u@h:22", attempt=2, wait_s=1.0,
                  reason="ConnectionRefusedError")
    journal.write("connected", host="u@h:22", fingerprint="SHA256:x")
    journal.write("step-end", step="backup-live", state="done", detail="moved")
    journal.close()
    report = build(journal.path, estimate_from=[])
    for text in (plain(section(markdown(report), "On the record")),
                 html(report)):
        said = " ".join(text.split())
        assert said.count("the SSH connection to u@h:22 was lost") == 1, said
        assert "ConnectionLost" in said, said


def test_a_step_that_failed_and_was_retried_in_the_same_run_says_so(tmp_path: Path) -> None:
    """The same fault in one sitting: failed, tried again, done."""
    journal = _journal(tmp_path)
    journal.write("step-start", step="one")
    journal.write("output", step="one", lines=[["err", "first try: connection refused"]])
    journal.write("step-end", step="one", state="failed", detail="the API did not answer",
                  elapsed_s=2.0)
    journal.write("output", step="one", lines=[["info", "trying again: its check looks first"]])
    journal.write("step-start", step="one")
    journal.write("output", step="one", lines=[["out", "second try: up"]])
    journal.write("step-end", step="one", state="done", detail="API answers", elapsed_s=3.5)
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    text = markdown(build(journal.path, estimate_from=[]))
    assert "| done (failed once, then done on retry) |" in _row(text, "one")
    output = plain(section(text, "Output of failed steps"))
    assert "the API did not answer" in output and "first try: connection refused" in output
    # The attempt that worked is not a failure's output.
    assert "second try: up" not in output


def test_a_step_tried_in_several_runs_has_times_that_add_up(tmp_path: Path) -> None:
    """Operator trial: `preflight | 17:29:24 | 17:30:59 | 0.4 s | ... (3 attempts)`:
    started and ended span three runs while `took` was the last attempt's."""
    journal = _journal(tmp_path, steps=["one"])
    for n, elapsed in enumerate((0.4, 0.5, 0.4)):
        if n:
            journal.write("run-start", config="c.toml", host="u@h:22", rehearsal=False,
                          steps=["one"], resumed=True)
        journal.write("step-start", step="one")
        journal.write("step-end", step="one", state="done", detail="looked", elapsed_s=elapsed)
        journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    report = build(journal.path, estimate_from=[])
    text = markdown(report)
    row = _row(text, "one")
    assert "| 1.3s (3 attempts) |" in row, row
    assert "(3 attempts)" not in row.split("|")[-2], "said once, beside the time"
    steps = " ".join(plain(section(text, "Steps")).split())
    assert "took adds up the attempts" in steps, steps
    page = " ".join(html(report).split())
    assert "1.3s (3 attempts)" in page and "took adds up the attempts" in page


# --- a run that went back ----------------------------------------------------------------


def _earlier_cutover(beside: Path, pace: float, scenario: str,
                     downtime: float = 42.5) -> Path:
    """A finished cutover at `pace` along `scenario`'s path, older than the
    run in the folder: the estimate."""
    earlier = Journal(beside / "earlier.jsonl")
    earlier.write("run-start", config="rehearsal.toml", host="x@127.0.0.1:1", rehearsal=True,
                  pace=pace, scenario=scenario)
    earlier.write("cutover-end", complete=True, downtime_s=downtime)
    earlier.write("run-end", outcome="done", exit_code=0)
    earlier.close()
    os.utime(earlier.path, (1, 1))
    return earlier.path


@pytest.fixture(scope="module")
def went_back(tmp_path_factory: pytest.TempPathFactory) -> Rehearsed:
    """`runbook rehearse --rollback-after recreate`: the new release served, then
    the way back put the old one in its place."""
    from runbook.cli import wiring

    tmp = tmp_path_factory.mktemp("went-back")
    journal = tmp / "runs" / "run.jsonl"

    async def go() -> Rehearsed:
        async with rehearsal_host(tmp) as host:
            secrets = live_secrets(host)
            session = wiring.session(wiring.rehearsal_settings(host), token=host.api_token,
                                     journal_path=journal, state_dir=host.sandbox / ".operator",
                                     isolated=True, rollback_after="recreate")
            outcome = await session.run(ScriptedFrontEnd())
        return Rehearsed(journal, outcome, secrets, records(journal))

    run = asyncio.run(go())
    assert run.outcome is Outcome.ROLLED_BACK, run.records[-5:]
    _earlier_cutover(journal.parent, run.records[0]["pace"], run.records[0]["scenario"])
    return run


def _head(text: str) -> dict[str, str]:
    """The summary table at the top, as a reader sees it: row name -> value."""
    rows = [line.split(" | ") for line in plain(text.split("\n## ", 1)[0]).splitlines()
            if line.startswith("| ") and " | " in line]
    return {row[0].lstrip("| ").strip(): row[1].rstrip(" |") for row in rows if len(row) == 2}


def test_a_rolled_back_runs_header_says_the_old_release_serves_again(
    went_back: Rehearsed
) -> None:
    """Operator trial: the header said "Release 6.2.0.b406 → 11.1.0.b835" and
    "Stream Manager API 3.1 → 4.0" (the new release had answered before the way
    back), beside "After the upgrade | ... answers from the old install"."""
    facts = went_back.facts()
    assert facts["new_api_version"] != facts["api_version"], "the new release answered"
    for text in (report_of(went_back),):
        head = _head(text)
        assert not any("→" in value for value in head.values()), head
        assert "After the upgrade" not in head, head
        release = head["Release"]
        assert release.startswith(f"{facts['live_version']} again"), release
        assert f"the upgrade to {facts['new_version']} was rolled back" in release, release
        assert head["Stream Manager API"].startswith(f"{facts['api_version']} again"), head
        back = [n for n in went_back.notes("service-answered") if n.get("side") == "old"]
        assert back and head["After the way back"] == back[-1]["text"], head
    page = html(build(went_back.journal, estimate_from=[]))
    assert "→" not in page.split("<h2>", 1)[0] and "After the upgrade" not in page
    assert "<th>After the way back</th>" in page


def test_a_rolled_back_run_says_what_the_way_back_leaves_for_another_attempt(
    went_back: Rehearsed
) -> None:
    """Operator trial: the report, the summary and the exit lines of a run
    rolled back after recreate said "recreate: done, then undone by the way
    back", and nothing of the new database, which still held that attempt's
    nodegroups; a second attempt would be refused at schema, unwarned."""
    head = _head(report_of(went_back))
    # Which database to drop, by its host (operator trial, stop 46).
    said = head["Before another attempt"]
    assert "drop the cluster database on 127.0.0." in said, head
    # And how, with this run's database, port and live login, never its
    # password (README walkthrough: no command to drop it was given).
    # TCP, as runbook's own client: with -h localhost the client would take the
    # local socket, the live database's, whatever -P says (second review).
    # The live login by name, not the USER placeholder (second review: the
    # report passed with the facts' login never journalled).
    assert re.search(r"mysql --protocol=tcp -h 127\.0\.0\.\d+ -P \d+ -u (?!USER )\S+ -p -e "
                     r"'DROP DATABASE cluster'", said), said
    assert not any(secret in said for secret in went_back.secrets), said
    page = html(build(went_back.journal, estimate_from=[]))
    assert "<th>Before another attempt</th>" in page


def test_a_rolled_back_runs_steps_say_the_way_back_undid_the_cutover(
    went_back: Rehearsed
) -> None:
    """Operator trial (stop 39): after the way back, the steps table called
    each cutover step done, beside details no longer true ("red5pro is the new
    release"), where the screen said undone."""
    report = build(went_back.journal, estimate_from=[])
    cutover = ("delete-nodegroups", "backup-live", "promote-new", "stop-service",
               "service-unit", "start-service")
    for step_id in cutover:
        step = report.step(step_id)
        assert step is not None and step.undone, step_id
    back = report.step("rollback-restore")
    assert back is not None and not back.undone
    rows = {line.split(" | ")[1].strip("` "): line for line in markdown(report).splitlines()
            if line.startswith("| ") and line.count(" | ") > 5}
    # delete-nodegroups' nodegroups it recreates as new ones: it says so
    # (test_a_rolled_back_runs_report_says_the_nodegroups_were_recreated_not_undone).
    for step_id in cutover[1:]:
        assert "undone by the way back" in rows[step_id], rows[step_id]
    assert "undone" not in rows["rollback-restore"] and "undone" not in rows["schema"]
    # Operator trial (stop 51): recreate read "done, then undone by the way
    # back" above "Before another attempt", which says what it made stays.
    recreate = report.step("recreate")
    assert recreate is not None and not recreate.undone
    assert "partly undone by the way back" in rows["recreate"], rows["recreate"]
    page = html(report)
    assert page.count("then undone by the way back") == len(cutover) - 1, page


def test_a_rolled_back_runs_report_says_the_nodegroups_were_recreated_not_undone(
    went_back: Rehearsed
) -> None:
    """Operator trial: delete-nodegroups read "then undone by the way back";
    the way back's rollback-recreate makes new nodegroups (the API gives them
    new names, and only their origins are launched)."""
    report = build(went_back.journal, estimate_from=[])
    rows = {line.split(" | ")[1].strip("` "): line for line in markdown(report).splitlines()
            if line.startswith("| ") and line.count(" | ") > 5}
    said = rows["delete-nodegroups"]
    assert "then recreated by the way back as new nodegroups" in said, said
    assert "undone" not in said, said
    assert "then undone by the way back" in rows["backup-live"], rows["backup-live"]
    assert "then recreated by the way back as new nodegroups" in html(report)


def test_a_way_back_that_finds_the_old_release_serving_says_it_serves(
        tmp_path: Path) -> None:
    """Operator trial: back after backup-live, the old server had never
    stopped, and rollback-start found its API answering ("already done");
    the report said "the old install was not heard from" above the step
    that had heard it."""
    from runbook.cli import wiring

    journal = tmp_path / "runs" / "run.jsonl"

    async def go() -> Outcome:
        async with rehearsal_host(tmp_path) as host:
            session = wiring.session(wiring.rehearsal_settings(host), token=host.api_token,
                                     journal_path=journal, state_dir=host.sandbox / ".operator",
                                     isolated=True, rollback_after="backup-live")
            return await session.run(ScriptedFrontEnd())

    assert asyncio.run(go()) is Outcome.ROLLED_BACK
    started = [r for r in records(journal)
               if r["event"] == "step-end" and r.get("step") == "rollback-start"]
    assert started and started[-1].get("already"), "the old release was found serving"
    head = _head(markdown(build(journal, estimate_from=[])))
    assert head["After the way back"].startswith("the stream manager answers from the old"), \
        head
    # Back before recreate: the new stream manager made nothing in the new
    # database, which another attempt takes as it is (operator trial: told to
    # drop it all the same).
    assert "Before another attempt" not in head, head
    # Nothing set aside, no unit replaced: the list has only the new database.
    for said in _left_items(build(journal, estimate_from=[])):
        assert "DROP DATABASE cluster" in said, said
        assert "red5pro.failed-" not in said and "red5pro.service.bak" not in said, said


def test_a_rolled_back_runs_downtime_is_not_compared_with_an_upgrade(
    went_back: Rehearsed
) -> None:
    """Operator trial: "59.8 s longer" than the last cutover, for a downtime
    that held the way back too."""
    report = build(went_back.journal, estimate_from=[went_back.journal.parent])
    assert report.downtime.estimate_s == 42.5, "there is an upgrade's cutover to compare"
    for text in (plain(section(markdown(report), "Downtime")),
                 html(report).split("<h2>Downtime</h2>")[1].split("<h2>")[0]):
        assert "longer" not in text and "shorter" not in text, text
        assert "42.5s" not in text, text
        said = " ".join(text.split())
        assert "includes the way back" in said and "not compared" in said, said


def test_a_run_rolled_back_before_the_new_release_answered(tmp_path: Path) -> None:
    """Operator trial: "Stream Manager API 3.1 → 3.1": the old release's answer on
    the way back was taken for the new release's."""
    journal = _journal(tmp_path, steps=["stop-service", "start-service"])
    journal.write("facts", facts={"live_version": "6.2.0.b406", "new_version": "11.1.0.b835",
                                  "api_version": "3.1"})
    journal.write("cutover-start", step="stop-service")
    journal.write("note", step="rollback-start", kind="service-answered",
                  text="the stream manager answers from the old install /x/red5pro "
                       "(6.2.0.b406): API 3.1, cloud controller Amazon Web Services",
                  install_version="6.2.0.b406", api_version="3.1",
                  controller="Amazon Web Services", side="old")
    journal.write("cutover-end", complete=True, downtime_s=61.0)
    journal.write("run-end", outcome="rolled-back", exit_code=4)
    journal.close()
    head = _head(markdown(build(journal.path, estimate_from=[])))
    assert head["Release"] == "6.2.0.b406 again: the upgrade to 11.1.0.b835 was rolled back"
    assert head["Stream Manager API"] == "3.1 again", head
    assert head["After the way back"].startswith("the stream manager answers from the old")


def test_a_way_back_that_did_not_finish_says_so(tmp_path: Path) -> None:
    """Review: only a finished way back changed the header, so a run that
    failed part-way back read "After the upgrade | 4.0 answers", and its
    downtime, way back and all, was set against an upgrade's."""
    journal = _journal(tmp_path, steps=["stop-service", "start-service"])
    journal.write("facts", facts={"live_version": "6.2.0.b406", "new_version": "11.1.0.b835",
                                  "api_version": "3.1"})
    journal.write("cutover-start", step="stop-service")
    journal.write("way-back")
    journal.write("step-start", step="rollback-start")
    journal.write("step-end", step="rollback-start", state="failed",
                  detail="the old release did not answer")
    journal.write("run-end", outcome="failed", exit_code=1)
    journal.close()
    earlier_runs = tmp_path / "earlier"
    earlier_runs.mkdir()
    earlier = _journal(earlier_runs, "earlier.jsonl")
    earlier.write("cutover-start", step="stop-service")
    earlier.write("cutover-end", complete=True, downtime_s=50.0)
    earlier.write("run-end", outcome="done", exit_code=0)
    earlier.close()
    when = time.time() - 3600
    os.utime(earlier.path, (when, when))
    report = build(journal.path, estimate_from=[earlier_runs])
    assert report.downtime.estimate_s == 50.0  # found, and not set against this one
    text = plain(markdown(report))
    head = _head(markdown(report))
    assert "After the upgrade" not in head, head
    assert "the way back began and did not finish" in head["Release"], head
    assert "earlier.jsonl" not in text.split("## Downtime", 1)[1].split("\n## ", 1)[0]


def test_a_cut_off_attempt_makes_took_a_lower_bound(tmp_path: Path) -> None:
    """Review: an attempt cut off (no step-end) has no running time and was
    left out of the sum, so a step that ran for minutes before a crash read
    "0.1 s (2 attempts)"."""
    journal = _journal(tmp_path, steps=["upload"])
    journal.write("step-start", step="upload")
    journal.write("action-start", step="upload", attempt="a", n=1, kind="shell", text="$ cp")
    journal.write("run-start", config="c.toml", host="u@h:22", rehearsal=False,
                  steps=["upload"], resumed=True)
    journal.write("step-start", step="upload")
    journal.write("step-end", step="upload", state="done", detail="found done",
                  elapsed_s=0.1, already=True)
    journal.write("run-end", outcome="done", exit_code=0)
    journal.close()
    steps = section(plain(markdown(build(journal.path, estimate_from=[]))), "Steps")
    row = next(line for line in steps.splitlines() if "`upload`" in line)
    assert "at least 0.1s" in row and "cut off" in row, row


def test_every_attempt_cut_off_is_an_unknown_time(tmp_path: Path) -> None:
    """Review: with no attempt's time on record the cell read "at least -"."""
    journal = _journal(tmp_path, steps=["upload"])
    journal.write("step-start", step="upload")
    journal.write("run-start", config="c.toml", host="u@h:22", rehearsal=False,
                  steps=["upload"], resumed=True)
    journal.write("step-start", step="upload")
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    steps = section(plain(markdown(build(journal.path, estimate_from=[]))), "Steps")
    row = next(line for line in steps.splitlines() if "`upload`" in line)
    assert "unknown (2 attempts, 2 cut off" in row and "at least -" not in row, row


def test_a_step_cut_off_in_the_downtime_is_not_called_failed(tmp_path: Path) -> None:
    """Operator trial: a run killed (and so left in doubt) while the nodegroups
    were being deleted was listed under "Failed while the stream manager was
    down", though nothing failed; the step was found done on resume."""
    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="sm.toml", host="u@h:22", steps=["delete-nodegroups"])
    journal.write("cutover-start", step="delete-nodegroups")
    journal.write("step-start", step="delete-nodegroups", attempt="a1")
    journal.write("action-start", step="delete-nodegroups", attempt="a1", n=1, text="curl x")
    journal.write("run-start", config="sm.toml", host="u@h:22", steps=["delete-nodegroups"],
                  resumed=True)
    journal.write("check", step="delete-nodegroups", done=True, detail="no nodegroups left")
    journal.write("step-end", step="delete-nodegroups", state="done", already=True,
                  detail="already done: no nodegroups left", elapsed_s=None)
    journal.write("cutover-end", complete=True, downtime_s=60.0)
    journal.write("run-end", outcome="done", exit_code=0)
    journal.close()
    text = plain(markdown(build(path)))
    assert "Failed while the stream manager was down" not in text, text
    assert "Cut off while the stream manager was down: `delete-nodegroups`" in text, text
    # Two attempts: one cut off, one that found the step done (operator
    # trial: "2 attempts, 2 cut off").
    # Cut off as it began: nothing bounds its time (not "at least 0.0 s").
    assert "unknown (2 attempts, 1 cut off)" in text, text


@pytest.mark.parametrize(("recorded", "left", "said"), [
    # As the journal says it now: which steps the way back could not touch,
    # whatever the words of what they leave.
    ({"not_undone": {"recreate": True, "other": False}},
     {"recreate": "its nodegroups stay: drop it",
                                    "other": "its rows stay: drop them"},
     {"recreate": "not undone by the way back", "other": "partly undone by the way back"}),
    ({"not_undone": {"recreate": False}},
     {"recreate": "group-a stay, which could not delete the nodegroups"},
     {"recreate": "partly undone by the way back"}),
    # A journal written before that was recorded: read by the words, as then.
    ({}, {"recreate": "group-a stay, which could not delete the nodegroups, and ...: drop it"},
     {"recreate": "not undone by the way back"}),
])
def test_a_step_the_way_back_could_not_touch_is_read_from_the_journal_as_data(
        tmp_path: Path, recorded: dict[str, Any], left: dict[str, str],
        said: dict[str, str]) -> None:
    """Review 56b, F6: the report called a step not undone where the words
    of what it leaves held "which could not delete the nodegroups", and the
    summary and the TUI did so of every step with something left, the run's
    words searched whole. The journal says which steps (not_undone), and an
    older journal, without it, is read by the words as before."""
    from runbook.report_format import outcome_cell

    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    cutover = list(left)
    journal.write("run-start", config="sm.toml", host="u@h:22", steps=cutover,
                  cutover=cutover, leaves=left, **recorded)
    journal.write("cutover-start", step=cutover[0])
    for step in cutover:
        journal.write("step-start", step=step, attempt="a1")
        journal.write("action-start", step=step, attempt="a1", n=1, text="curl x")
        journal.write("action-end", step=step, attempt="a1", n=1, status="ok")
        journal.write("step-end", step=step, state="done", detail="made", elapsed_s=1.0)
    journal.write("way-back", why="asked", steps=["back"])
    journal.write("step-end", step="back", state="done", detail="back", elapsed_s=1.0)
    journal.write("cutover-end", complete=True, downtime_s=60.0)
    journal.write("run-end", outcome="rolled-back", exit_code=4)
    journal.close()
    report = build(path, estimate_from=[])
    cells = {step: outcome_cell(report.step(step)) for step in said}  # type: ignore[arg-type]
    for step, words in said.items():
        assert words in cells[step], cells
        assert ("not undone" in cells[step]) is words.startswith("not"), cells
    assert replay(path).not_undone_by_the_way_back() == [
        step for step, words in said.items() if words.startswith("not")]


def test_an_older_journal_a_way_back_alone_goes_on_with_still_says_not_undone(
        tmp_path: Path) -> None:
    """Review 56c, F2: a journal written before not_undone was recorded, whose
    way back `runbook rollback` (this code) took up: its run-start's
    not_undone={} counted as recorded, so recreate's words in `leaves` were
    never read, and the report, the replay and RunEnded said "partly undone"
    where the runbook that wrote the journal said "not undone". Each step is
    read by what was recorded of it, and by its words where nothing was."""
    from runbook.report_format import outcome_cell

    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    left = {"recreate": "group-a stay, which could not delete the nodegroups, and ...: drop it"}
    # As the runbook before not_undone wrote it.
    journal.write("run-start", config="sm.toml", host="u@h:22", steps=["recreate"],
                  cutover=["recreate"], leaves=left)
    journal.write("cutover-start", step="recreate")
    journal.write("step-start", step="recreate", attempt="a1")
    journal.write("action-start", step="recreate", attempt="a1", n=1, text="curl x")
    journal.write("action-end", step="recreate", attempt="a1", n=1, status="ok")
    journal.write("step-end", step="recreate", state="done", detail="made", elapsed_s=1.0)
    journal.write("way-back", why="asked", steps=["rollback-nodegroups", "back"])
    journal.write("step-end", step="rollback-nodegroups", state="done",
                  detail="nothing deleted", elapsed_s=1.0)
    journal.write("run-end", outcome="stopped", exit_code=3)
    # `runbook rollback` now: the way back alone, which has no step of its own
    # that leaves anything.
    journal.write("run-start", config="sm.toml", host="u@h:22", steps=[], cutover=[],
                  leaves={}, not_undone={})
    journal.write("way-back", why="runbook rollback", steps=["rollback-nodegroups", "back"])
    journal.write("step-end", step="back", state="done", detail="back", elapsed_s=1.0)
    journal.write("cutover-end", complete=True, downtime_s=60.0)
    journal.write("run-end", outcome="rolled-back", exit_code=4)
    journal.close()
    assert replay(path).not_undone_by_the_way_back() == ["recreate"]
    cell = outcome_cell(build(path, estimate_from=[]).step("recreate"))  # type: ignore[arg-type]
    assert "not undone by the way back" in cell and "partly" not in cell, cell


@pytest.mark.parametrize(("fields", "words", "end"), [
    ({}, "Left running", "the operator left runbook while it ran"),
    ({"exit_code": 129}, "Left running", "the terminal closed (SIGHUP) while it ran"),
])
def test_a_step_the_operator_left_running_is_not_called_cut_off(
        tmp_path: Path, fields: dict[str, Any], words: str, end: str) -> None:
    """Operator trial: q then d during start-service (the operator's choice to
    leave it running, journalled as such) read "Cut off while the stream
    manager was down", as a kill would."""
    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="sm.toml", host="u@h:22", steps=["start-service"])
    journal.write("cutover-start", step="start-service")
    journal.write("step-start", step="start-service")
    journal.write("action-start", step="start-service", attempt="a1", n=1, text="systemctl")
    journal.write("detached", steps=["start-service"], **fields)
    journal.write("run-end", outcome="stopped", exit_code=fields.get("exit_code", 3))
    journal.close()
    text = plain(markdown(build(path)))
    assert f"{words} while the stream manager was down: `start-service`" in text, text
    assert "Cut off while" not in text, text
    assert end in text, text


def test_failed_and_cut_off_in_the_downtime_are_both_named(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="sm.toml", host="u@h:22", steps=["a", "b"])
    journal.write("cutover-start", step="a")
    journal.write("step-start", step="a")
    journal.write("action-start", step="a", attempt="1", n=1, text="curl x")
    journal.write("run-start", config="sm.toml", host="u@h:22", steps=["a", "b"], resumed=True)
    journal.write("step-start", step="a")
    journal.write("step-end", step="a", state="done", detail="ok", elapsed_s=1.0)
    journal.write("step-start", step="b")
    journal.write("step-end", step="b", state="failed", detail="no answer", elapsed_s=1.0)
    journal.write("run-end", outcome="failed", exit_code=1)
    journal.close()
    text = plain(markdown(build(path)))
    assert "Failed or cut off while the stream manager was down: `a`" in text, text


def test_log_marks_where_a_run_was_cut_off_and_resumed(tmp_path: Path) -> None:
    """Operator trial (stop 23, item 7): `runbook log` ran a killed run's lines
    straight into its resume's, with nothing to say the run had stopped,
    when, or that the lines after were a later run's."""
    path = tmp_path / "run.jsonl"
    path.write_text(
        '{"event": "run-start", "ts": "2026-01-01T00:00:00+00:00", "steps": ["upload"]}\n'
        '{"event": "output", "ts": "2026-01-01T00:00:01+00:00", "step": "upload", '
        '"lines": [["out", "sent 40%"]]}\n'
        '{"event": "run-start", "ts": "2026-01-01T00:05:00+00:00", "steps": ["upload"], '
        '"resumed": true}\n'
        '{"event": "output", "ts": "2026-01-01T00:05:01+00:00", "step": "upload", '
        '"lines": [["out", "sent 100%"]]}\n'
        '{"event": "run-end", "ts": "2026-01-01T00:05:02+00:00", "outcome": "done"}\n'
        '{"event": "run-start", "ts": "2026-01-01T00:09:00+00:00", "steps": ["upload"]}\n')
    from runbook.standing import local_time

    first, later = "2026-01-01T00:00:01+00:00", "2026-01-01T00:09:00+00:00"
    lines = log_lines(path)
    assert lines[-1] == ("runbook", f"no end on record after {local_time(later)}: the run was "
                                    "cut off then, or is still going")
    lines = lines[:-1]
    assert lines[0] == ("upload", "sent 40%") and lines[3] == ("upload", "sent 100%")
    cut, resumed = lines[1], lines[2]
    assert cut[0] == resumed[0] == "runbook"
    assert cut[1].startswith(f"cut off here, after {local_time(first)}") and "no end" in cut[1]
    assert resumed[1].startswith("resumed") and local_time("2026-01-01T00:05:00+00:00") \
        in resumed[1]
    assert lines[4] == ("runbook", f"done {local_time('2026-01-01T00:05:02+00:00')}")
    assert lines[5][0] == "runbook" and lines[5][1].startswith("a new run began")
    assert len(lines) == 6
    # Kept beside one step's lines, which can run across the cut.
    assert [line for _, line in log_lines(path, step="upload")][:-1] == [
        line for _, line in lines]
    # Read by the run that continues it: the last run was cut off, not going.
    assert log_lines(path, continued=True)[-1][1].startswith(
        f"cut off here, after {local_time(later)}")


def test_one_steps_log_ends_with_how_the_last_run_ended_too(tmp_path: Path) -> None:
    """`runbook log J --step preflight` dropped the last run's end line, which
    the README says --step keeps, and kept the earlier runs' ends (operator
    trial, stop 48)."""
    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="sm.toml", host="red5admin@127.0.0.1:2222",
                  rehearsal=False, steps=["preflight"], resumed=False)
    journal.write("step-start", step="preflight")
    journal.write("step-end", step="preflight", state="done", detail="looked", elapsed_s=1.0)
    journal.write("run-end", outcome="done", exit_code=0)
    journal.close()
    whole, one = log_lines(path), log_lines(path, step="preflight")
    assert whole[-1][0] == "runbook" and whole[-1][1].startswith("done "), whole
    assert one[-1] == whole[-1], one


def test_a_damaged_time_in_a_journal_is_shown_as_recorded(tmp_path: Path) -> None:
    """Review: a run-start whose time could not be read made `runbook log`
    end in a traceback, and the TUI's full log leave the earlier run out."""
    path = tmp_path / "run.jsonl"
    path.write_text(
        '{"event": "run-start", "ts": "2026-01-01T00:00:00+00:00", "steps": ["a"]}\n'
        '{"event": "run-start", "ts": "not-a-time", "steps": ["a"], "resumed": true}\n')
    assert log_lines(path)[-2] == ("runbook", "resumed not-a-time")


def test_a_downtime_as_long_as_its_estimate_is_not_called_shorter() -> None:
    """Operator trial: "5.2 s against 5.3 s: 0.0 s shorter"."""
    from runbook.report import Downtime, Report
    from runbook.report_format import downtime_verdict

    report = Report(Path("run.jsonl"))
    report.downtime = Downtime(seconds=5.25, complete=True, estimate_s=5.3)
    said = downtime_verdict(report) or ""
    assert "0.0s" not in said and "shorter" not in said, said
    assert "5.2s against 5.3s" in said, said


def test_a_run_stopped_before_the_cutover_reports_no_upgrade(tmp_path: Path) -> None:
    """Operator trial (stop 26): a run stopped in prepare was reported with
    "Release 6.2.0 → 11.1.0" and "After the upgrade: the new install was not
    heard from", which reads as an upgrade that happened."""
    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="sm.toml", host="u@h:22",
                  steps=["preflight", "upload", "delete-nodegroups"])
    journal.write("step-end", step="preflight", state="done", detail="ok")
    journal.write("facts", facts={"live_version": "6.2.0.b406", "new_version": "11.1.0.b835",
                                  "api_version": "3.1"})
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    report = build(path, estimate_from=[])
    head = _head(markdown(report))
    assert "After the upgrade" not in head, head
    assert "→" not in head["Release"], head
    assert head["Release"].startswith("6.2.0.b406") and "11.1.0.b835" in head["Release"], head
    assert "not begun" in head["Release"] or "did not begin" in head["Release"], head
    page = html(report)
    assert "After the upgrade" not in page and "→" not in page.split("<h2>", 1)[0]


def test_log_says_when_a_run_that_a_later_one_continues_ended(tmp_path: Path) -> None:
    """Operator trial (stop 26): `runbook log` said "resumed 09:51:21" with no
    line saying when, or how, the run before it ended."""
    path = tmp_path / "run.jsonl"
    path.write_text(
        '{"event": "run-start", "ts": "2026-01-01T00:00:00+00:00", "steps": ["upload"]}\n'
        '{"event": "output", "ts": "2026-01-01T00:00:01+00:00", "step": "upload", '
        '"lines": [["out", "sent 40%"]]}\n'
        '{"event": "run-end", "ts": "2026-01-01T00:00:02+00:00", "outcome": "stopped", '
        '"exit_code": 3}\n'
        '{"event": "run-start", "ts": "2026-01-01T00:05:00+00:00", "steps": ["upload"], '
        '"resumed": true}\n'
        '{"event": "run-end", "ts": "2026-01-01T00:05:02+00:00", "outcome": "done", '
        '"exit_code": 0}\n')
    from runbook.standing import local_time

    lines = log_lines(path)
    assert lines[1][0] == "runbook" and "stopped" in lines[1][1], lines
    assert local_time("2026-01-01T00:00:02+00:00") in lines[1][1] and "exit 3" in lines[1][1]
    assert lines[2][1].startswith("resumed") and len(lines) == 4, lines
    # And how the last run ended (way-back trial, stop 45: no closing line).
    assert lines[3][0] == "runbook" and "done" in lines[3][1] and "exit 0" in lines[3][1]


def test_log_says_when_the_way_back_began_and_why(tmp_path: Path) -> None:
    """Way-back trial (stop 45): after a failed step and r, the log went from
    "[start-service] failed: ..." straight to the way back's first command."""
    path = tmp_path / "run.jsonl"
    path.write_text(
        '{"event": "run-start", "ts": "2026-01-01T00:00:00+00:00", "steps": ["start"]}\n'
        '{"event": "step-end", "ts": "2026-01-01T00:00:01+00:00", "step": "start", '
        '"state": "failed", "detail": "gave up"}\n'
        '{"event": "way-back", "ts": "2026-01-01T00:00:02+00:00", '
        '"why": "the operator chose it after start failed"}\n'
        '{"event": "action-start", "ts": "2026-01-01T00:00:03+00:00", "step": "back", '
        '"text": "$ systemctl stop red5pro"}\n')
    lines = log_lines(path)
    texts = [line for _, line in lines]
    began = next(i for i, line in enumerate(texts) if "way back" in line)
    assert lines[began][0] == "runbook" and "chose it after start failed" in texts[began]
    assert began < texts.index("$ systemctl stop red5pro"), lines


def test_out_never_writes_over_the_journal_it_reports(upgraded: Rehearsed,
                                                      tmp_path: Path) -> None:
    """Operator trial: `report J --out J` replaced the journal with its own
    report, exit 0 and no word; the run's record was gone."""
    journal = tmp_path / "copy.jsonl"
    journal.write_bytes(upgraded.journal.read_bytes())
    alias = tmp_path / "alias.md"
    alias.symlink_to(journal)
    for out in (journal, alias):
        result = runbook("report", str(journal), "--out", str(out), state=tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        line = result.stderr.strip()
        assert "\n" not in line and "--out" in line and str(journal) in line, line
    assert journal.read_bytes() == upgraded.journal.read_bytes()


def test_out_never_writes_over_another_journal(upgraded: Rehearsed, failed: Rehearsed,
                                              tmp_path: Path) -> None:
    """Safety review: --out was checked against the journal being reported
    only, so a slip naming another run's journal turned it into a report."""
    other = tmp_path / "other.jsonl"
    other.write_bytes(failed.journal.read_bytes())
    result = runbook("report", str(upgraded.journal), "--out", str(other), state=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and str(other) in line and "journal" in line, line
    assert other.read_bytes() == failed.journal.read_bytes()
    # Review: one another runbook has just claimed holds no record yet.
    claimed = Journal(tmp_path / "starting.md")
    try:
        result = runbook("report", str(upgraded.journal), "--out", str(claimed.path),
                         state=tmp_path)
        assert result.returncode == 2 and "journal" in result.stderr, result.stderr
        assert claimed.path.read_bytes() == b""
    finally:
        claimed.close()


def test_out_through_a_link_that_loops_is_refused_in_one_line(upgraded: Rehearsed,
                                                              tmp_path: Path) -> None:
    """Review (stop 45): a symlink loop named as --out raised RuntimeError from
    Path.resolve() (Python 3.11), a traceback and exit 1 where 0 or 2 is promised."""
    loop = tmp_path / "loop.md"
    loop.symlink_to(loop)
    result = runbook("report", str(upgraded.journal), "--out", str(loop), state=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line and str(loop) in line, line
    assert loop.is_symlink() and os.readlink(loop) == str(loop)


def test_a_report_cut_short_leaves_the_last_one_whole(upgraded: Rehearsed,
                                                      tmp_path: Path) -> None:
    """Safety review: the report was written over the old one in place, so a
    full disk left neither whole: part of the new text where the old was."""
    import resource

    from runbook.report import ReportError, build, write_private
    from runbook.report_md import markdown

    out = tmp_path / "change-ticket.md"
    last = "# the report that went into the ticket\n" + "x" * 20_000
    out.write_text(last)
    text = markdown(build(upgraded.journal))
    assert len(text.encode()) > 8192
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, hard))  # a disk that fills up
    try:
        with pytest.raises(ReportError, match=str(out)):
            write_private(out, text)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert out.read_text() == last
    assert [p.name for p in tmp_path.iterdir() if p.name != out.name
            and "change-ticket" in p.name] == [], "no half report left beside it"
    write_private(out, text)
    assert out.read_text() == text and (out.stat().st_mode & 0o777) == 0o600


def test_the_log_says_where_the_connection_was_lost(tmp_path: Path) -> None:
    """Operator trial: the TUI said the SSH connection was lost and came back;
    `runbook log` of the same run did not."""
    from runbook.journal import Journal
    from runbook.log import log_lines

    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="c.toml", host="u@h:22", steps=["upload"])
    journal.write("step-start", step="upload")
    journal.write("reconnecting", host="u@h:22", attempt=1, wait_s=0.5,
                  reason="connection reset")
    journal.write("output", step="upload", lines=[["out", "sent"]])
    journal.close()
    assert log_lines(path)[:2] == [("upload", "SSH connection lost (connection reset): "
                                              "reconnecting, attempt 1"), ("upload", "sent")]


@pytest.mark.parametrize(("exit_code", "words"), [
    (None, "the operator left while upload ran on"),
    (129, "the terminal closed (SIGHUP) while upload ran on"),
    (143, "runbook was stopped (SIGTERM) while upload ran on")])
def test_the_record_says_who_left_a_step_running(tmp_path: Path, exit_code: int | None,
                                                 words: str) -> None:
    """Operator trial: a terminal killed mid-upload was reported as "the
    operator left", as if someone had chosen to."""
    from runbook.journal import Journal
    from runbook.report import build

    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="c.toml", host="u@h:22", steps=["upload"])
    journal.write("step-start", step="upload")
    journal.write("detached", steps=["upload"],
                  **({} if exit_code is None else {"exit_code": exit_code}))
    journal.write("run-end", outcome="stopped", exit_code=exit_code or 3)
    journal.close()
    assert any(words in remark for remark in build(path).remarks), build(path).remarks


@pytest.mark.parametrize(("rehearsal", "steps", "words"), [
    (False, [], "while the run waited on the operator; no step was running"),
    (True, ["upload"], "the rehearsal host stopped with runbook, and what ran there ended")])
def test_a_departure_is_told_as_it_left_the_host(tmp_path: Path, rehearsal: bool,
                                                 steps: list[str], words: str) -> None:
    """Trial: a terminal closed at a question read "while no step ran on;
    what it had started went on without runbook", and a rehearsal's SIGTERM
    "went on without runbook" where its host stopped with it."""
    from runbook.report import build

    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="c.toml", host="u@h:22", steps=["upload"],
                  rehearsal=rehearsal)
    journal.write("detached", steps=steps, exit_code=143)
    journal.write("run-end", outcome="stopped", exit_code=143)
    journal.close()
    remarks = build(path).remarks
    assert any(words in remark for remark in remarks), remarks
    assert not any("went on without runbook" in remark for remark in remarks), remarks


def aborted_in(journal: Journal, step: str, command: str, *, kind: str = "shell",
               attempt: str = "a1", ended: bool = False) -> None:
    """The rest of a run whose operator aborted `step` while `command` ran
    (or, `ended`, once it had ended)."""
    journal.write("step-start", step=step)
    journal.write("action-start", step=step, attempt=attempt, n=1, kind=kind, text=command)
    if ended:
        journal.write("action-end", step=step, attempt=attempt, n=1, status="ok")
    journal.write("aborted", steps=[step])
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()


def test_an_abort_in_a_wait_on_the_api_says_nothing_was_stopped(tmp_path: Path) -> None:
    """Trial: aborted while delete-nodegroups waited for the groups to go, the
    report said what it had started "was stopped", while both DELETEs stood
    and the groups went on terminating."""
    from runbook.report import build

    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="c.toml", host="u@h:22", steps=["delete-nodegroups"])
    aborted_in(journal, "delete-nodegroups", "curl -X DELETE one", kind="apicall", ended=True)
    remarks = build(path).remarks
    assert any("no command of it was running; runbook stopped waiting" in r for r in remarks), \
        remarks
    assert not any("was stopped" in r or "told the host to stop" in r for r in remarks), remarks


def test_an_abort_names_only_what_its_own_run_had_started(tmp_path: Path) -> None:
    """Review: the abort marked every open action of the step as stopped by
    it, an earlier run's cut off by a crash too, and said "was stopped" where
    runbook can only have told the host to stop (the link may be down)."""
    from runbook.report import build

    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="c.toml", host="u@h:22", steps=["unpack"])
    journal.write("step-start", step="unpack")
    journal.write("action-start", step="unpack", attempt="a1", n=1, kind="shell",
                  text="unzip (first run)")
    # a crash: no end of that run
    journal.write("run-start", config="c.toml", host="u@h:22", steps=["unpack"], resumed=True)
    aborted_in(journal, "unpack", "unzip (resumed)", attempt="b1")
    report = build(path)
    (step,) = [s for s in report.steps if s.id == "unpack"]
    status = {action.text: action.status for action in step.actions}
    assert status == {"unzip (first run)": None, "unzip (resumed)": "told to stop"}, status
    assert any("told the host to stop" in r for r in report.remarks), report.remarks


def test_a_step_cut_short_in_its_only_attempt_says_how_in_its_section(tmp_path: Path) -> None:
    """Trial: an upload aborted mid-transfer had a section headed "in doubt"
    with a blank where its verdict belongs, then "It printed nothing."."""
    from runbook.report import build
    from runbook.report_html import html
    from runbook.report_md import markdown

    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="c.toml", host="u@h:22", steps=["upload"])
    aborted_in(journal, "upload", "sftp put x", kind="upload")
    report = build(path)
    section = markdown(report).split("### `upload`", 1)[1].split("\n###", 1)[0]
    assert "aborted by the operator" in section, section
    assert "aborted by the operator" in html(report).split("upload</code>:", 1)[1]


def test_the_way_back_row_keeps_who_chose_it_across_a_resume(tmp_path: Path) -> None:
    """Trial: chosen at backup-live's question, aborted, resumed: the report's
    way back row said only "a resumed run goes on back"."""
    from runbook.report import build

    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="c.toml", host="u@h:22", steps=["backup-live"])
    journal.write("cutover-start", step="backup-live")
    journal.write("way-back", why="the operator chose it at backup-live's question, "
                                  "instead of running that step")
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.write("run-start", config="c.toml", host="u@h:22", steps=["backup-live"],
                  resumed=True)
    journal.write("way-back", why="a resumed run goes on back")
    journal.close()
    assert "chose it at backup-live's question" in (build(path).way_back_why or "")


RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_a_host_s_control_characters_never_reach_the_reader_raw(tmp_path: Path) -> None:
    """A remote line holding terminal escapes (OSC 52 sets the clipboard, ESC [2J
    clears the screen, U+009B is an 8-bit CSI) went into the report and `runbook
    log` with the C1 ones raw: printed, the terminal acts on them."""
    line = "unzip: \x1b]52;c;aGk=\x07 \x1b[2J \x9b31m red\tcolumn"
    journal = _journal(tmp_path, steps=["one"])
    journal.write("step-start", step="one")
    journal.write("output", step="one", lines=[["err", line]])
    journal.write("step-end", step="one", state="failed", detail=f"failed: {line}",
                  elapsed_s=1.0)
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    report = build(journal.path, estimate_from=[])
    shown = [markdown(report), html(report),
             "\n".join(text for _step, text in log_lines(journal.path))]
    for text in shown:
        assert "column" in text and "red" in text
        assert not RAW_CONTROL.search(text), [m.group() for m in RAW_CONTROL.finditer(text)]


def test_a_result_over_two_lines_reads_as_two_lines_not_an_escape(tmp_path: Path) -> None:
    """Review: a step's result may hold a line break (an API's error message),
    which the HTML report showed as a literal \\u000a."""
    journal = _journal(tmp_path, steps=["one"])
    journal.write("step-start", step="one")
    journal.write("step-end", step="one", state="failed",
                  detail="the API said: no such nodegroup\nsecond line", elapsed_s=1.0)
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    report = build(journal.path, estimate_from=[])
    for text in (markdown(report), html(report)):
        assert "second line" in text
        assert "\\u000a" not in text, text


@pytest.mark.parametrize(("kind", "said"), [
    ("shell", "told the host to stop the command it ran"),
    ("editfile", "the file it edited is as it was or whole as edited"),
    ("upload", "what reached the host stays"),
])
def test_an_abort_says_what_it_stopped_by_the_kind_of_action(
        tmp_path: Path, kind: str, said: str) -> None:
    """Review: only a shell command counted as stopped; an edit (whose install
    runs as a command) and a transfer cut off were said to have had "no
    command running", as if runbook had only stopped waiting."""
    journal = _journal(tmp_path, steps=["one"])
    aborted_in(journal, "one", "the action", kind=kind)
    remarks = build(journal.path, estimate_from=[]).remarks
    assert any(said in r for r in remarks), remarks
    assert not any("stopped waiting" in r for r in remarks), remarks


@pytest.mark.parametrize(("event", "fields", "said"), [
    ("aborted", {}, "aborted by the operator"),
    ("detached", {}, "the operator left runbook while it ran"),
    ("detached", {"exit_code": 129}, "the terminal closed (SIGHUP) while it ran"),
])
def test_runbook_log_says_how_the_operator_left_a_step(
        tmp_path: Path, event: str, fields: dict[str, Any], said: str) -> None:
    """Operator trial: after q then a (or d) during recreate, `runbook log`
    ended with the step's last output line, as if nothing had happened; the
    journal and the report said it was aborted and in doubt."""
    journal = _journal(tmp_path, steps=["one"])
    journal.write("step-start", step="one")
    journal.write("output", step="one", lines=[["out", "1 origin(s) launched"]])
    journal.write(event, steps=["one"], **fields)
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    shown = [line for step, line in log_lines(journal.path) if step == "one"]
    assert shown[-1].startswith(said) and "in doubt" in shown[-1], shown


def test_a_cutover_not_finished_does_not_read_as_an_upgrade_done(tmp_path: Path) -> None:
    """Operator trial: a run stopped with recreate still to do had the row
    "After the upgrade | the stream manager answers from the new install",
    which reads as success while the stream manager is still down."""
    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="sm.toml", host="u@h:22",
                  steps=["start-service", "recreate"])
    journal.write("cutover-start", step="start-service")
    journal.write("step-start", step="start-service")
    journal.write("note", step="start-service", kind="service-answered",
                  text="the stream manager answers from the new install /x/red5pro: API 4.0")
    journal.write("step-end", step="start-service", state="done", detail="API 4.0 answers",
                  elapsed_s=1.0)
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    head = plain(markdown(build(path))).split("\n## ", 1)[0]
    assert "After the upgrade" not in head, head
    assert "So far" in head and "answers from the new install" in head, head
    assert "the cutover is not finished" in head, head


def test_a_skip_or_a_refusal_at_the_check_is_no_attempt_cut_off(tmp_path: Path) -> None:
    """Operator trial: new-database skipped ("tired") in one run and done on
    resume read "at least 0.2 s (2 attempts, 1 cut off: time unknown)", and
    its skip's reason was nowhere in the report; a step refused at its check
    read "cut off" too. Nothing was cut off: those attempts never ran."""
    from runbook.report import build
    from runbook.report_format import outcome_cell, took_cell

    journal = Journal(tmp_path / "run.jsonl")
    journal.write("run-start", config="sm.toml", host="u@sm1:22", rehearsal=False,
                  steps=["new-database", "delete-nodegroups"], resumed=False)
    journal.write("check", step="new-database", done=False, detail="not yet")
    journal.write("confirm", step="new-database", answer="skip", reason="tired")
    journal.write("step-end", step="new-database", state="skipped", detail="tired",
                  elapsed_s=None, reason="tired")
    journal.write("step-end", step="delete-nodegroups", state="failed",
                  detail="refusing to delete nodegroups: no snapshot", elapsed_s=None)
    journal.write("run-end", outcome="failed", exit_code=1)
    journal.write("run-start", config="sm.toml", host="u@sm1:22", rehearsal=False,
                  steps=["new-database", "delete-nodegroups"], resumed=True)
    for step, took in (("new-database", 0.2), ("delete-nodegroups", 3.0)):
        journal.write("step-start", step=step)
        journal.write("step-end", step=step, state="done", detail="ok", elapsed_s=took)
    journal.write("run-end", outcome="done", exit_code=0)
    journal.close()
    steps = {step.id: step for step in build(journal.path, estimate_from=[]).steps}
    for step in steps.values():
        assert "cut off" not in took_cell(step), (step.id, took_cell(step))
    assert took_cell(steps["new-database"]) == "0.2s", took_cell(steps["new-database"])
    said = outcome_cell(steps["new-database"])
    assert "skipped" in said and "tired" in said and "done on resume" in said, said


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_a_stopped_runs_report_says_where_it_stands_and_how_to_go_on(
        tmp_path: Path, fmt: str) -> None:
    """Operator trial (stop 39): stopped mid-cutover, the exit lines named the
    commands that go on and go back, but the report, the file a hand-over at
    2 a.m. relies on, said only "stopped (exit 3)"."""
    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start", config=str(tmp_path / "sm.toml"), host="u@h:22",
                  steps=["backup-live", "promote-new"], cutover=["backup-live", "promote-new"])
    journal.write("cutover-start", step="backup-live", began="2026-12-04T01:02:03+00:00")
    journal.write("step-start", step="backup-live")
    journal.write("step-end", step="backup-live", state="done", detail="moved")
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    report = build(path, estimate_from=[])
    text = plain(markdown(report)) if fmt == "markdown" else html(report)
    assert "the stream manager is down since" in text, text
    resume = f"runbook run {tmp_path / 'sm.toml'} --resume --journal {path}"
    back = f"runbook rollback {tmp_path / 'sm.toml'} --journal {path}"
    assert resume in text and back in text, text
    done = Journal(tmp_path / "done.jsonl")
    done.write("run-start", config="sm.toml", host="u@h:22", steps=["preflight"])
    done.write("run-end", outcome="done", exit_code=0)
    done.close()
    finished = build(tmp_path / "done.jsonl", estimate_from=[])
    text = plain(markdown(finished)) if fmt == "markdown" else html(finished)
    assert "--resume" not in text and "runbook rollback" not in text, text


def test_a_run_that_took_no_snapshot_says_so_in_words(tmp_path: Path) -> None:
    """Operator trial: the report of a run that never reached export-config
    said "the snapshot could not be read: the snapshot: not found here or in
    the host state", as if one had been taken and lost."""
    path = tmp_path / "127.0.0.1-20261205T010000Z.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="sm.toml", host="red5admin@127.0.0.1:2222",
                  rehearsal=False, steps=["preflight"], resumed=False)
    journal.write("step-start", step="preflight")
    journal.write("step-end", step="preflight", state="failed", detail="no route to host")
    journal.write("run-end", outcome="failed", exit_code=1)
    journal.close()
    report = build(path, estimate_from=[])
    for shown in (plain(markdown(report)), html(report)):
        assert "no snapshot of the nodegroups is on record for this run" in shown, shown
        assert "the snapshot: not found" not in shown and "could not be read" not in shown


def cut_off_in_the_cutover(path: Path, began: str, last: str, *,
                           first_step_done: bool) -> Path:
    """A production run's journal cut off in its cutover (begun at `began`),
    its last record written at `last`; its first cutover step done or not."""
    journal = Journal(path)
    journal.write("run-start", config="sm.toml", host="red5admin@127.0.0.1:2222",
                  rehearsal=False, steps=["delete-nodegroups", "backup-live"], resumed=False)
    journal.write("cutover-start", step="delete-nodegroups", began=began)
    journal.write("step-start", step="delete-nodegroups")
    if first_step_done:
        journal.write("step-end", step="delete-nodegroups", state="done", detail="ok")
    journal.close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records[-1]["ts"] = last
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_an_unfinished_runs_downtime_is_as_of_its_journal_not_of_the_report(
        tmp_path: Path) -> None:
    """Operator trial: the report of a run left mid-cutover said "down since
    03:24:05 (4m18s so far)" beside "at least 46.7 s", a figure that grew each
    time the report was made, of a throwaway host long gone. The report
    speaks of the journal's last record; the exit line, of its own moment."""
    path = cut_off_in_the_cutover(tmp_path / "127.0.0.1-20261205T032315Z.jsonl",
                                  "2026-12-05T03:24:05+00:00", "2026-12-05T03:24:52+00:00",
                                  first_step_done=True)
    standing = build(path, estimate_from=[]).standing
    assert "47.0s by the journal's last record" in standing, standing
    assert "so far" not in standing, standing


def test_a_run_stopped_in_the_first_second_of_its_cutover_says_how_long_it_was_down(
        tmp_path: Path) -> None:
    """SIGTERM 0.8 s into delete-nodegroups: the run ended in order (detached,
    its cutover's end and its own), yet where it stands said "for how long is
    not on record: the journal ends as the cutover began", beside "Ended ...
    stopped (exit 143)" (operator trial, stop 48). That sentence is for a
    journal cut off; this one says until when it watched."""
    from runbook.report_format import downtime_took

    path = tmp_path / "127.0.0.1-20261205T140317Z.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="sm.toml", host="red5admin@127.0.0.1:2222",
                  rehearsal=False, steps=["delete-nodegroups", "backup-live"], resumed=False)
    journal.write("cutover-start", step="delete-nodegroups", began="2026-12-05T14:03:42.206+00:00")
    journal.write("step-start", step="delete-nodegroups")
    journal.write("detached", steps=["delete-nodegroups"], exit_code=143)
    journal.write("cutover-end", complete=False, downtime_s=0.8)
    journal.write("run-end", outcome="stopped", exit_code=143)
    journal.close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records[-3:]:
        record["ts"] = "2026-12-05T14:03:43.010+00:00"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    report = build(path, estimate_from=[])
    assert "not on record" not in report.standing, report.standing
    assert "0.8s by the journal's last record" in report.standing, report.standing
    assert downtime_took(report.downtime) == "at least 0.8s"


def test_a_journal_cut_off_as_its_cutover_began_says_its_downtime_is_not_known(
        tmp_path: Path) -> None:
    """kill -9 in the first wait of the cutover: its progress is not journalled,
    and the report said "down since 11:23:44 (0.0s by the journal's last
    record)" and "at least 0.0 s", read on a change ticket as no downtime
    (operator trial, stop 47)."""
    from runbook.report_format import downtime_took, downtime_verdict

    path = cut_off_in_the_cutover(tmp_path / "127.0.0.1-20261205T112300Z.jsonl",
                                  "2026-12-05T11:23:44+00:00", "2026-12-05T11:23:44.020000+00:00",
                                  first_step_done=False)
    report = build(path, estimate_from=[])
    assert "0.0s" not in report.standing and "not on record" in report.standing, \
        report.standing
    took = downtime_took(report.downtime)
    assert "0.0" not in took and "not on record" in took, took
    # The sentence under it is one of its own, not the figure's pasted in (re-trial).
    verdict = downtime_verdict(report) or ""
    assert "not on record" in verdict and "after the cutover began" not in verdict, verdict


@pytest.mark.parametrize("headless", [False, True])
def test_a_lasting_rehearsals_report_names_the_commands_that_go_on(
        tmp_path: Path, headless: bool) -> None:
    """Operator trial: after kill -9 mid-cutover a rehearsal has no exit line,
    and its report, the only hand-over, named no command: its journal sits in
    SANDBOX/.operator/runs/, so the sandbox to go on in is known. Headless as
    the run was, as the exit lines say them (trial and re-trial, stop 48)."""
    sandbox = tmp_path / "sb"
    (sandbox / ".rehearsal").mkdir(parents=True)
    path = sandbox / ".operator" / "runs" / "127.0.0.1-20261205T032315Z.jsonl"
    path.parent.mkdir(parents=True)
    journal = Journal(path)
    cutover = ["delete-nodegroups", "backup-live", "promote-new"]
    journal.write("run-start", config="rehearsal.toml", host="red5admin@127.0.0.1:2222",
                  rehearsal=True, steps=["preflight", *cutover], cutover=cutover,
                  resumed=False, **({"headless": True} if headless else {}))
    journal.write("step-end", step="preflight", state="done", detail="ok")
    journal.write("cutover-start", step="delete-nodegroups", began="2026-12-05T03:24:05+00:00")
    journal.write("step-start", step="delete-nodegroups")
    journal.write("step-end", step="delete-nodegroups", state="done", detail="ok")
    journal.write("step-start", step="backup-live")
    journal.close()
    going_on = dict(build(path, estimate_from=[]).going_on)
    resume = f"runbook rehearse --sandbox {sandbox} --resume --journal {path}" + (
        " --headless" if headless else "")
    assert going_on.get("To go on") == resume, going_on
    back = going_on.get("To go back to the old stream manager instead", "")
    assert back == f"{resume} --rollback-after delete-nodegroups", going_on


def test_a_throwaway_rehearsals_report_names_no_command(tmp_path: Path) -> None:
    """Its sandbox went with it: there is nothing to go on in."""
    path = tmp_path / "rehearsals" / "127.0.0.1-20261205T032315Z.jsonl"
    path.parent.mkdir(parents=True)
    journal = Journal(path)
    journal.write("run-start", config="rehearsal.toml", host="red5admin@127.0.0.1:2222",
                  rehearsal=True, steps=["delete-nodegroups"], cutover=["delete-nodegroups"],
                  resumed=False)
    journal.write("cutover-start", step="delete-nodegroups", began="2026-12-05T03:24:05+00:00")
    journal.close()
    assert build(path, estimate_from=[]).going_on == []


def test_a_rehearsals_report_names_the_faults_it_staged(tmp_path: Path) -> None:
    """Way-back trial (stop 45): a rehearsal with --fault db-unreachable@start-service
    reported "the new database ... cannot be reached; allow ... in its firewall"
    and never said the failure was staged, though its journal records it."""
    from runbook.report_html import html
    from runbook.report_md import markdown

    journal = Journal(tmp_path / "run.jsonl")
    journal.write("run-start", config="c.toml", host="u@h:22", rehearsal=True, pace=1.0,
                  steps=["one"], resumed=False, faults=["db-unreachable@start-service"])
    journal.close()
    report = build(journal.path, estimate_from=[])
    assert "db-unreachable@start-service" in markdown(report)
    assert "db-unreachable@start-service" in html(report)
    assert "staged" in markdown(report).lower()


def test_a_step_left_in_doubt_and_gone_back_from_reads_undone(tmp_path: Path) -> None:
    """TUI trial: a cutover step left in doubt, then the way back taken from
    it, read "in doubt" in the change ticket's steps table, its detail
    inviting a retry on a host the way back had put back."""
    journal = Journal(tmp_path / "run.jsonl")
    journal.write("run-start", config="c.toml", host="u@h:22", rehearsal=False,
                  steps=["delete-nodegroups", "stop-service", "rollback-restore"],
                  cutover=["delete-nodegroups", "stop-service"], resumed=False)
    journal.write("step-end", step="delete-nodegroups", state="done", detail="gone")
    journal.write("step-end", step="stop-service", state="in-doubt",
                  detail="what it did is not known: try again")
    journal.write("step-end", step="rollback-restore", state="done", detail="put back")
    journal.write("run-end", outcome="rolled-back", exit_code=4)
    journal.close()
    report = build(journal.path, estimate_from=[])
    doubt = report.step("stop-service")
    assert doubt is not None and doubt.undone, doubt
    row = _row(plain(markdown(report)), "stop-service")
    assert "in doubt, then undone by the way back" in row
    # Re-trial: its detail still invited a retry, beside "undone".
    assert "before the way back: what it did is not known: try again" in row, row


def test_a_skipped_steps_warning_is_among_the_runs_warnings(tmp_path: Path) -> None:
    """TUI trial: the cutover went ahead on three skipped-step warnings, said
    as the steps' info lines, and the report's Warnings said "None"."""
    journal = Journal(tmp_path / "run.jsonl")
    journal.write("run-start", config="c.toml", host="u@h:22", rehearsal=False,
                  steps=["carry-over", "delete-nodegroups"], cutover=["delete-nodegroups"],
                  resumed=False)
    journal.write("step-end", step="carry-over", state="skipped", detail="later")
    journal.write("output", step="carry-over", lines=[
        ["info", "warning: carry-over was skipped, and LICENSE.KEY is not there"],
        ["out", "warning: a command's own output is not runbook's warning"]])
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    warnings = plain(section(markdown(build(journal.path, estimate_from=[])), "Warnings"))
    assert "carry-over was skipped, and LICENSE.KEY is not there" in warnings, warnings
    assert "a command's own output" not in warnings, warnings


def test_an_older_journals_warnings_are_read_by_the_word_they_began_with(
        tmp_path: Path) -> None:
    """Review 57a, F3: a journal written before a warning was recorded as
    such is read by one word rule, the screen's ("warning:"), for notes as
    for info lines: the report took any note beginning "warning" for one."""
    journal = Journal(tmp_path / "run.jsonl")
    journal.write("run-start", config="c.toml", host="u@h:22", rehearsal=False,
                  steps=["preflight"], cutover=[], resumed=False)
    journal.write("note", step="preflight", kind="unit-java-unknown",
                  text="warning: red5pro.service sets no JAVA_HOME")
    journal.write("note", step="preflight", kind="unit-read",
                  text="Warnings the unit's journal held: none")
    journal.write("step-end", step="preflight", state="done", detail="looked")
    journal.write("run-end", outcome="done", exit_code=0)
    journal.close()
    assert [note.text for note in build(journal.path, estimate_from=[]).warnings] == [
        "warning: red5pro.service sets no JAVA_HOME"]


def test_a_warning_said_again_by_a_later_session_is_listed_once(tmp_path: Path) -> None:
    """Re-trial (stop 49): each session that looked at a skipped step again
    said its warning again, and the change ticket listed it once per
    session; once, with when it was said again, is what the reader needs."""
    journal = Journal(tmp_path / "run.jsonl")
    said = "warning: carry-over was skipped, and LICENSE.KEY is not there"
    for resumed in (False, True):
        journal.write("run-start", config="c.toml", host="u@h:22", rehearsal=False,
                      steps=["carry-over", "delete-nodegroups"], cutover=["delete-nodegroups"],
                      resumed=resumed)
        journal.write("step-end", step="carry-over", state="skipped", detail="later")
        journal.write("output", step="carry-over", lines=[["info", said]])
        journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    warnings = plain(section(markdown(build(journal.path, estimate_from=[])), "Warnings"))
    assert warnings.count("LICENSE.KEY is not there") == 1, warnings
    assert "said again at" in warnings, warnings
    page = html(build(journal.path, estimate_from=[]))
    assert page.count("LICENSE.KEY is not there") == 1 and "said again at" in page


def test_an_attempt_cut_off_is_not_said_to_have_printed_nothing(tmp_path: Path) -> None:
    """Operator trial (stop 52): an upload killed at 207 of 763 MiB, resumed,
    had its first attempt reported as "It printed nothing", though its
    progress had been on the screen: progress is shown, not journalled, and
    a kill can take output not yet written with it. The report says what it
    knows: nothing of that attempt's output was recorded."""
    from runbook.report import build
    from runbook.report_html import html
    from runbook.report_md import markdown

    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    journal.write("run-start", config="c.toml", host="u@h:22", steps=["upload"])
    journal.write("step-start", step="upload")
    journal.write("action-start", step="upload", attempt="a1", n=1, kind="upload",
                  text="sftp put x -> y")
    journal.write("run-start", config="c.toml", host="u@h:22", steps=["upload"])
    journal.write("step-start", step="upload")
    journal.write("action-start", step="upload", attempt="a2", n=1, kind="upload",
                  text="sftp put x -> y")
    journal.write("action-end", step="upload", attempt="a2", n=1, status="ok")
    journal.write("step-end", step="upload", state="done", detail="both files are there")
    journal.write("run-end", outcome="done")
    report = build(path)
    for text in (markdown(report), html(report)):
        section = text.split("upload", 1)[1]
        assert "cut off" in section, section
        assert "printed nothing" not in text, section
        assert "No output of it was recorded" in text, section


def test_every_cut_off_while_the_stream_manager_was_down_is_in_the_downtime(
        tmp_path: Path) -> None:
    """Operator trial (stop 52): killed right after backup-live, again in
    start-service's wait, resumed each time: the downtime section named only
    start-service, the one step left in doubt. The gaps between the runs are
    downtime too, and a change ticket's reader asks where it went."""
    from runbook.report import build
    from runbook.report_html import html
    from runbook.report_md import markdown

    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    steps = ["backup-live", "start-service"]
    journal.write("run-start", config="c.toml", host="u@h:22", steps=steps, cutover=steps)
    journal.write("cutover-start")
    journal.write("step-start", step="backup-live")
    journal.write("step-end", step="backup-live", state="done", detail="moved")
    journal.write("run-start", config="c.toml", host="u@h:22", steps=steps, cutover=steps)
    journal.write("step-start", step="start-service")
    journal.write("run-start", config="c.toml", host="u@h:22", steps=steps, cutover=steps)
    journal.write("step-start", step="start-service")
    journal.write("step-end", step="start-service", state="done", detail="serves")
    journal.write("cutover-end", downtime_s=3.0)
    journal.write("run-end", outcome="done")
    report = build(path)
    md = markdown(report).split("## Downtime", 1)[1].split("\n## ", 1)[0]
    assert "2 times" in md and "after `backup-live`" in md and "in `start-service`" in md, md
    # The time known is the last record's, not the kill's (re-trial).
    assert md.count("its last record at") == 2, md
    page = html(report)
    assert "after <code>backup-live</code>" in page and "in <code>start-service</code>" in page


def test_a_run_cut_off_on_the_way_back_says_where_the_releases_are(tmp_path: Path) -> None:
    """Operator trial (stop 52): killed after rollback-set-aside, the report
    said "on the way back to the old one: 2 of its steps done", not that
    red5pro was gone, the old release in bak.red5pro and the new one set
    aside. The last way-back step done says where it left things."""
    from runbook.report import build

    journal = _journal(tmp_path, steps=["backup-live", "promote-new", "start-service"])
    journal.write("cutover-start", step="backup-live")
    journal.write("step-start", step="backup-live")
    journal.write("step-end", step="backup-live", state="done", detail="moved")
    journal.write("way-back")
    journal.write("step-start", step="rollback-stop-new")
    journal.write("step-end", step="rollback-stop-new", state="done",
                  detail="nothing runs from the new install")
    journal.write("step-start", step="rollback-set-aside")
    journal.write("step-end", step="rollback-set-aside", state="done",
                  detail="the new release is set aside as /usr/local/red5pro.failed-1")
    journal.close()
    standing = build(journal.path, estimate_from=[]).standing
    assert "2 of its steps done" in standing, standing
    assert "the new release is set aside as /usr/local/red5pro.failed-1" in standing, standing
    # Cut off in the next one: said too, since it may have moved red5pro
    # back already (second review).
    journal = Journal(journal.path)
    journal.write("run-start", config="c.toml", host="u@h:22", resumed=True,
                  steps=["backup-live", "promote-new", "start-service"])
    journal.write("step-start", step="rollback-restore")
    journal.write("action-start", step="rollback-restore", attempt="a", n=1, kind="shell",
                  text="$ mv -T -- /usr/local/bak.red5pro /usr/local/red5pro")
    journal.close()
    standing = build(journal.path, estimate_from=[]).standing
    assert "then rollback-restore in doubt" in standing, standing


def _timed(journal: Journal, seconds: list[float]) -> Path:
    """The journal's records stamped `seconds` after its first, in order."""
    from datetime import timedelta

    journal.close()
    records = [json.loads(line) for line in journal.path.read_text().splitlines()]
    assert len(records) == len(seconds), records
    first = datetime.fromisoformat(records[0]["ts"])
    for record, after in zip(records, seconds, strict=True):
        record["ts"] = (first + timedelta(seconds=after)).isoformat(timespec="milliseconds")
    journal.path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return journal.path


def _took(path: Path, step: str) -> list[tuple[str, list[str]]]:
    """The step's took cell and its attempts' lines, in Markdown and HTML."""
    report = build(path, estimate_from=[])
    said = []
    for text in (plain(markdown(report)), plain(html(report))):
        row = next(line for line in re.split(r"\n|<tr>", text)
                   if re.search(rf"\|\s*`{step}`\s*\||<td><code>{step}</code></td>", line))
        cells = [c.strip() for c in re.split(r"\||</?t[dh]>", row) if c.strip()]
        failed = text.split(f"{step}</code>: " if "<h3>" in text else f"### `{step}`: ")[-1]
        said.append((cells[4], [line for line in re.split(r"\n|<p>", failed)
                                if line.startswith("Attempt ")]))
    return said


def test_a_step_cut_off_took_at_least_the_time_to_its_runs_last_record(tmp_path: Path) -> None:
    """Operator trial (kill -9): a step cut off read "-" (or "unknown") as
    its time, though the journal went on 7.9 s after it began; another read
    "at least 7.9 s" from an earlier attempt's time alone. A cut-off attempt
    ran at least until the last record of its run."""
    journal = _journal(tmp_path, steps=["one", "two", "three"])
    journal.write("step-start", step="one")
    journal.write("step-end", step="one", state="done", detail="ok", elapsed_s=2.0)
    journal.write("step-start", step="two")
    journal.write("output", step="two", lines=[["out", "x"]])
    journal.write("run-start", config="c.toml", host="u@h:22", rehearsal=False,
                  steps=["one", "two", "three"], resumed=True)
    journal.write("step-start", step="two")
    journal.write("step-end", step="two", state="done", detail="ok", elapsed_s=1.5)
    journal.write("step-start", step="three")
    journal.write("output", step="three", lines=[["out", "y"]])
    path = _timed(journal, [0, 1, 3, 4, 11.9, 20, 21, 22.5, 23, 30.9])
    for took, _ in _took(path, "three"):
        assert took == "at least 7.9s", took
    for took, attempts in _took(path, "two"):
        # 1.5 s done on resume, and at least 7.9 s cut off in the first run.
        assert took == "at least 9.4s (2 attempts, 1 cut off)", took
        assert "(first run)" in attempts[0], attempts
        assert ", at least 7.9s: no end recorded" in attempts[0], attempts


def test_a_step_cut_off_at_its_start_took_an_unknown_time(tmp_path: Path) -> None:
    """Nothing after its start on record: no lower bound worth the name
    ("at least 0.0 s" reads as no time at all)."""
    journal = _journal(tmp_path, steps=["one", "two"])
    journal.write("step-start", step="one")
    journal.write("step-end", step="one", state="done", detail="ok", elapsed_s=2.0)
    journal.write("step-start", step="two")
    path = _timed(journal, [0, 1, 3, 4])
    for took, _ in _took(path, "two"):
        assert took == "unknown", took


def _upload_folder_said(run: Rehearsed, text: str) -> None:
    """The upload folder's leftovers, looked at on the host: each file in it by
    its path, with one command that removes those and nothing else."""
    folder = next(run.journal.parents[1].rglob("tmp/runbook-upload"))
    held = sorted(folder.iterdir())
    # The zip, the controller jar, and unpack's marker beside the zip.
    assert {path.suffix for path in held} == {".zip", ".jar", ".unpacked"}, held
    command = re.search(r"rm -f -- ([^`<\n]*)", text)
    assert command, text
    removes = command.group(1).split()
    assert sorted(removes) == [str(path) for path in held], (removes, held)
    assert str(folder) in text, text


def test_a_finished_runs_report_lists_what_is_left_to_do_after_the_upgrade(
        upgraded: Rehearsed) -> None:
    """Operator trial 53 (item 5): a successful run's report had no follow-ups
    for the change ticket: what was left behind (bak.red5pro, the old unit,
    the old database), the database the stream manager now uses, and the
    alarm thresholds recreate cannot carry, said only in its plan."""
    facts = upgraded.facts()
    local = Path(facts["install_real"])
    live = javaproperties.loads(
        (local / "bak.red5pro" / PROPS).read_text())  # the old release's, as it was
    unit = next(Path(local.parents[1], "lib/systemd/system").glob("red5pro.service.bak"))
    report = build(upgraded.journal, estimate_from=[upgraded.journal.parent])
    md, page = in_both(report, "After the upgrade")
    for text in (plain(md), page.replace("&#x27;", "'")):
        assert str(local / "bak.red5pro") in text, text
        assert str(unit) in text, text
        # The old database, by where the old release's config pointed.
        assert f"{live['config.dbHost']}:{live['config.dbPort']}" in text, text
        # The new one the stream manager now uses: its host, port and name.
        assert f"cluster database on 127.0.0.3:{facts['db_port']}" in text, text
        # What recreate's plan says of the alarm thresholds, which it does
        # not post: the 6.2.0 live's, read by export-config, all cluster.sql's.
        assert "60 %" in text and "scale-out alarm thresholds" in text, text
        for secret in upgraded.secrets:
            assert secret not in text
        # What the upload step sent, still in its folder (operator re-trial
        # 56b, F3: the whole distribution, named nowhere).
        _upload_folder_said(upgraded, text)


def test_a_failed_run_has_no_after_the_upgrade_section(failed: Rehearsed) -> None:
    assert "## After the upgrade" not in report_of(failed)


def _way_back_ids() -> list[str]:
    from steps import way_back

    return [step.id for step in way_back()]


def test_a_run_stopped_part_way_back_lists_the_way_backs_steps_still_to_come(
        tmp_path: Path) -> None:
    """Operator trial 53 (item 12): a run stopped on its way back listed the
    way back's steps it had done, not those still to come."""
    from tests.test_rollback import session

    journal = tmp_path / "run.jsonl"

    async def go() -> Outcome:
        async with rehearsal_host(tmp_path) as host:
            front = ScriptedFrontEnd({"rollback-set-aside": Decision(Answer.STOP)})
            return await session(host, journal, rollback_after="recreate").run(front)

    assert asyncio.run(go()) is Outcome.STOPPED
    report = build(journal, estimate_from=[])
    listed = [step.id for step in report.steps]
    back = _way_back_ids()
    assert listed[-len(back):] == back, listed
    assert report.step(back[-1]).state == "not reached"  # type: ignore[union-attr]
    steps = plain(section(markdown(report), "Steps"))
    for step_id in back:
        assert f"`{step_id}`" in steps, steps
    assert all(step_id in html(report) for step_id in back)


def test_a_way_back_resumed_after_a_real_failure_is_no_drill(tmp_path: Path) -> None:
    """Operator trial 53 (item 12): a way back taken after a real failure,
    resumed with the --rollback-after its exit lines suggest, read
    "practised from there" in the report, like a drill."""
    from tests.test_rollback import session

    journal = tmp_path / "run.jsonl"

    async def go() -> tuple[Outcome, Outcome]:
        async with rehearsal_host(tmp_path) as host:
            license_key = host.install_dir / "red5pro" / "LICENSE.KEY"

            def lose_the_key(step: Any, plan: list[Any]) -> None:
                if step.id == "start-service":
                    license_key.unlink()

            failed = await session(host, journal).run(ScriptedFrontEnd(
                on_confirm=lose_the_key, recoveries={"start-service": [Recovery.STOP]}))
            back = await session(host, journal, rollback_after="service-unit",
                                 resume=replay(journal)).run(ScriptedFrontEnd())
            return failed, back

    failed, back = asyncio.run(go())
    assert failed is Outcome.FAILED and back is Outcome.ROLLED_BACK, (failed, back)
    report = build(journal, estimate_from=[])
    head = plain(markdown(report))
    why = next(line for line in head.splitlines() if line.startswith("| Way back |"))
    assert "practis" not in why and "drill" not in why, why
    assert "start-service failed" in why, why
    assert "practis" not in html(report)


def test_a_way_back_resumed_after_a_stopped_run_is_no_drill(tmp_path: Path) -> None:
    """Review (stop 53): only a failed earlier run made a resumed
    --rollback-after read as a real way back; one stopped (or killed) at a
    cutover step's question read "practised from there". `runbook run` takes
    --rollback-after too, so the operator's real way back was written up as a
    drill. Only a drill's own resume practises."""
    from tests.test_rollback import session

    journal = tmp_path / "run.jsonl"

    async def go() -> tuple[Outcome, Outcome]:
        async with rehearsal_host(tmp_path) as host:
            stopped = await session(host, journal).run(ScriptedFrontEnd(
                {"start-service": Decision(Answer.STOP)}))
            back = await session(host, journal, rollback_after="service-unit",
                                 resume=replay(journal)).run(ScriptedFrontEnd())
            return stopped, back

    stopped, back = asyncio.run(go())
    assert stopped is Outcome.STOPPED and back is Outcome.ROLLED_BACK, (stopped, back)
    report = build(journal, estimate_from=[])
    why = next(line for line in plain(markdown(report)).splitlines()
               if line.startswith("| Way back |"))
    assert "practis" not in why and "drill" not in why, why
    assert "--rollback-after service-unit" in why, why


def test_a_refused_host_keys_known_hosts_line_is_copied_from_the_markdown_as_it_is(
        tmp_path: Path) -> None:
    """Re-trial 53 (noticed): the Markdown report escaped the line to add to
    known_hosts (`\\[127.0.0.1\\]:40541 ssh-ed25519 ...`), so copied from the
    raw .md it carried the backslashes. It is a code span, which Markdown
    takes as it is; the HTML report shows it as it is too."""
    from runbook.shell import ADD_THIS_LINE

    line = "[127.0.0.1]:40541 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK_x*y"
    detail = (f"u@h: refusing the host key SHA256:x: it is not the key /sb/known_hosts "
              f"trusts for this host. Only if they are the same, ssh-keygen -R "
              f"'[127.0.0.1]:40541' -f /sb/known_hosts, {ADD_THIS_LINE}/sb/known_hosts:\n"
              f"{line}\nNothing ran on the host [ok].")
    path = tmp_path / "run.jsonl"
    path.write_text("\n".join(json.dumps(record) for record in (
        {"event": "run-start", "ts": "2026-01-01T00:00:00+00:00", "steps": ["preflight"]},
        {"event": "step-start", "ts": "2026-01-01T00:00:00.500+00:00", "step": "preflight"},
        {"event": "step-end", "ts": "2026-01-01T00:00:01+00:00", "step": "preflight",
         "state": "failed", "detail": detail},
        {"event": "run-end", "ts": "2026-01-01T00:00:02+00:00", "outcome": "failed"},
    )) + "\n")
    report = build(path, estimate_from=[])
    text = markdown(report)
    assert f"`{line}`" in text, text
    assert "\\[127.0.0.1\\]:40541 ssh" not in text, text
    # The rest of the detail is escaped as before.
    assert "Nothing ran on the host \\[ok\\]." in text, text
    page = html(report)
    assert line in page and "\\[" not in page, page


def test_a_way_back_whose_run_end_was_cut_off_says_the_old_release_serves(
    went_back: Rehearsed, tmp_path: Path
) -> None:
    """Operator trial 54 (F26): a finished way back whose last record (its
    run-end) was cut off as it was written was reported as "the new stream
    manager serves" beside "After the way back | ... the old install", and the
    report said nothing of the record left out (the log did)."""
    cut = tmp_path / "cut.jsonl"
    whole = went_back.journal.read_bytes()
    assert json.loads(whole.splitlines()[-1])["event"] == "run-end"
    cut.write_bytes(whole[:-40])
    report = build(cut, estimate_from=[])
    text = plain(markdown(report))
    head = _head(text)
    stands = head["Where it stands"]
    assert "new stream manager serves" not in stands, stands
    assert "the old stream manager serves" in stands, stands
    assert "cut off" in stands, stands
    assert "did not finish" not in head["Release"], head
    assert not report.going_on, report.going_on
    said = " ".join(text.split())
    assert "last record was cut off" in said, said[:3000]
    page = " ".join(html(report).split())
    assert "new stream manager serves" not in page
    assert "last record was cut off" in page
    # As `runbook report` prints it (the trial's words were from there).
    printed = runbook("report", str(cut), state=tmp_path / "state")
    assert printed.returncode == 0, printed.stderr
    said = " ".join(plain(printed.stdout).split())
    assert "new stream manager serves" not in said, said[:3000]
    assert "last record was cut off" in said, said[:3000]


def test_a_way_back_whose_steps_are_not_all_done_on_record_says_what_serves_is_not_known(
        tmp_path: Path) -> None:
    """Operator trial 54 (F26): where it stands follows what the records show;
    the cutover's end on record after the way back began, with a step of it
    not done, tells neither release as serving."""
    journal = _journal(tmp_path, steps=["backup-live"])
    journal.write("cutover-start", step="backup-live")
    journal.write("step-start", step="backup-live")
    journal.write("step-end", step="backup-live", state="done", detail="moved")
    journal.write("way-back", why="drill", steps=["rollback-restore", "rollback-start"])
    journal.write("step-start", step="rollback-restore")
    journal.write("step-end", step="rollback-restore", state="done", detail="put back")
    journal.write("cutover-end", complete=True, downtime_s=5.0)
    journal.close()
    report = build(journal.path, estimate_from=[])
    stands = _head(plain(markdown(report)))["Where it stands"]
    assert stands.startswith("not known"), stands
    assert "serves again" not in stands and "new stream manager serves" not in stands, stands


def test_an_older_journals_relative_config_is_not_resolved_where_the_report_is_made(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator trial 54 (F27): a journal written before runs recorded their
    config's absolute path says `c.toml`; the report named
    `runbook run $PWD/c.toml --resume ...`, a file that is not there. The
    folder that run was started in is not on record: said so."""
    journal = _journal(tmp_path, steps=["backup-live", "promote-new"])
    journal.write("cutover-start", step="backup-live")
    journal.write("step-start", step="backup-live")
    journal.write("step-end", step="backup-live", state="done", detail="moved")
    journal.close()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    report = build(journal.path, estimate_from=[])
    assert report.going_on, report
    for what, command in report.going_on:
        assert str(elsewhere) not in command, command
        assert command.startswith("runbook r") and " c.toml " in command, command
        assert "relative to the folder that run was started in" in what, what
        assert "not on record" in what, what


def test_a_finished_upgrades_report_does_not_call_what_stays_the_way_back(
        upgraded: Rehearsed) -> None:
    """Operator trial 54 (F21): the report of a finished upgrade said of
    bak.red5pro "it is the way back", while `runbook rollback` refuses once
    the upgrade finished. After the upgrade says what it is now, and what
    matters before going back by hand (FACTS §0)."""
    report = build(upgraded.journal, estimate_from=[])
    for text in in_both(report, "After the upgrade"):
        said = " ".join(plain(text).replace("&#x27;", "'").split())
        assert "it is the way back" not in said, said
        assert "bak.red5pro" in said and "by hand" in said, said
        assert "delete the new nodegroups through the new stream manager's API" in said, said
        assert "tears down the nodes it does not know" in said, said


def test_a_lost_connection_says_whether_the_run_reconnected(tmp_path: Path) -> None:
    """Operator trial 54 (F1 LOW): the report said "the run reconnected or
    gave up as the steps say" of a drop it had reconnected after; the
    journal knows which, and after how many attempts."""
    journal = _journal(tmp_path, steps=["backup-live", "promote-new"])
    journal.write("step-start", step="backup-live")
    journal.write("reconnecting", host="u@h:22", attempt=1, wait_s=0.0,
                  reason="ConnectionLost")
    journal.write("reconnecting", host="u@h:22", attempt=2, wait_s=1.0,
                  reason="ConnectionRefusedError")
    journal.write("connected", host="u@h:22", fingerprint="SHA256:x")
    journal.write("step-end", step="backup-live", state="done", detail="moved")
    journal.write("step-start", step="promote-new")
    journal.write("reconnecting", host="u@h:22", attempt=1, wait_s=0.0,
                  reason="TimeoutError")
    journal.write("reconnecting", host="u@h:22", attempt=2, wait_s=1.0,
                  reason="TimeoutError")
    journal.write("reconnecting", host="u@h:22", attempt=3, wait_s=2.0,
                  reason="TimeoutError")
    journal.write("step-end", step="promote-new", state="in-doubt", detail="lost")
    journal.write("run-end", outcome="failed", exit_code=1)
    journal.close()
    report = build(journal.path, estimate_from=[])
    for text in (plain(section(markdown(report), "On the record")), html(report)):
        said = " ".join(text.split())
        assert "as the steps say" not in said, said
        assert said.count("was lost") == 2, said
        # And when it was back (trial 56, F4).
        assert re.search(r"\(ConnectionLost\); the run reconnected at \d\d:\d\d:\d\d after 2 "
                         r"attempts", said), said
        assert "(TimeoutError); the run did not reconnect (3 attempts)" in said, said


def test_a_drill_back_before_the_last_cutover_step_whose_run_end_was_cut_off_went_back(
        tmp_path: Path) -> None:
    """F26 again, for a way back taken before every cutover step ran (recreate
    not reached): what the records show is the way back's steps, not the
    upgrade's."""
    journal = _journal(tmp_path, steps=["backup-live", "recreate"])
    journal.write("cutover-start", step="backup-live")
    journal.write("step-start", step="backup-live")
    journal.write("step-end", step="backup-live", state="done", detail="moved")
    journal.write("way-back", why="drill", steps=["rollback-restore"])
    journal.write("step-start", step="rollback-restore")
    journal.write("step-end", step="rollback-restore", state="done", detail="put back")
    journal.write("cutover-end", complete=True, downtime_s=5.0)
    journal.close()
    head = _head(plain(markdown(build(journal.path, estimate_from=[]))))
    assert "did not finish" not in head["Release"], head
    assert head["Where it stands"].startswith("rolled back"), head


def test_a_rolled_back_report_never_says_to_remove_the_old_database(
        went_back: Rehearsed) -> None:
    """Operator trial 54 (F4): the properties step said, at prepare time, "the
    stream manager now uses the cluster database on NEW ...; the old release's
    database, on OLD, is no longer used: keep it while the way back may be
    needed ..., then remove it", and the report of a run rolled back quoted it
    under "Properties decisions": after the way back, OLD is the database
    production runs on. What the step says must be true whenever it is read."""
    facts = went_back.facts()
    live = javaproperties.loads(
        (Path(facts["install_real"]) / "red5pro" / PROPS).read_text())  # the old one, back
    old = f"{live['config.dbHost']}:{live['config.dbPort']}"
    report = build(went_back.journal, estimate_from=[])
    md, page = markdown(report), html(report).replace("&#x27;", "'")
    for text in (plain(md), page):
        assert "no longer used" not in text, text
        assert not re.search(r"remove (it|the old database)", text), text
    said = plain(section(md, "Properties decisions"))
    # What the merged file points at, and that the old database stays the old
    # release's: true before the cutover, after it, and after a way back.
    assert f"points the new release at the cluster database on 127.0.0.3:{facts['db_port']}" \
        in said, said
    assert f"the old release's database, on {old}, stays the one the old release uses" in said, \
        said


def test_a_way_back_whose_run_end_was_cut_off_is_not_offered_to_resume(
    went_back: Rehearsed, tmp_path: Path
) -> None:
    """Review 54b (L5): the report and `runbook rollback` took a finished way
    back whose run-end was cut off as rolled back (trial 54, F26), yet the
    resume dialog and --resume still offered it as a run that did not finish,
    to be continued. It is an end, as a written run-end is."""
    from runbook.earlier_runs import unfinished

    folder = tmp_path / "runs"
    folder.mkdir()
    cut = folder / "cut.jsonl"
    cut.write_bytes(went_back.journal.read_bytes()[:-40])
    assert replay(cut).outcome is None, "the run-end is cut off"
    assert unfinished(folder) is None
    printed = runbook("rehearse", "--headless", "--resume", "--journal", str(cut),
                      "--sandbox", str(tmp_path / "sb"), state=tmp_path / "state")
    assert printed.returncode == 2, printed.stdout + printed.stderr
    assert "rolled back; there is nothing to resume" in printed.stderr, printed.stderr


@dataclass
class LeftOnHost:
    """A run rolled back, and what the host held afterwards, looked at there."""
    run: Rehearsed
    failed_trees: list[Path]
    unit_backups: list[Path]
    new_db: tuple[str, int]


@pytest.fixture(scope="module")
def back_from_start(tmp_path_factory: pytest.TempPathFactory) -> LeftOnHost:
    """`runbook rehearse --rollback-after start-service`: the new release
    served, recreate never began, the way back put the old one back."""
    from runbook.cli import wiring

    tmp = tmp_path_factory.mktemp("back-from-start")
    journal = tmp / "runs" / "run.jsonl"

    async def go() -> LeftOnHost:
        async with rehearsal_host(tmp) as host:
            secrets = live_secrets(host)
            session = wiring.session(wiring.rehearsal_settings(host), token=host.api_token,
                                     journal_path=journal, state_dir=host.sandbox / ".operator",
                                     isolated=True, rollback_after="start-service")
            outcome = await session.run(ScriptedFrontEnd())
            units = host.sandbox / "lib/systemd/system"
            return LeftOnHost(Rehearsed(journal, outcome, secrets, records(journal)),
                              sorted(host.install_dir.glob("red5pro.failed-*")),
                              sorted(units.glob("red5pro.service.bak")), host.new_db)

    left = asyncio.run(go())
    assert left.run.outcome is Outcome.ROLLED_BACK, left.run.records[-5:]
    return left


LEFT_AFTER_WAY_BACK = "Left on the host after the way back"


def _left_items(report: Report) -> tuple[str, str]:
    """The list of what the way back left, as Markdown (read plain) and as HTML."""
    text = plain(markdown(report))
    page = html(report)
    found = re.search(rf"<h2>{LEFT_AFTER_WAY_BACK}</h2>\n<ul>(.*?)</ul>", page, re.S)
    assert found, page[-4000:]
    return section(text, LEFT_AFTER_WAY_BACK), found.group(1)


def test_a_way_back_lists_what_it_left_on_the_host(back_from_start: LeftOnHost) -> None:
    """Operator trial 56 (F2): after the way back the report listed nothing
    left on the host, though the failed new tree (named only in one step's
    detail), the old unit's red5pro.service.bak and the new database's cluster
    schema were all still there; a finished upgrade has "After the upgrade"."""
    left = back_from_start
    assert len(left.failed_trees) == 1 and len(left.unit_backups) == 1, left
    report = build(left.run.journal, estimate_from=[])
    for said in _left_items(report):
        # Each, by its path on the host, with how to look or remove it.
        assert str(left.failed_trees[0]) in said, said
        assert f"rm -r -- {left.failed_trees[0]}" in said, said
        assert str(left.unit_backups[0]) in said, said
        # The new database, which the way back does not touch: the schema
        # step's tables, taken as they are by another attempt (recreate made
        # nothing), and how to drop it where no attempt follows.
        host, port = left.new_db
        assert f"mysql --protocol=tcp -h {host} -P {port} -u " in said, said
        assert "DROP DATABASE cluster" in said, said
        assert not any(secret in said for secret in left.run.secrets), said
        # The upload folder: the zip, the jar and unpack's marker stay there
        # (operator re-trial 56b, F3: listed nowhere).
        _upload_folder_said(left.run, said)
    assert "After the upgrade" not in markdown(report)


def test_a_way_back_after_recreate_lists_the_new_databases_leftovers_too(
        went_back: Rehearsed) -> None:
    """The list holds what "Before another attempt" says must go first, with
    the rest, so the ticket's follow-ups are whole."""
    report = build(went_back.journal, estimate_from=[])
    for said in _left_items(report):
        assert "red5pro.failed-" in said and "red5pro.service.bak" in said, said
        assert "launch configs and scale policies recreate made" in said, said
        # Not said twice: the schema's own line is for a database recreate left alone.
        assert said.count("DROP DATABASE cluster") == 1, said


def test_a_command_held_up_by_an_ssh_outage_is_dated_when_it_ran(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator trial 56 (F4): the host went down as promote-new was
    confirmed and came back 80 s later; the report dated the mv at its
    request ("# 15:11:57 ok") though it ran when the connection was back
    (15:13:17), and neither the report nor `runbook log` said when that was."""
    from runbook import claim as host_claim
    from runbook.cli import wiring
    from runbook.report import clock
    from runbook.standing import said_time

    journal = tmp_path / "runs" / "run.jsonl"

    async def go() -> Outcome:
        async with rehearsal_host(tmp_path) as host:
            sshd = host._sshd
            assert sshd is not None and sshd._acceptor is not None
            port = host.ssh_port
            loop = asyncio.get_running_loop()
            back: list[asyncio.Task[int]] = []
            promoting: list[bool] = []
            look = host_claim.taken_from_us

            class HostDownAtPromote(ScriptedFrontEnd):
                async def confirm(self, step: Any, plan: list[Any]) -> Decision:
                    if step.id == "promote-new":
                        promoting.append(True)
                    return await super().confirm(step, plan)

            async def then_host_down(*args: Any, **kwargs: Any) -> Any:
                # The host goes away once promote-new is confirmed and the
                # run has seen its claim is still its own (the look each
                # changing step makes first): no new connection, the one
                # there cut, and runbook has seen it go before the mv is sent.
                other = await look(*args, **kwargs)
                if promoting and not back:
                    assert sshd._acceptor is not None
                    sshd._acceptor.close()
                    sshd._acceptor = None
                    sshd.drop_connections()
                    await asyncio.sleep(1)
                    loop.call_later(3, lambda: back.append(
                        loop.create_task(sshd.start(port))))
                return other

            monkeypatch.setattr(host_claim, "taken_from_us", then_host_down)
            session = wiring.session(wiring.rehearsal_settings(host), token=host.api_token,
                                     journal_path=journal, state_dir=host.sandbox / ".operator",
                                     isolated=True)
            outcome = await session.run(HostDownAtPromote())
            assert back, "the host came back"
            return outcome

    assert asyncio.run(go()) is Outcome.DONE
    said = records(journal)
    asked = next(i for i, r in enumerate(said) if r["event"] == "action-start"
                 and r.get("step") == "promote-new" and "mv -T" in r["text"])
    ended = next(r for r in said[asked:] if r["event"] == "action-end"
                 and r.get("step") == "promote-new")
    lost = [r for r in said[asked:] if r["event"] == "reconnecting"]
    again = next(r for r in said[asked:] if r["event"] == "connected")
    assert lost and said.index(again) < said.index(ended), said[asked:]
    started = said[0]["ts"]
    when_back, when_ended = clock(again["ts"], started), clock(ended["ts"], started)
    assert clock(said[asked]["ts"], started) != when_back, "the outage lasted seconds"
    report = build(journal, estimate_from=[])
    for text in (plain(markdown(report)), html(report)):
        commands = text[text.index("promote-new", text.index("Commands")):]
        command = commands[:commands.index("mv -T")]
        # When it was asked, when the connection was back, and when it ended.
        assert when_back in command and when_ended in command, command
        remarks = text[text.index("On the record"):][:600]
        assert f"reconnected at {when_back}" in remarks, remarks
    log = [line for step, line in log_lines(journal) if step == "promote-new"]
    assert any(f"SSH connection back at {said_time(again['ts'])}" in line for line in log), log


def test_the_upload_folders_command_removes_nothing_outside_that_folder(
        tmp_path: Path) -> None:
    """The command to clear the upload folder is made from the journal's
    paths: one that is not right in the folder it names is left out."""
    journal = _journal(tmp_path, steps=["upload"])
    inside = "/tmp/up/red5pro-server-11.1.0.b835-release.zip"
    for path in (inside, "/etc/passwd", "/tmp/up/../etc/passwd", "/tmp/up/sub/x.jar", "x.jar"):
        journal.write("note", step="upload", kind="uploaded", text=f"{path} is there",
                      path=path, folder="/tmp/up")
    journal.write("run-end", outcome="done", exit_code=0)
    journal.close()
    said = [note.text for note in build(journal.path, estimate_from=[]).to_do_after]
    assert len(said) == 1, said
    assert said[0].endswith(f"rm -f -- {inside}"), said


def test_every_config_a_run_used_is_on_the_ticket(tmp_path: Path) -> None:
    """Operator trial 57, F14: a run begun with sm1.toml and resumed with
    sm1b.toml named only sm1b.toml: the config that ran its first steps was
    on no line of the ticket."""
    journal = Journal(tmp_path / "run.jsonl")
    journal.write("run-start", config="/ops/sm1.toml", host="u@h:22", rehearsal=False,
                  steps=["preflight"], resumed=False)
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.write("run-start", config="/ops/sm1b.toml", host="u@h:22", rehearsal=False,
                  steps=["preflight"], resumed=True)
    journal.write("run-end", outcome="stopped", exit_code=3)
    journal.close()
    report = build(journal.path, estimate_from=[])
    for text in (plain(markdown(report)), html(report)):
        assert "/ops/sm1.toml" in text and "/ops/sm1b.toml" in text, text[:1500]


def test_a_unit_the_upgrade_did_not_replace_is_not_said_undone(tmp_path: Path) -> None:
    """Operator re-trial 57b (F-G): 10.9 to 11.1, where 10.9 already runs the
    unit 11.1 ships, then the way back. The report said service-unit was
    "done, then undone by the way back", while rollback-unit said "service-unit
    did not replace the unit": the way back had nothing of it to undo."""
    import io

    from runbook.cli import wiring
    from runbook.headless import HeadlessFrontEnd
    from screens.run_state import RunState

    journal = tmp_path / "runs" / "run.jsonl"
    front = ScriptedFrontEnd()
    cards: list[Any] = []

    async def go() -> Outcome:
        async with rehearsal_host(tmp_path, scenario="10.9-to-11.1") as host:
            session = wiring.session(wiring.rehearsal_settings(host), token=host.api_token,
                                     journal_path=journal, state_dir=host.sandbox / ".operator",
                                     isolated=True, rollback_after="service-unit")
            cards.extend(session.cards)
            return await session.run(front)

    assert asyncio.run(go()) is Outcome.ROLLED_BACK
    # The front ends say it as the report does, from the run's end (review
    # 58c, 4: the TUI's row and the headless summary said it undone).
    shown = io.StringIO()
    headless = HeadlessFrontEnd(cards, out=shown, stdin=io.StringIO())
    tui = RunState(cards, "u@h:22")
    for n, event in enumerate(front.events):
        headless.tell(event)
        tui.apply(event, float(n))
    summary = next(line for line in shown.getvalue().splitlines()
                   if line.lstrip().startswith("service-unit "))
    assert "undone" not in summary and "nothing of it for the way back to undo" in summary, \
        summary
    assert tui.shown_state("service-unit") == "nothing-to-undo"
    assert tui.shown_state("promote-new") == "undone"
    report = build(journal, estimate_from=[])
    rows = {line.split(" | ")[1].strip("` "): line for line in markdown(report).splitlines()
            if line.startswith("| ") and line.count(" | ") > 5}
    assert "did not replace the unit" in rows["rollback-unit"], rows["rollback-unit"]
    said = rows["service-unit"]
    assert "undone" not in said and "nothing of it for the way back to undo" in said, said
    unit = report.step("service-unit")
    assert unit is not None and not unit.undone
    # The steps it did undo still say so.
    assert "then undone by the way back" in rows["promote-new"], rows["promote-new"]
    page = html(report)
    assert "nothing of it for the way back to undo" in page
