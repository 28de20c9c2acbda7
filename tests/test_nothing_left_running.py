"""A test that fails part way (a timeout in the middle of a rehearsal, say) must
not leave what it started running for the rest of the session and after: stop
26 found a rehearsal's service still up, long after its test had timed out.
Nor may a test run that is itself killed (tests/keeper.py): stop 56 found a
run stopped with SIGTERM mid-rehearsal had left that test's database servers
and Red5 service running, orphaned."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runbook.rehearsal.sandbox import processes_mentioning
from tests.keeper import naming
from tests.polling import until

ROOT = Path(__file__).resolve().parents[1]

# Starts a process that names the test's tmp_path on its command line (as a
# rehearsal's service names its sandbox), says where, and fails at once.
_FAILS_LEAVING_A_PROCESS = '''
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path


def test_fails_with_its_process_running(tmp_path: Path) -> None:
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)",
                      str(tmp_path / "service")], start_new_session=True)
    Path(os.environ["LEFT_AT"]).write_text(str(tmp_path))
    raise AssertionError("fails as a timed-out test does")
'''


def test_a_failed_test_leaves_no_process_naming_its_tmp_path(tmp_path: Path) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "test_inner.py").write_text(textwrap.dedent(_FAILS_LEAVING_A_PROCESS))
    left_at = tmp_path / "left-at"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "--rootdir", str(inner), "--basetemp", str(tmp_path / "base"), str(inner)],
        cwd=ROOT, env={**os.environ, "LEFT_AT": str(left_at)}, capture_output=True,
        text=True, timeout=120)
    assert "1 failed" in done.stdout, done.stdout + done.stderr
    started_in = Path(left_at.read_text())
    left = processes_mentioning(started_in)
    for pid in left:  # never left for the rest of this session either
        os.kill(pid, 9)
    assert left == [], f"still running after the failed test: {left}"


def test_a_throwaway_rehearsal_killed_with_9_leaves_nothing_running(tmp_path: Path) -> None:
    """Operator trial: `runbook rehearse` without --sandbox, killed with -9,
    left its two database servers, its service and its sandbox behind, for
    good: no later rehearsal could know of them. (A rehearsal with --sandbox
    leaves them on purpose, as a real host would: the next one adopts them.)"""
    import signal
    import time

    temp = tmp_path / "tmp"  # the sandbox lands here; conftest ends what names it
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "XDG_STATE_HOME": str(tmp_path / "state")}
    run = subprocess.Popen([sys.executable, "-m", "runbook.cli", "rehearse", "--headless",
                            "--yes"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)
    assert run.stdout is not None
    said = []
    for line in run.stdout:  # until the upload, when everything is up
        said.append(line)
        if line.startswith("[upload]"):
            break
    sandboxes = list(temp.glob("runbook-rehearsal-*"))
    assert len(sandboxes) == 1 and processes_mentioning(sandboxes[0]), "".join(said)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    run.stdout.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (processes_mentioning(sandboxes[0])
                                           or sandboxes[0].exists()):
        time.sleep(0.2)
    left = processes_mentioning(sandboxes[0])
    assert not left, [Path(f"/proc/{pid}/cmdline").read_bytes()[:120] for pid in left]
    assert not sandboxes[0].exists(), "the throwaway sandbox outlived its rehearsal"
    assert not list(temp.glob("runbook-db-*")), "a database server's socket folder was left"
    # Its journal stays, and so does the nodegroup snapshot export-config took,
    # for the journal's report (operator trial, stop 46: kept only by a
    # rehearsal that ended, so the report of a killed one knew no fleet before).
    kept = tmp_path / "state" / "runbook" / "rehearsals"
    assert list(kept.glob("*.jsonl")), list(kept.rglob("*"))
    assert list(kept.glob("hosts/*/snapshots/*.json")), list(kept.rglob("*"))


HOLDS_A_HOST = textwrap.dedent('''
    import asyncio
    from tests.rehearsal import rehearsal_host

    async def test_holds_a_rehearsal_host(tmp_path):
        async with rehearsal_host(tmp_path) as host:
            assert host.service_pid() is not None
            (tmp_path.parent / "up").write_text("up")
            await asyncio.sleep(600)
''')


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "term"])
async def test_a_killed_test_run_leaves_no_process_behind(tmp_path: Path,
                                                          sig: signal.Signals) -> None:
    (tmp_path / "test_holds.py").write_text(HOLDS_A_HOST)
    base = tmp_path / "run"
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c",
         str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), "-p", "tests.conftest",
         "--timeout", "0", f"--basetemp={base}", str(tmp_path / "test_holds.py")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        await until(lambda: (base / "up").exists() or run.poll() is not None,
                    what="the inner run's rehearsal host to be up")
        assert run.poll() is None, run.communicate()[0].decode()[-3000:]
        running = naming(base, {os.getpid(), run.pid})
        assert running, "the inner run's host starts processes naming its temp folder"
        os.kill(run.pid, sig)
        run.wait(30)
        await until(lambda: not naming(base, {os.getpid()}),
                    what="the keeper to end what the killed run left", timeout=40)
        # And the keeper itself, its work done, is gone.
        await until(lambda: not processes_mentioning(base), what="the keeper to end", timeout=20)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()


@pytest.mark.parametrize("module", ["tests.test_cli", "tests.test_headless"])
def test_a_test_modules_state_folder_goes_with_its_run(module: str) -> None:
    """Every suite run left two runbook-test-state-* folders in /tmp, made as
    the modules were imported and never removed: 26 of them by one day's runs."""
    said = subprocess.run([sys.executable, "-c", f"import {module} as m; print(m.STATE)"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert said.returncode == 0, said.stderr
    state = Path(said.stdout.strip())
    assert state.name.startswith("runbook-test-state-")
    assert not state.exists(), f"{module} left {state}"


def test_a_test_session_removes_the_socket_folders_killed_runs_left(tmp_path: Path) -> None:
    """A test run killed while its database servers ran left their socket
    folders (/tmp/runbook-db-*) for good. A new session removes those whose
    maker is gone and that no running process names; a folder a parallel
    run still uses, or one just made, stays."""
    import tempfile
    import time

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = int(gone.stdout)
    temp = Path(tempfile.gettempdir())
    stale = Path(tempfile.mkdtemp(prefix=f"runbook-db-{dead}-", dir=temp))
    (stale / "mysqld.sock").touch()
    in_use = Path(tempfile.mkdtemp(prefix=f"runbook-db-{dead}-", dir=temp))
    fresh = Path(tempfile.mkdtemp(prefix=f"runbook-db-{dead}-", dir=temp))
    an_hour_ago = time.time() - 3600
    for folder in (stale, in_use):
        os.utime(folder, (an_hour_ago, an_hour_ago))
    # A server of another run, named by its --socket in that folder.
    user = subprocess.Popen(["bash", "-c", f"sleep 60; : --socket={in_use}/mysqld.sock"],
                            start_new_session=True)
    try:
        session = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "tests/test_redact.py::test_secret_names"],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert session.returncode == 0, session.stdout[-2000:] + session.stderr[-2000:]
        assert not stale.exists(), "the killed run's socket folder was left"
        assert in_use.exists(), "a folder a running server names was removed"
        assert fresh.exists(), "a folder just made (its server not started yet) was removed"
    finally:
        user.kill()
        user.wait()
        for folder in (stale, in_use, fresh):
            shutil.rmtree(folder, ignore_errors=True)
