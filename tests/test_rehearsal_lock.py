"""One rehearsal per sandbox, and a sandbox whose state only its owner can read."""

from __future__ import annotations

import asyncio
import os
import stat
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


def _state_paths(root: Path) -> list[Path]:
    found: list[Path] = []
    for top in (sandbox.state_dir(root), sandbox.operator_dir(root)):
        found.append(top)
        for folder, dirs, files in os.walk(top):
            found += [Path(folder) / name for name in dirs + files]
    return found


def _loose(root: Path) -> list[str]:
    """State folders that are not 0700 and state files open to group or others."""
    wrong: list[str] = []
    for path in _state_paths(root):
        info = path.lstat()
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISLNK(info.st_mode):
            continue  # a symlink's own mode means nothing on Linux
        if stat.S_ISDIR(info.st_mode) and mode != 0o700:
            wrong.append(f"{path.relative_to(root)}/ {mode:o}")
        elif not stat.S_ISDIR(info.st_mode) and mode & 0o077:
            wrong.append(f"{path.relative_to(root)} {mode:o}")
    return wrong


def _assert_private(root: Path) -> None:
    assert _loose(root) == []
    state = sandbox.state_dir(root)
    secrets = ["state.json", "known_hosts", "id_ed25519", "id_ed25519.pub",
               "ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"]
    for name in secrets:
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
    locks = [path for path in state.iterdir() if path.name.endswith(".lock")]
    assert locks and all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in locks)


async def test_state_files_are_0600_and_state_folders_0700(rehearsal_host: RehearsalHost) -> None:
    _assert_private(rehearsal_host.sandbox)
    # The fake live install keeps a real host's modes: it is not state.
    shipped = rehearsal_host.red5_home / "webapps/streammanager/WEB-INF/red5-web.properties"
    assert stat.S_IMODE(shipped.stat().st_mode) == 0o644


async def test_an_existing_sandbox_with_looser_modes_is_tightened_on_start(
    tmp_path: Path,
) -> None:
    root = tmp_path / "sandbox"
    host = RehearsalHost(root, boot_service=False)
    try:
        await host.start()
    finally:
        await host.stop()
    # As an older runbook left it.
    for path in _state_paths(root):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    assert _loose(root) != []

    host = RehearsalHost(root, boot_service=False)
    try:
        await host.start()
        _assert_private(root)
    finally:
        await host.stop()


@pytest.mark.parametrize("where", ["a-file", "a-file/below"])
def test_a_sandbox_that_cannot_be_a_folder_is_one_line_and_exit_2(
    tmp_path: Path, where: str,
) -> None:
    """Operator trial: `--sandbox /etc/passwd` ended in a traceback and exit 1,
    which the README keeps for a failed step."""
    (tmp_path / "a-file").write_text("not a sandbox\n")
    environ = {k: v for k, v in os.environ.items() if k != "SM_API_TOKEN"}
    environ["XDG_STATE_HOME"] = str(tmp_path / "state")
    result = subprocess.run(
        [sys.executable, "-m", "runbook.cli", "rehearse", "--headless", "--yes",
         "--sandbox", str(tmp_path / where)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=environ,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(tmp_path / where) in lines[0] and "--sandbox" in lines[0], lines[0]
    assert (tmp_path / "a-file").read_text() == "not a sandbox\n"


@pytest.mark.parametrize("pace", ["banana", "rael", "-1"])
def test_a_pace_that_is_none_is_one_line_and_exit_2(tmp_path: Path, pace: str) -> None:
    """Operator trial: RUNBOOK_REHEARSAL_PACE=rael ran at the fast pace and
    journalled it, and the operator believed a real-pace rehearsal was timed."""
    environ = {k: v for k, v in os.environ.items() if k != "SM_API_TOKEN"}
    environ.update(XDG_STATE_HOME=str(tmp_path / "state"), RUNBOOK_REHEARSAL_PACE=pace)
    result = subprocess.run(
        [sys.executable, "-m", "runbook.cli", "rehearse", "--headless", "--yes",
         "--sandbox", str(tmp_path / "sandbox")],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=environ,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "RUNBOOK_REHEARSAL_PACE" in lines[0] and pace in lines[0]
    assert not (tmp_path / "sandbox").exists()
