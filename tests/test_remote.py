"""The SSH layer against the rehearsal host: real asyncssh, real bash, loopback only."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from runbook.config import HostSettings
from runbook.remote import CommandTimeout, HostKeyRefused, OutcomeUnknown, Remote, RemoteError
from tests.rehearsal import rehearsal_host, rehearsal_settings


def remote_for(host, **changes) -> Remote:  # type: ignore[no-untyped-def]
    settings = rehearsal_settings(host)
    fields = {**settings.host.__dict__, **changes}
    return Remote(HostSettings(**fields), isolated=True, keepalive_interval=1, term_grace=1)


async def test_commands_stream_and_report_exit_status(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        remote = remote_for(host)
        lines: list[tuple[str, str]] = []
        result = await remote.run("echo one; echo two >&2; echo three; exit 7", timeout=10,
                                  on_output=lambda stream, line: lines.append((stream, line)))
        assert result.exit_status == 7 and not result.ok
        assert ("out", "one") in lines and ("err", "two") in lines and ("out", "three") in lines
        assert result.last_error_line() == "two"
        # The same connection serves every command.
        first = remote._conn
        assert (await remote.run("printf %s \"$USER\"", timeout=10)).stdout == host.user
        assert remote._conn is first
        assert remote.fingerprint and remote.fingerprint.startswith("SHA256:")
        await remote.close()


async def test_input_travels_on_stdin_not_the_command_line(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        remote = remote_for(host)
        result = await remote.run("cat > /dev/null; cat /proc/$$/cmdline | tr '\\0' ' '",
                                  timeout=10, input="very-secret-content\n")
        assert result.ok and "very-secret-content" not in result.stdout
        await remote.close()


async def test_an_unknown_host_key_is_refused_with_its_fingerprint(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        empty = tmp_path / "known_hosts"
        empty.write_text("")
        remote = remote_for(host, known_hosts=empty)
        with pytest.raises(HostKeyRefused) as err:
            await remote.run("true", timeout=10)
        message = str(err.value)
        assert "SHA256:" in message and str(empty) in message
        # The fingerprint shown is the host's real one.
        trusted = remote_for(host)
        await trusted.run("true", timeout=10)
        assert trusted.fingerprint in message
        await trusted.close()


async def test_a_wrong_client_key_is_refused(tmp_path: Path) -> None:
    import asyncssh

    async with rehearsal_host(tmp_path) as host:
        other = tmp_path / "other_key"
        other.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
        os.chmod(other, 0o600)
        with pytest.raises(RemoteError, match="refused our key"):
            await remote_for(host, identity=other).run("true", timeout=10)


async def test_a_timeout_signals_the_remote_command(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        remote = remote_for(host)
        marker = tmp_path / "still-running"
        with pytest.raises(CommandTimeout, match="signalled"):
            await remote.run(f"sleep 30; touch {marker}", timeout=1)
        check = await remote.run("pgrep -f '^sleep 30$' || true", timeout=10)
        assert check.stdout.strip() == "", "the remote sleep must have been stopped"
        await asyncio.sleep(0.2)
        assert not marker.exists()
        await remote.close()


async def test_a_dropped_connection_makes_the_outcome_unknown(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        remote = remote_for(host)
        await remote.run("true", timeout=10)
        task = asyncio.create_task(remote.run("sleep 5", timeout=20))
        await asyncio.sleep(0.3)
        host.drop_connections()
        with pytest.raises(OutcomeUnknown, match="may or may not"):
            await task
        # The next action opens a fresh connection.
        assert (await remote.run("echo back", timeout=10)).stdout == "back\n"
        await remote.close()


async def test_upload_reports_progress_and_arrives_intact(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        remote = remote_for(host)
        payload = tmp_path / "payload.bin"
        payload.write_bytes(os.urandom(3 * 1024 * 1024))
        target = f"{host.upload_dir}/payload.bin"
        await remote.run(f"mkdir -p {host.upload_dir}", timeout=10)
        seen: list[tuple[int, int]] = []
        await remote.upload(payload, target, timeout=30,
                            progress=lambda done, total: seen.append((done, total)))
        assert seen[-1] == (payload.stat().st_size, payload.stat().st_size)
        digest = (await remote.run(f"sha256sum {target}", timeout=10)).stdout.split()[0]
        assert digest == hashlib.sha256(payload.read_bytes()).hexdigest()
        outside = tmp_path / "outside.bin"
        with pytest.raises(RemoteError, match="upload"):
            await remote.upload(payload, str(outside), timeout=10)
        assert not outside.exists()
        await remote.close()


async def test_a_detached_command_keeps_running_an_aborted_one_stops(tmp_path: Path) -> None:
    async with rehearsal_host(tmp_path) as host:
        for detach, survives in ((True, True), (False, False)):
            remote = remote_for(host)
            marker = tmp_path / f"finished-{detach}"
            task = asyncio.create_task(remote.run(f"sleep 1.5; touch {marker}", timeout=30))
            await asyncio.sleep(0.4)
            remote.detached = detach
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await remote.close()
            await asyncio.sleep(2.0)
            assert marker.exists() is survives
