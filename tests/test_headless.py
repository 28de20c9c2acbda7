"""The headless front end asks what the TUI asks (issue 11): the step id typed for
destructive and cutover steps, and a look at new defaults before they go in.

Driven the way an operator drives it: answers on stdin, through the real front end and,
end to end, through `runbook rehearse --headless` against the rehearsal host.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import pty
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from runbook.events import StepChanged
from runbook.executor import Answer, Decision
from runbook.headless import HeadlessFrontEnd
from runbook.model import Phase, StepCard, StepReport, StepState

ROOT = Path(__file__).parents[1]
STATE = Path(tempfile.mkdtemp(prefix="runbook-test-state-"))
# What a fresh rehearsal asks before cutover, in order: y, or the id of a step that
# deletes or moves files.
PREPARE_ANSWERS = "".join(f"{answer}\n" for answer in (
    "y", "y", "y", "y", "y", "y", "strip-autoscale", "y", "y", "y"))

CUTOVER = StepCard(11, "delete-nodegroups", "Delete every nodegroup", Phase.CUTOVER,
                   "Deletes every nodegroup.", skippable=False)
UPLOAD = StepCard(4, "upload", "Upload the distribution", Phase.PREPARE, "Copies it.")
UNPACK = StepCard(5, "unpack", "Unpack", Phase.PREPARE, "Unzips it.", destructive=True)


def front(answers: str, *cards: StepCard, assume_yes: bool = False,
          out: io.StringIO | None = None) -> tuple[HeadlessFrontEnd, io.StringIO]:
    shown = out or io.StringIO()
    return HeadlessFrontEnd(cards, assume_yes=assume_yes, out=shown,
                            stdin=io.StringIO(answers)), shown


def confirm(headless: HeadlessFrontEnd, step_id: str) -> Decision:
    return asyncio.run(headless.confirm(StepReport(step_id), []))


def runbook(*args: str, stdin: str = "", env: dict[str, str] | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "SM_API_TOKEN"}
    environ["XDG_STATE_HOME"] = str(STATE)
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "runbook.cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env=environ)


# --- typed confirmation ------------------------------------------------------------


def test_a_cutover_step_takes_its_id_typed_not_y() -> None:
    headless, shown = front("y\ndelete-nodegroup\ndelete-nodegroups\n", CUTOVER)
    assert confirm(headless, "delete-nodegroups") == Decision(Answer.RUN)
    text = shown.getvalue()
    assert text.count("type delete-nodegroups to run it, or [q] stop") == 3  # and twice again
    assert "y is not enough here" in text
    assert "that is not delete-nodegroups" in text
    # A cutover step cannot be skipped, so skipping is not offered.
    assert "[s] skip" not in text


def test_a_destructive_prepare_step_takes_its_id_too_and_can_be_skipped() -> None:
    headless, shown = front("y\ns\nunpacked by hand\n", UNPACK)
    assert confirm(headless, "unpack") == Decision(Answer.SKIP, "unpacked by hand")
    assert "type unpack to run it, [s] skip or [q] stop" in shown.getvalue()


def test_the_end_of_input_stops_rather_than_runs() -> None:
    headless, _ = front("", CUTOVER)
    assert confirm(headless, "delete-nodegroups") == Decision(Answer.STOP)


def test_an_ordinary_step_still_takes_y() -> None:
    headless, shown = front("y\n", UPLOAD)
    assert confirm(headless, "upload") == Decision(Answer.RUN)
    assert "[y] run" in shown.getvalue()


def test_yes_answers_for_the_operator_and_says_so() -> None:
    headless, shown = front("", CUTOVER, assume_yes=True)
    assert confirm(headless, "delete-nodegroups") == Decision(Answer.RUN)
    assert "-> run (--yes)" in shown.getvalue()


def test_a_rehearsal_headless_runs_a_cutover_step_only_once_its_id_is_typed(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "j.jsonl"
    answers = PREPARE_ANSWERS + "y\ndelete-nodegroup\ndelete-nodegroups\nq\n"
    result = runbook("rehearse", "--headless", "--journal", str(journal), stdin=answers)
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr
    assert "y is not enough here" in result.stdout
    assert "that is not delete-nodegroups" in result.stdout
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    confirmed = [(r["step"], r["answer"]) for r in records if r["event"] == "confirm"]
    assert confirmed[-2:] == [("delete-nodegroups", "run"), ("backup-live", "stop")]
    ended = {r["step"]: r["state"] for r in records if r["event"] == "step-end"}
    assert ended["delete-nodegroups"] == "done" and "backup-live" not in ended
    assert "Traceback" not in result.stderr


# --- colour ------------------------------------------------------------------------


def on_a_terminal(monkeypatch: pytest.MonkeyPatch, no_color: str | None) -> str:
    """One cutover step asked and failed, with the output on a pseudo-terminal."""
    monkeypatch.setenv("TERM", "xterm")
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    main, side = pty.openpty()
    with open(side, "w", encoding="utf-8") as terminal:
        headless = HeadlessFrontEnd([CUTOVER], out=terminal,
                                    stdin=io.StringIO("delete-nodegroups\n"))
        assert confirm(headless, "delete-nodegroups") == Decision(Answer.RUN)
        headless.tell(StepChanged(StepReport("delete-nodegroups", StepState.FAILED, "gone")))
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: nothing more, the other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_and_none_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    coloured = on_a_terminal(monkeypatch, None)
    assert "\x1b[" in coloured and "DESTRUCTIVE" in coloured and "FAILED" in coloured
    plain = on_a_terminal(monkeypatch, "1")
    assert "\x1b" not in plain and "[DESTRUCTIVE]" in plain and "[FAILED" in plain
    # NO_COLOR set but empty does not count (no-color.org).
    assert "\x1b[" in on_a_terminal(monkeypatch, "")
