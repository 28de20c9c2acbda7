"""Fixtures shared by every test that needs the rehearsal host."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncssh
import pytest

from runbook.redact import use_tag_key
from runbook.rehearsal.databases import remove_stale_socket_dirs
from runbook.rehearsal.host import RehearsalHost
from runbook.rehearsal.sandbox import processes_mentioning

# The fake cloud's node boot and teardown times, scaled down for the whole
# session (subprocesses inherit it): the tests prove behaviour, not patience.
# Tests that are about the timings set their own pace.
# 0.005 of the documented durations: in service 0.6 s after launch.
os.environ.setdefault("RUNBOOK_REHEARSAL_PACE", "0.005")

SSHConnect = Callable[[RehearsalHost], Awaitable[asyncssh.SSHClientConnection]]


@pytest.fixture(autouse=True)
def fixed_tag_key() -> Iterator[None]:
    """Masked secrets are tagged with the user's own key: every test tags with one
    fixed key instead, so a picture of a masked value is the same on every
    machine and no test writes a key into the user's state dir."""
    before = use_tag_key(b"the tests' tag key, not a secret")
    yield
    use_tag_key(before)


@pytest.fixture(autouse=True)
def tui_state_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The TUI looks for the last rehearsal's downtime in the user's state dir:
    its tests get an empty one of their own, so no rehearsal run on this
    machine shows up in a picture or a clock."""
    if request.module.__name__.rpartition(".")[2].startswith("test_tui_"):
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(scope="session", autouse=True)
def nothing_left_if_the_run_is_killed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The net under the whole run (tests/keeper.py): killed, the run tears
    nothing down, so a keeper of its own session ends what names the run's
    temp folder once the run is gone. Ended as it should, the run finds it
    with nothing to do, or ends what a test left beyond its own net."""
    # What a run killed before this one left (its keeper ends its servers,
    # but a socket folder whose server was ended first stays): those folders
    # whose maker is gone and that no server names.
    remove_stale_socket_dirs()
    base = tmp_path_factory.getbasetemp()
    keeper = subprocess.Popen(
        [sys.executable, "-m", "tests.keeper", str(base), str(os.getpid())],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[1], start_new_session=True)
    yield
    assert keeper.stdin is not None
    keeper.stdin.close()
    try:
        keeper.wait(30)
    except subprocess.TimeoutExpired:
        keeper.kill()
        keeper.wait()


@pytest.fixture(autouse=True)
def nothing_left_running(request: pytest.FixtureRequest) -> Iterator[None]:
    """What still names a test's tmp_path once the test is torn down is ended,
    with its process group: a test that fails part way (pytest-timeout in the
    middle of a rehearsal) left the sandbox's service running for the rest of
    the session and after (stop 26). Each test that starts something checks
    on its own that it stopped it; this is the net under a failed one."""
    tmp = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if tmp is None:
        return
    left = processes_mentioning(tmp)
    for pid in left:
        try:
            group = os.getpgid(pid)
            if group == os.getpgrp():  # the test run's own group: that process alone
                os.kill(pid, signal.SIGKILL)
            else:
                os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass  # ended meanwhile
    if left:
        warnings.warn(f"{request.node.nodeid} left processes running: {left} (ended now)",
                      stacklevel=1)


@pytest.fixture
async def rehearsal_host(tmp_path: Path) -> AsyncIterator[RehearsalHost]:
    """A started rehearsal host (live service up) whose sandbox lives in
    tmp_path, so a failing test leaves it behind for a look. Stopping it must
    leave no process behind; the teardown checks that."""
    host = RehearsalHost(tmp_path / "sandbox")
    await host.start()
    try:
        yield host
    finally:
        await host.stop()
    assert processes_mentioning(host.sandbox) == [], "the rehearsal host left processes behind"


@pytest.fixture
async def ssh_connect() -> AsyncIterator[SSHConnect]:
    """Open SSH connections to a rehearsal host, isolated from ~/.ssh: every
    option that would otherwise come from the user's files is given here."""
    opened: list[asyncssh.SSHClientConnection] = []

    async def connect(host: RehearsalHost) -> asyncssh.SSHClientConnection:
        conn = await asyncssh.connect(
            "127.0.0.1",
            host.ssh_port,
            username=host.user,
            known_hosts=str(host.known_hosts),
            client_keys=[str(host.client_key)],
            config=None,
            agent_path=None,
            keepalive_interval=5,
        )
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()
        await conn.wait_closed()


@pytest.fixture
async def host_ssh(
    rehearsal_host: RehearsalHost, ssh_connect: SSHConnect
) -> asyncssh.SSHClientConnection:
    """One SSH connection to ``rehearsal_host``."""
    return await ssh_connect(rehearsal_host)


def fill_up(path: Path) -> None:
    """Write zeros to `path` until its filesystem has no room left."""
    fill = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fill, b"\0" * 4096)
    finally:
        os.close(fill)


@pytest.fixture
def full_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder on a filesystem with no room left: a small tmpfs, filled. A
    real full disk (ENOSPC from the kernel); mounting one needs root, so the
    tests that use it are skipped elsewhere."""
    folder = tmp_path / "full"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        fill_up(folder / "fill")
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)
