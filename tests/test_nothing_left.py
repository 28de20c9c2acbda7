"""A test run that is itself killed leaves nothing running (tests/keeper.py).

Seen at stop 56: a full run stopped with SIGTERM in the middle of a rehearsal
test left that test's database servers and Red5 service running, orphaned."""

from __future__ import annotations

import os
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
