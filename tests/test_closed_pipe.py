"""Output into a reader that went away (`| head`): a listing ends quietly, and
a run goes on to its end, since the host's state matters more than the
lines nobody reads any more."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

RUNBOOK = [sys.executable, "-c", "import sys; from runbook.cli import main; sys.exit(main())"]


def closed_after_first_line(args: list[str], env: dict[str, str], cwd: Path
                            ) -> tuple[int, str]:
    run = subprocess.Popen([*RUNBOOK, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, cwd=cwd)
    assert run.stdout is not None and run.stderr is not None
    run.stdout.readline()
    run.stdout.close()  # as `head -1` does once it has its line
    with run.stderr:
        err = run.stderr.read().decode(errors="replace")
    return run.wait(timeout=600), err


def test_plan_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    code, err = closed_after_first_line(["plan"], dict(os.environ), tmp_path)
    assert "Traceback" not in err and err == "", err
    # 141 as `cat` would, or 0 where all of it fit in the pipe before it closed.
    assert code in (0, 141)


def test_a_headless_run_into_a_closed_pipe_still_finishes(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    code, err = closed_after_first_line(
        ["rehearse", "--headless", "--yes", "--sandbox", str(sandbox)], env, tmp_path)
    assert "Traceback" not in err, err[-3000:]
    assert code == 0, err[-3000:]
    (journal,) = (sandbox / ".operator" / "runs").glob("*.jsonl")
    last = json.loads(journal.read_text().splitlines()[-1])
    assert last["event"] == "run-end" and last["outcome"] == "done"


def _runbook_with(redirect: str, args: list[str], env: dict[str, str], cwd: Path
                  ) -> subprocess.CompletedProcess[str]:
    """runbook started by a shell with `redirect` (`>&-`: a closed stdout)."""
    import shlex

    line = f"exec {shlex.join([*RUNBOOK, *args])} {redirect}"
    return subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


def test_a_closed_stdout_is_refused_in_one_line(tmp_path: Path) -> None:
    """Started with stdout closed (`>&-`), `plan` wrote nothing and said 0, and
    report, log, diff and a headless run ended in a traceback (bad-input
    trial, stop 47). What a command says has nowhere to go: refused, before
    anything is done."""
    for args in (["plan"], ["rehearse", "--list-faults"]):
        done = _runbook_with(">&-", args, dict(os.environ), tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
        assert "stdout" in done.stderr, done.stderr


def test_a_closed_stdin_reads_as_the_end_of_the_answers(tmp_path: Path) -> None:
    """Started with stdin closed (`<&-`), a headless run fell over on its
    first look at it, a rehearsal's fake host already started (bad-input
    trial, stop 47). It is an end of input, as `</dev/null` is: the run
    stops at its first question."""
    env = {**os.environ, "HOME": str(tmp_path / "home"),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    done = _runbook_with("<&-", ["rehearse", "--headless", "--sandbox", str(tmp_path / "sb")],
                         env, tmp_path)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 3, done.stdout[-2000:] + done.stderr[-2000:]


def test_a_run_prints_what_an_ascii_terminal_cannot_show_as_escapes(tmp_path: Path) -> None:
    """In a locale that is not UTF-8 (LANG=C without coercion, or
    PYTHONIOENCODING), a headless run ended in a traceback at its first
    masked secret (••••••), mid-run (bad-input trial, stop 47). It goes on,
    the characters escaped as `diff` and `report` escape them."""
    env = {**os.environ, "HOME": str(tmp_path / "home"),
           "XDG_STATE_HOME": str(tmp_path / "state"), "PYTHONIOENCODING": "ascii"}
    done = _runbook_with("", ["rehearse", "--headless", "--yes"], env, tmp_path)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "\\u2022" in done.stdout
