"""kill -9 the runbook anywhere, resume it, and the upgrade still ends right.

Each trial runs `runbook rehearse --headless --yes --sandbox DIR` as a real
process, kills it with SIGKILL when its journal reaches a chosen record (a step
boundary, a step's first action, a file edit under way), then resumes with
`--resume` on the same sandbox and checks the host's end state: the new
release live and configured, the old one kept aside, the nodegroups rebuilt in
the new database, and nothing left running.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import javaproperties
import pytest

from runbook.rehearsal import cloud
from runbook.rehearsal.sandbox import processes_mentioning
from steps import procedure

ROOT = Path(__file__).parents[1]
NEW = "red5pro-server-11.1.0.b835-release"
OLD = "red5pro-server-6.2.0.b406-release"
PROPS = "webapps/streammanager/WEB-INF/red5-web.properties"
STEPS = [step.id for step in procedure()]

Trigger = Callable[[dict[str, object]], bool]


@dataclass(frozen=True)
class Trial:
    name: str
    trigger: Trigger
    delay: float = 0.0  # seconds after the trigger record before the kill


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    env.pop("SM_API_TOKEN", None)
    return env


def _records(sandbox: Path) -> list[dict[str, object]]:
    runs = sandbox / ".operator" / "runs"
    found: list[dict[str, object]] = []
    for journal in sorted(runs.glob("*.jsonl")) if runs.is_dir() else []:
        for line in journal.read_bytes().split(b"\n"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue  # torn or partial: the writer is mid-line
    return found


def _rehearse(sandbox: Path, tmp_path: Path, *extra: str,
              yes: bool = True) -> subprocess.Popen[str]:
    """The rehearsal as a process of its own; without `yes`, its stdin is a
    pipe nobody writes to, so it waits at its first question."""
    return subprocess.Popen(
        [sys.executable, "-m", "runbook.cli", "rehearse", "--headless",
         *(["--yes"] if yes else []), "--sandbox", str(sandbox), *extra],
        cwd=ROOT, env=_env(tmp_path), stdin=subprocess.DEVNULL if yes else subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _kill_when(process: subprocess.Popen[str], sandbox: Path, trial: Trial,
               limit: float = 90) -> bool:
    """SIGKILL the runbook once the trigger record is in its journal; False
    when the run ended first."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if any(trial.trigger(record) for record in _records(sandbox)):
            if trial.delay:
                time.sleep(trial.delay)
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.005)
    raise AssertionError(f"{trial.name}: the trigger never came")


def end_state_problems(sandbox: Path) -> list[str]:
    install = sandbox / "usr" / "local"
    state = json.loads((sandbox / ".rehearsal" / "state.json").read_text())
    problems = []
    if not (install / "red5pro" / NEW).is_symlink():
        problems.append("the new release is not live")
    if not (install / "bak.red5pro" / OLD).is_symlink():
        problems.append("the old install is not kept aside")
    if list(install.glob("red5pro-server-*")):
        problems.append("an unpacked tree is left over")
    merged = install / "red5pro" / PROPS
    values = javaproperties.loads(merged.read_text()) if merged.exists() else {}
    if values.get("config.dbHost") != state["new_db"][0]:
        problems.append(f"config.dbHost is {values.get('config.dbHost')!r}")
    if len(values) < 40:
        problems.append(f"red5-web.properties has only {len(values)} keys")
    context = install / "red5pro" / "webapps/streammanager/WEB-INF/applicationContext.xml"
    if "AWSInstanceController" not in (context.read_text() if context.exists() else ""):
        problems.append("applicationContext.xml lost the live controller")
    if len(cloud.list_nodegroups(sandbox, *state["new_db"])) != len(cloud.SEED_GROUPS):
        problems.append("the nodegroup is not rebuilt in the new database")
    if cloud.list_nodegroups(sandbox, *state["old_db"]):
        problems.append("nodegroups are left in the old database")
    return problems


def run_trial(tmp_path: Path, trial: Trial) -> str | None:
    """None when the trial ended right, else what went wrong."""
    sandbox = tmp_path / trial.name
    first = _rehearse(sandbox, tmp_path)
    # Read as it is written: a pipe nobody reads holds 64 KiB, and a run whose
    # output outgrows that (the rehearsal's, by recreate, in a long tmp path)
    # blocks on its next line, so the trigger never comes.
    assert first.stdout is not None
    drain = threading.Thread(target=first.stdout.read, daemon=True)
    drain.start()
    try:
        killed = _kill_when(first, sandbox, trial)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        drain.join(timeout=30)
        for stream in (first.stdout, first.stderr):
            if stream is not None:
                stream.close()
    if not killed:
        return f"the first run ended before the trigger ({first.returncode})"
    second = _rehearse(sandbox, tmp_path, "--resume")
    try:
        out, _ = second.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        second.kill()
        out, _ = second.communicate()
        return "the resumed run did not finish: " + out[-1500:]
    if second.returncode != 0:
        return f"the resumed run exited {second.returncode}: " + out[-2000:]
    problems = end_state_problems(sandbox)
    left = processes_mentioning(sandbox)
    if left:
        problems.append(f"processes left running: {left}")
    return "; ".join(problems) or None


def _check(tmp_path: Path, trials: list[Trial]) -> None:
    failures = {}
    for trial in trials:
        problem = run_trial(tmp_path, trial)
        if problem is not None:
            failures[trial.name] = problem
    tried = len(trials)
    print(f"\nkill -9 trials: {tried} tried, {tried - len(failures)} correct")
    assert not failures, json.dumps(failures, indent=2)


def _after_step(step: str) -> Trial:
    return Trial(f"after-{step}", lambda r: r.get("event") == "step-end" and r.get("step") == step)


def _first_action_of(step: str) -> Trial:
    return Trial(f"in-{step}",
                 lambda r: r.get("event") == "action-start" and r.get("step") == step)


def _inside_edit(step: str, delay: float) -> Trial:
    return Trial(f"edit-{step}-{int(delay * 1000)}ms",
                 lambda r: r.get("event") == "action-start" and r.get("step") == step
                 and r.get("kind") == "editfile", delay)


@pytest.mark.timeout(1800)
def test_kill_9_at_every_step_boundary(tmp_path: Path) -> None:
    _check(tmp_path, [_after_step(step) for step in STEPS[:-1]])


@pytest.mark.timeout(1800)
def test_kill_9_in_the_middle_of_every_step(tmp_path: Path) -> None:
    # preflight and new-database only look; every other step changes something.
    _check(tmp_path, [_first_action_of(step) for step in STEPS[2:]])


@pytest.mark.timeout(1800)
def test_kill_9_inside_every_file_edit(tmp_path: Path) -> None:
    _check(tmp_path, [_inside_edit(step, delay) for step in ("carry-over", "properties")
                      for delay in (0.0, 0.01, 0.03, 0.08)])


def test_a_resumed_run_killed_at_its_first_question_leaves_no_empty_journal(
        tmp_path: Path) -> None:
    """Operator trial: `rehearse --resume --headless` killed at its first
    question left a 0-byte journal beside the run it continued, and `runbook
    report` on the folder's journals said "holds no records; not a runbook
    journal" (exit 2)."""
    sandbox = tmp_path / "sandbox"
    runs = sandbox / ".operator" / "runs"
    first = _rehearse(sandbox, tmp_path, yes=False)
    assert first.communicate(input="q\n", timeout=120)[0] is not None
    assert first.returncode == 3, "stopped at its first question"
    resumed = _rehearse(sandbox, tmp_path, "--resume", yes=False)
    try:
        # Its first question: the resumed run's start, then preflight's check.
        asked = Trial("resumed", lambda r: r.get("event") == "check" and sum(
            1 for seen in _records(sandbox) if seen.get("event") == "run-start") == 2)
        assert _kill_when(resumed, sandbox, asked), "the resumed run ended before its question"
    finally:
        if resumed.poll() is None:
            resumed.kill()
        resumed.communicate()
    journals = {path.name: path.stat().st_size for path in runs.glob("*.jsonl")}
    # Then the service that kill -9 left running, as a real host's would, is
    # adopted by a resume and stopped with it.
    last = _rehearse(sandbox, tmp_path, "--resume", yes=False)
    last.communicate(input="q\n", timeout=120)
    assert last.returncode == 3
    assert processes_mentioning(sandbox) == []
    assert len(journals) == 1 and all(journals.values()), journals


def test_a_tui_resume_killed_at_its_dialog_leaves_only_the_run_it_continues(
        tmp_path: Path) -> None:
    """`rehearse --resume` in the TUI claimed a journal for a new run before
    its resume dialog was answered: killed there (kill -9, nothing tidies),
    an empty journal was left beside the run it offered, which `report` and
    `--resume` pass over but an operator reads as litter. Nothing is claimed
    until a new run is chosen."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    sandbox = tmp_path / "sandbox"
    runs = sandbox / ".operator" / "runs"
    first = _rehearse(sandbox, tmp_path, yes=False)
    assert first.communicate(input="q\n", timeout=120)[0] is not None
    assert first.returncode == 3, "stopped at its first question"
    (journal,) = runs.glob("*.jsonl")
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))

    def controlling_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    tui = subprocess.Popen(
        [sys.executable, "-m", "runbook.cli", "rehearse", "--resume", "--sandbox", str(sandbox)],
        stdin=side, stdout=side, stderr=side, env={**_env(tmp_path), "TERM": "xterm"},
        cwd=ROOT, start_new_session=True, preexec_fn=controlling_terminal)
    os.close(side)
    try:
        seen, deadline = b"", time.monotonic() + 120
        while b"Continue it" not in seen:
            assert time.monotonic() < deadline and tui.poll() is None, seen[-3000:]
            if select.select([main], [], [], 1.0)[0]:
                with contextlib.suppress(OSError):
                    seen += os.read(main, 65536)
        time.sleep(0.5)  # the dialog drawn, the operator reading it
        os.kill(tui.pid, signal.SIGKILL)
        tui.wait(timeout=30)
    finally:
        if tui.poll() is None:
            tui.kill()
            tui.wait()
        os.close(main)
    journals = sorted(path.name for path in runs.glob("*.jsonl"))
    # The service kill -9 left running is adopted by a resume and stopped with it.
    last = _rehearse(sandbox, tmp_path, "--resume", yes=False)
    last.communicate(input="q\n", timeout=120)
    assert last.returncode == 3
    assert processes_mentioning(sandbox) == []
    assert journals == [journal.name], journals
