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
