"""One rehearsal per sandbox."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncssh
import pytest

from runbook.rehearsal import sandbox
from runbook.rehearsal.host import RehearsalError, RehearsalHost
from runbook.rehearsal.sandbox import processes_mentioning

ROOT = Path(__file__).parents[1]


async def _answers(host: RehearsalHost, conn: asyncssh.SSHClientConnection) -> None:
    """The host's SSH server runs commands and its live service serves the API."""
    url = (f"{host.api_base_url}/streammanager/api/3.1/admin/nodegroup"
           f"?accessToken={host.api_token}")
    result = await conn.run(f"curl -sf '{url}' && systemctl is-active red5pro")
    assert result.exit_status == 0, result.stderr
    assert result.stdout.rstrip().endswith("active")


async def test_second_host_on_a_busy_sandbox_is_refused_and_leaves_the_first_alone(
    rehearsal_host: RehearsalHost, host_ssh: asyncssh.SSHClientConnection
) -> None:
    first = rehearsal_host
    pid = first.service_pid()
    assert pid is not None
    state_before = (first.state_dir / "state.json").read_bytes()
    known_hosts_before = first.known_hosts.read_bytes()

    second = RehearsalHost(first.sandbox)
    try:
        with pytest.raises(RehearsalError) as refused:
            await second.start()
    finally:
        await second.stop()

    message = str(refused.value)
    assert "\n" not in message
    assert str(first.sandbox) in message and "another rehearsal" in message
    # Untouched: the same service, the same SSH server, the same state.
    assert first.service_pid() == pid and sandbox.is_running(pid)
    await _answers(first, host_ssh)
    assert (first.state_dir / "state.json").read_bytes() == state_before
    assert first.known_hosts.read_bytes() == known_hosts_before


async def test_the_sandbox_is_free_again_once_its_host_stops(tmp_path: Path) -> None:
    root = tmp_path / "sandbox"
    for _ in range(2):
        host = RehearsalHost(root, boot_service=False)
        try:
            await host.start()
        finally:
            await host.stop()
    assert processes_mentioning(root) == []


async def test_rehearse_on_a_busy_sandbox_is_one_line_and_exit_2(
    rehearsal_host: RehearsalHost, host_ssh: asyncssh.SSHClientConnection, tmp_path: Path
) -> None:
    pid = rehearsal_host.service_pid()
    environ = {k: v for k, v in os.environ.items() if k != "SM_API_TOKEN"}
    environ["XDG_STATE_HOME"] = str(tmp_path / "state")
    # In a thread: the first host's SSH server must go on answering meanwhile.
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "runbook.cli", "rehearse", "--headless", "--yes",
         "--sandbox", str(rehearsal_host.sandbox)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=environ, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("runbook: "), result.stderr
    assert str(rehearsal_host.sandbox) in lines[0]
    assert rehearsal_host.service_pid() == pid
    await _answers(rehearsal_host, host_ssh)


async def test_the_host_module_on_a_busy_sandbox_is_one_line_and_exit_2(
    rehearsal_host: RehearsalHost,
) -> None:
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "runbook.rehearsal.host", "--sandbox", str(rehearsal_host.sandbox)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "another rehearsal" in result.stderr
