"""The SSH layer against the rehearsal host: real asyncssh, real bash, loopback only."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

import runbook.remote as rm
import runbook.upload as up
from runbook.config import HostSettings
from runbook.rehearsal.sandbox import processes_mentioning
from runbook.remote import CommandTimeout, HostKeyRefused, OutcomeUnknown, Remote, RemoteError
from runbook.ssh_route import unreachable
from tests.rehearsal import rehearsal_host, rehearsal_settings

# How a changed key is said, for the host and a jump host alike (review 55b M2).
CHANGED = "Its key has changed since it was listed, or someone is in between."
# And a key a certificate authority known_hosts trusts for it did not sign (review 55b L6).
NOT_SIGNED = "Its certificate is gone, or someone is in between."


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


def _the_line(host) -> str:  # type: ignore[no-untyped-def]
    """The known_hosts line that trusts the rehearsal host's key."""
    public = (host.state_dir / "ssh_host_ed25519_key.pub").read_text().split()
    return f"[127.0.0.1]:{host.ssh_port} {public[0]} {public[1]}"


async def test_with_no_known_hosts_file_yet_the_host_is_refused_as_not_known_with_the_file_to_make(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial 55 F13: a fresh ops box, no ~/.ssh/known_hosts yet (the sample
    config's default): runbook failed with "cannot connect over SSH: No such
    file or directory: ~/.ssh/known_hosts", no fingerprint, no line to add.
    It is the refusal of a host not known yet, as ssh's first connection is:
    its fingerprint, the file to make (mode 600, its folder 700) and the line
    to add, and no ssh-keygen -R, which is for a changed key and fails on a
    file that is not there. Done word for word, the connection goes in."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    default = home / ".ssh" / "known_hosts"
    async with rehearsal_host(tmp_path) as host:
        remote = remote_for(host, known_hosts=None)
        remote.global_known_hosts = ()
        with pytest.raises(HostKeyRefused) as err:
            await remote.run("true", timeout=10)
        message = str(err.value)
        assert "No such file" not in message and "cannot connect" not in message, message
        assert "no key is trusted for this host yet" in message, message
        assert "ssh-keygen -R" not in message and "not the key" not in message, message
        trusted = remote_for(host)
        await trusted.run("true", timeout=10)
        assert f"refusing the host key {trusted.fingerprint}:" in message, message
        await trusted.close()
        make = f"(umask 077 && mkdir -p {home / '.ssh'} && touch {default})"
        assert f"{default} is not there yet" in message, message
        assert f"create {default} with mode 600: {make}; then add this line to {default}:\n" \
            f"{_the_line(host)}" in message, message
        assert err.value.known_hosts_line == _the_line(host)
        assert remote._conn is None
        # The operator compares the fingerprint, then does as it says.
        subprocess.run(["bash", "-c", make], check=True)
        with default.open("a") as known:
            known.write(err.value.known_hosts_line + "\n")
        assert default.stat().st_mode & 0o777 == 0o600
        assert default.parent.stat().st_mode & 0o777 == 0o700
        assert (await remote.run("true", timeout=10)).ok
        await remote.close()


async def test_a_host_its_known_hosts_does_not_list_is_refused_as_not_known_not_as_changed(
        tmp_path: Path) -> None:
    """Trial 55 F13: a host simply not in known_hosts yet was refused in a
    changed key's words ("it is not the key ... trusts", ssh-keygen -R first),
    which ssh keeps for a key that changed, a possible attack. It is said as
    not known yet, with the line to add and nothing to take out."""
    async with rehearsal_host(tmp_path) as host:
        empty = tmp_path / "known_hosts"
        empty.write_text("")
        remote = remote_for(host, known_hosts=empty)
        with pytest.raises(HostKeyRefused) as err:
            await remote.run("true", timeout=10)
        message = str(err.value)
        assert f"no key is trusted for this host yet (none for it in {empty})" in message, message
        assert "ssh-keygen -R" not in message and "not the key" not in message, message
        assert "not there yet" not in message, message
        assert message.endswith(f"Only if they are the same, add this line to {empty}:\n"
                                f"{_the_line(host)}"), message
        assert err.value.known_hosts_line == _the_line(host)


def _old_key() -> list[str]:
    """Another ed25519 key's first two words, as known_hosts holds a key."""
    return asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().split()[:2]


@pytest.mark.parametrize("hashed", [False, True])
async def test_a_changed_key_known_hosts_holds_under_the_hosts_address_is_refused_as_changed(
        tmp_path: Path, hashed: bool) -> None:
    """Review 55b H1: known_hosts held the host's old key under its address
    only ([127.0.0.1]:port, as `ssh 10.0.0.5` writes it, or hashed, as
    OpenSSH's CheckHostIP does), the config naming it by a hostname. asyncssh
    trusts a key listed under the address it connected to, so that entry is
    the host's; its key now differs. It read "no key is trusted for this host
    yet", and the advice added the new line beside the stale one. It is a
    changed key, and the entry to take out is the address's."""
    async with rehearsal_host(tmp_path) as host:
        known = tmp_path / "known_hosts"
        old = _old_key()
        known.write_text(f"[127.0.0.1]:{host.ssh_port} {old[0]} {old[1]}\n")
        if hashed:
            subprocess.run(["ssh-keygen", "-H", "-f", str(known)], check=True,
                           capture_output=True)
            assert "127.0.0.1" not in known.read_text()
        remote = remote_for(host, address="localhost", known_hosts=known)
        with pytest.raises(HostKeyRefused) as err:
            await remote.run("true", timeout=10)
        message = str(err.value)
        assert "no key is trusted" not in message, message
        # Said as the alarm it is (review 55b M2).
        assert f"it is not the key {known} trusts for this host. {CHANGED}" in message, message
        public = (host.state_dir / "ssh_host_ed25519_key.pub").read_text().split()
        line = f"[localhost]:{host.ssh_port} {public[0]} {public[1]}"
        remove = f"ssh-keygen -R '[127.0.0.1]:{host.ssh_port}' -f {known}"
        assert message.endswith(f"Only if they are the same, {remove}, then add this line to "
                                f"{known}:\n{line}"), message
        # Done word for word, the stale entry is gone and the host goes in.
        subprocess.run(["bash", "-c", remove], check=True, capture_output=True)
        with known.open("a") as file:
            file.write(f"{err.value.known_hosts_line}\n")
        assert (await remote.run("true", timeout=10)).ok
        assert old[1] not in known.read_text()
        await remote.close()


async def test_a_key_held_only_under_the_address_is_not_trusted_for_the_hosts_name(
        tmp_path: Path) -> None:
    """Review 55c H2: known_hosts holding the key under the address connected
    to alone ([127.0.0.1]:PORT KEY), the config naming the host by a name
    (localhost): asyncssh trusted it, where ssh (CheckHostIP off since
    OpenSSH 8.5) looks the host up by its name alone and says no key is
    known. Whoever steers the name to an address reaches any box whose key
    was ever stored by address. It is a host not known yet under its name."""
    async with rehearsal_host(tmp_path) as host:
        known = tmp_path / "known_hosts"
        known.write_text(f"{_the_line(host)}\n")
        remote = remote_for(host, address="localhost", known_hosts=known)
        with pytest.raises(HostKeyRefused) as err:
            await remote.run("true", timeout=10)
        assert remote._conn is None
        message = str(err.value)
        assert "no key is trusted for this host yet" in message, message
        assert CHANGED not in message and "ssh-keygen -R" not in message, message
        public = _the_line(host).split(None, 1)[1]
        assert err.value.known_hosts_line == f"[localhost]:{host.ssh_port} {public}"


async def test_a_key_under_the_address_does_not_outvote_another_key_listed_under_the_name(
        tmp_path: Path) -> None:
    """Review 55c H2: known_hosts listing OLDKEY under the host's name
    ([localhost]:PORT) and the host's key under the address connected to: it
    connected, where ssh says the host's key has changed. Refused as changed;
    the entry to take out is the name's, the address's (the same key) left."""
    async with rehearsal_host(tmp_path) as host:
        known = tmp_path / "known_hosts"
        old = _old_key()
        known.write_text(f"[localhost]:{host.ssh_port} {old[0]} {old[1]}\n{_the_line(host)}\n")
        remote = remote_for(host, address="localhost", known_hosts=known)
        with pytest.raises(HostKeyRefused) as err:
            await remote.run("true", timeout=10)
        assert remote._conn is None
        message = str(err.value)
        assert f"it is not the key {known} trusts for this host. {CHANGED}" in message, message
        remove = f"ssh-keygen -R '[localhost]:{host.ssh_port}' -f {known}, then "
        assert remove in message and "-R '[127.0.0.1]" not in message, message


async def test_a_key_of_another_type_than_the_one_held_under_the_hosts_address_is_a_changed_key(
        tmp_path: Path) -> None:
    """Review 55b H1, its older side: known_hosts holding the host's old
    ed25519 key under its address only, and the host now offering ECDSA alone,
    failed as "cannot connect over SSH" (asyncssh offered only the type held
    under the address; runbook looked the name up alone, found nothing held,
    and took it for a host not reached)."""
    async with rehearsal_host(tmp_path) as host:
        known = tmp_path / "known_hosts"
        known.write_text(host.known_hosts.read_text())  # [127.0.0.1]:port, the ed25519 key
        await host.change_host_key("ecdsa-sha2-nistp256")
        remote = remote_for(host, address="localhost", known_hosts=known)
        with pytest.raises(HostKeyRefused) as err:
            await remote.run("true", timeout=10)
        message = str(err.value)
        assert "cannot connect" not in message, message
        assert "which is of type ssh-ed25519; the host now offers one of type " \
            "ecdsa-sha2-nistp256" in message, message
        assert f"ssh-keygen -R '[127.0.0.1]:{host.ssh_port}' -f {known}, then " in message, \
            message


async def test_a_known_hosts_file_not_there_trusts_nothing_not_the_one_in_home(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 55b M1: [host] known_hosts naming a file that is not there (gone
    since preflight, say) was passed to asyncssh as no file at all, which it
    takes for "use ~/.ssh/known_hosts": a key trusted there let the host in,
    past the file the operator chose (and, isolated, read ~/.ssh). It holds
    no key: the host is refused as not known yet."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    async with rehearsal_host(tmp_path) as host:
        (home / ".ssh" / "known_hosts").write_text(f"{_the_line(host)}\n")
        gone = tmp_path / "gone"
        remote = remote_for(host, known_hosts=gone)
        with pytest.raises(HostKeyRefused) as err:
            await remote.run("true", timeout=10)
        assert "no key is trusted for this host yet" in str(err.value), err.value
        assert remote._conn is None


@pytest.mark.parametrize("listed", [False, True])
async def test_a_host_key_known_hosts_lists_as_revoked_is_never_offered_to_be_trusted(
        tmp_path: Path, listed: bool) -> None:
    """Review 55b L6: a key the operator's known_hosts marks @revoked was
    refused as "not known yet" (or, listed besides, as changed) with the
    advice to add it, which asyncssh would refuse again. It is said as
    revoked, and no line is offered."""
    async with rehearsal_host(tmp_path) as host:
        known = tmp_path / "known_hosts"
        known.write_text(f"@revoked {_the_line(host)}\n" + (f"{_the_line(host)}\n" * listed))
        remote = remote_for(host, known_hosts=known)
        with pytest.raises(HostKeyRefused) as err:
            await remote.run("true", timeout=10)
        message = str(err.value)
        trusted = remote_for(host)
        await trusted.run("true", timeout=10)
        await trusted.close()
        assert f"refusing the host key {trusted.fingerprint}: {known} lists it as revoked: " \
            "never trust it." in message, message
        assert "no key is trusted" not in message and "add this line" not in message, message
        assert "ssh-keygen -R" not in message, message
        assert err.value.known_hosts_line is None


@pytest.mark.parametrize("revoked_as", ["[127.0.0.1]:{port}", "[127.0.0.*]:{port}"])
async def test_a_key_revoked_for_the_hosts_port_stays_revoked_when_trusted_without_the_port(
        tmp_path: Path, revoked_as: str) -> None:
    """Review 55c H1: known_hosts trusting the key under the bare address
    (127.0.0.1 KEY) and revoking it for the host's port (@revoked
    [127.0.0.1]:PORT KEY, or a pattern): asyncssh, finding nothing trusted
    with the port, looked again without it and dropped the revocation, so
    runbook connected where ssh says "marked as revoked". A key revoked
    under any form the host is looked up by stays revoked."""
    async with rehearsal_host(tmp_path) as host:
        known = tmp_path / "known_hosts"
        public = _the_line(host).split(None, 1)[1]
        known.write_text(f"127.0.0.1 {public}\n"
                         f"@revoked {revoked_as.format(port=host.ssh_port)} {public}\n")
        remote = remote_for(host, known_hosts=known)
        with pytest.raises(HostKeyRefused) as err:
            await remote.run("true", timeout=10)
        assert remote._conn is None
        message = str(err.value)
        assert f"{known} lists it as revoked: never trust it." in message, message
        assert err.value.known_hosts_line is None


@pytest.mark.parametrize("bad", ["@bogus x y", "just-one-field", "|2|YWJj|ZGVm {key}"])
async def test_a_known_hosts_line_that_cannot_be_read_is_named_not_a_traceback(
        tmp_path: Path, bad: str) -> None:
    """Review 55c L3: one line asyncssh cannot read (an unknown @marker, a
    line of one field, a hash of another kind) anywhere in a file read ended
    the run in a raw ValueError traceback. ssh skips such a line; runbook
    refuses, naming the file and the line: it may be a revocation mistyped,
    and skipping it could trust a key the operator meant to refuse."""
    async with rehearsal_host(tmp_path) as host:
        known = tmp_path / "known_hosts"
        public = _the_line(host).split(None, 1)[1]
        known.write_text(f"{_the_line(host)}\n{bad.format(key=public)}\n")
        remote = remote_for(host, known_hosts=known)
        with pytest.raises(RemoteError) as err:
            await remote.run("true", timeout=10)
        assert remote._conn is None
        message = str(err.value)
        assert f"{known} line 2 cannot be read" in message and "fix or remove it" in message, \
            message
        assert "\n" not in message


async def test_a_network_written_in_known_hosts_trusts_no_host_in_it(tmp_path: Path) -> None:
    """Review 55c L1: asyncssh reads a known_hosts pattern with a "/" as a
    network (127.0.0.0/8 KEY), so one line trusted a key for every address
    in it; OpenSSH's known_hosts has no such thing and says no host key is
    known. The host is not known yet."""
    async with rehearsal_host(tmp_path) as host:
        known = tmp_path / "known_hosts"
        public = _the_line(host).split(None, 1)[1]
        known.write_text(f"127.0.0.0/8 {public}\n")
        remote = remote_for(host, known_hosts=known)
        with pytest.raises(HostKeyRefused) as err:
            await remote.run("true", timeout=10)
        assert remote._conn is None
        message = str(err.value)
        assert "no key is trusted for this host yet" in message, message
        assert err.value.known_hosts_line == _the_line(host)


async def test_a_key_listed_for_port_22_is_not_a_changed_key_of_a_host_on_another_port(
        tmp_path: Path) -> None:
    """Review 55c L2: known_hosts holding the port-22 sshd's key under the
    bare name (127.0.0.1 OLDKEY), the host on another port showing its own:
    runbook said the key had changed and advised ssh-keygen -R 127.0.0.1,
    deleting the port-22 sshd's still-good entry. ssh says no host key is
    known for [127.0.0.1]:PORT; so does runbook, and takes nothing out."""
    async with rehearsal_host(tmp_path) as host:
        known = tmp_path / "known_hosts"
        old = _old_key()
        known.write_text(f"127.0.0.1 {old[0]} {old[1]}\n")
        remote = remote_for(host, known_hosts=known)
        with pytest.raises(HostKeyRefused) as err:
            await remote.run("true", timeout=10)
        message = str(err.value)
        assert "no key is trusted for this host yet" in message, message
        assert CHANGED not in message and "ssh-keygen -R" not in message, message
        assert err.value.known_hosts_line == _the_line(host)


async def test_a_host_a_certificate_authority_is_trusted_for_that_shows_a_plain_key(
        tmp_path: Path) -> None:
    """Review 55b L6: known_hosts trusting a certificate authority for the
    host (@cert-authority), the host showing a plain key (its certificate
    gone, or someone in between who has none) failed as "cannot connect over
    SSH: Unable to find compatible server host key" (asyncssh offers only
    certificate types then). It is said as what it is."""
    async with rehearsal_host(tmp_path) as host:
        known = tmp_path / "known_hosts"
        ca = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
        known.write_text(f"@cert-authority [127.0.0.1]:{host.ssh_port} {ca}")
        remote = remote_for(host, known_hosts=known)
        with pytest.raises(HostKeyRefused) as err:
            await remote.run("true", timeout=10)
        message = str(err.value)
        assert "cannot connect" not in message and "no key is trusted" not in message, message
        assert f"{known} trusts a certificate authority for this host, and the host showed a " \
            f"key it did not sign. {NOT_SIGNED}" in message, message
        assert "ssh-keygen -R" not in message, message
        assert message.endswith(f"add this line to {known}:\n{_the_line(host)}"), message


async def test_a_host_showing_a_certificate_of_another_authority_is_not_said_as_not_known(
        tmp_path: Path) -> None:
    """Review 55b L6: known_hosts trusting one certificate authority for the
    host, the host showing a certificate signed by another read "no key is
    trusted for this host yet", as if nothing were set up for it."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    other_ca = asyncssh.generate_private_key("ssh-ed25519")
    cert = other_ca.generate_host_certificate(key, "127.0.0.1", principals=["127.0.0.1"])
    server = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[(key, cert)],
                                   authorized_client_keys=None)
    port = server.sockets[0].getsockname()[1]
    try:
        known = tmp_path / "known_hosts"
        ca = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
        known.write_text(f"@cert-authority [127.0.0.1]:{port} {ca}")
        identity = tmp_path / "id"
        identity.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
        remote = Remote(HostSettings("127.0.0.1", port, "nobody", identity=identity,
                                     known_hosts=known), isolated=True, connect_timeout=5)
        with pytest.raises(HostKeyRefused) as err:
            await remote.connect()
        message = str(err.value)
        assert "no key is trusted" not in message, message
        assert f"{known} trusts a certificate authority for this host, and the host showed a " \
            f"key it did not sign. {NOT_SIGNED}" in message, message
    finally:
        server.close()


async def test_isolated_no_global_known_hosts_file_is_read_and_otherwise_they_are(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 55b L5: isolated (a rehearsal, the tests) read the machine's
    /etc/ssh/ssh_known_hosts{,2}, so what it trusted hung on that machine's
    files. Isolated reads none of them; a real run still reads them, as ssh
    does (here a file in tmp_path stands in for /etc's)."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "known_hosts").write_text("")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    async with rehearsal_host(tmp_path) as host:
        shared = tmp_path / "ssh_known_hosts"
        shared.write_text(f"{_the_line(host)}\n")
        monkeypatch.setattr(rm, "GLOBAL_KNOWN_HOSTS", (str(shared),))
        isolated = remote_for(host, known_hosts=None)
        with pytest.raises(HostKeyRefused) as err:
            await isolated.run("true", timeout=10)
        assert str(shared) not in str(err.value), err.value
        settings = rehearsal_settings(host)
        real = Remote(HostSettings(**{**settings.host.__dict__, "known_hosts": None}),
                      keepalive_interval=1, term_grace=1)
        assert (await real.run("true", timeout=10)).ok
        await real.close()


async def test_a_host_that_cannot_be_reached_is_said_in_words_with_what_to_check(
        tmp_path: Path) -> None:
    """Operator trial: a wrong port read "cannot connect over SSH (Connect call
    failed ('127.0.0.1', 2))", asyncio's words, with nothing to check."""
    import socket

    async with rehearsal_host(tmp_path) as host:
        with socket.socket() as probe:  # a free port, closed again: refused
            probe.bind(("127.0.0.1", 0))
            closed = probe.getsockname()[1]
        for changes, said, check in (({"port": closed}, "connection refused", "host.port"),
                                     ({"address": "no-such-host.invalid"}, "no such host",
                                      "host.address")):
            remote = Remote(HostSettings(**{**rehearsal_settings(host).host.__dict__,
                                            **changes}), isolated=True, reconnect_within=0)
            with pytest.raises(RemoteError) as err:
                await remote.run("true", timeout=10)
            message = str(err.value)
            assert "Connect call failed" not in message, message
            assert said in message and check in message, message


def test_a_name_with_two_addresses_is_said_in_words_and_a_reconnect_names_no_setting(
) -> None:
    """Review: a name with two addresses (localhost as ::1 and 127.0.0.1) fails
    as one OSError without an errno, in asyncio's words; and after a drop, a
    refused reconnect said to check host.port, which had just worked."""
    both = OSError("Multiple exceptions: [Errno 111] Connect call failed ('::1', 22, 0, 0), "
                   "[Errno 111] Connect call failed ('127.0.0.1', 22)")
    said = unreachable(both)
    assert said.startswith("connection refused") and "host.port" in said, said
    again = unreachable(ConnectionRefusedError(111, "Connect call failed"), advise=False)
    assert again.startswith("connection refused") and "check" not in again, again
    # A file's error names the file (review: a missing ProxyCommand read "No
    # such file or directory", naming nothing).
    missing = unreachable(FileNotFoundError(2, "No such file or directory", "/opt/jump"))
    assert missing == "No such file or directory: /opt/jump", missing


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


async def test_an_upload_an_earlier_run_left_half_way_goes_on_from_there(tmp_path: Path) -> None:
    """A run that died (or was stopped) mid-upload leaves part of the file on
    the host; the next run checks that part against ours and sends the rest."""
    data = os.urandom(24 << 20)
    payload = tmp_path / "payload.bin"
    payload.write_bytes(data)
    async with rehearsal_host(tmp_path, boot_service=False) as host:
        remote = remote_for(host)
        host.upload_dir.mkdir(parents=True, exist_ok=True)
        target = host.upload_dir / "payload.bin"
        # What a cut leaves: a prefix, its last stretch with holes where
        # parallel writes had not landed yet.
        target.write_bytes(data[: 12 << 20] + bytes(2 << 20))
        before = host.sftp_bytes
        sent = await remote.upload(payload, str(target), timeout=60)
        resent = host.sftp_bytes - before
        assert target.read_bytes() == data
        assert resent <= (24 - 12 + 8) << 20, f"{resent} bytes sent again: it started over"
        assert sent.sha256 == hashlib.sha256(data).hexdigest(), "the sha256 of what was sent"
        # Said, for the step to tell (operator trial: a retry went on from
        # 1.3 GB and nothing said it had).
        assert 0 < sent.kept <= 12 << 20, sent.kept

        # Not a prefix of ours (another file of the same name): sent whole.
        spoilt = bytearray(data[: 12 << 20])
        spoilt[1 << 20] ^= 0xFF
        target.write_bytes(bytes(spoilt))
        before = host.sftp_bytes
        again = await remote.upload(payload, str(target), timeout=60)
        assert host.sftp_bytes - before >= len(data) and again.kept == 0
        assert target.read_bytes() == data
        await remote.close()


@pytest.mark.parametrize("with_openssl", [True, False], ids=["openssl", "sha256sum"])
def test_the_hosts_sha256_comes_from_openssl_or_else_sha256sum(
    tmp_path: Path, with_openssl: bool,
) -> None:
    import shutil
    import subprocess

    from runbook.remote import sha256_command

    tools = tmp_path / "bin"
    tools.mkdir()
    # Linked one by one, so `command -v openssl` finds it only when asked.
    for name in ("bash", "head", "sha256sum", *(("openssl",) if with_openssl else ())):
        found = shutil.which(name)
        assert found is not None, name
        (tools / name).symlink_to(found)
    data = os.urandom(3 << 20)
    path = tmp_path / "a file, with spaces"
    path.write_bytes(data)
    for first, expected in ((None, data), (1 << 20, data[: 1 << 20])):
        done = subprocess.run([str(tools / "bash"), "-c", sha256_command(str(path), first=first)],
                              env={"PATH": str(tools)}, capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split()[0] == hashlib.sha256(expected).hexdigest()
    missing = subprocess.run([str(tools / "bash"), "-c", sha256_command(str(tmp_path / "no"))],
                             env={"PATH": str(tools)}, capture_output=True, text=True)
    assert missing.returncode != 0


def test_attaching_ends_once_the_job_left_its_status_though_init_has_not_reaped_it(
    tmp_path: Path,
) -> None:
    """A detached job's last act is to write its exit status; its process is
    then a zombie until the host's init reaps it, which a container's init can
    leave for seconds. Attaching must end on the status, not on the reaping:
    every detached command (unzip, the service start) paid that wait in the
    downtime."""
    import subprocess

    from runbook import jobs

    home = tmp_path / "home"
    folder = home / ".runbook" / "jobs"
    folder.mkdir(parents=True)
    # A parent that never reaps: its child ends at once and stays a zombie
    # while the parent sleeps on.
    parent = subprocess.Popen(["sh", "-c", "sh -c 'echo $$ > child; exit 0' & exec sleep 30"],
                              cwd=tmp_path)
    try:
        for _ in range(100):
            if (tmp_path / "child").is_file() and (tmp_path / "child").read_text().strip():
                break
            time.sleep(0.05)
        child = (tmp_path / "child").read_text().strip()
        (folder / "j.pid").write_text(f"{child}\n")
        (folder / "j.log").write_text("all of it\n")
        (folder / "j.rc").write_text("0\n")
        done = subprocess.run(["sh", "-c", jobs.attach_command("j", 0)],
                              env={"HOME": str(home), "PATH": os.environ["PATH"]},
                              capture_output=True, text=True, timeout=10)
        assert parent.poll() is None, "the zombie was reaped before attaching ended"
        assert done.returncode == 0 and done.stdout == "all of it\n"
    finally:
        parent.kill()
        parent.wait()


def test_a_launched_job_has_its_log_when_the_launch_returns(tmp_path: Path) -> None:
    """The log was created by the job's own redirect, after the launch had
    returned: an attach quick enough found no log, so tail ended at once and
    the job, still running, read as ended without a status (in doubt). A
    reviewer saw it 12 times in 400 quick attaches; here 300 launches, each
    looked at the moment it returns."""
    import subprocess

    from runbook import jobs

    home = tmp_path / "home"
    env = {"HOME": str(home), "PATH": os.environ["PATH"]}
    missing = 0
    for n in range(300):
        subprocess.run(["sh", "-c", jobs.launch_detached("sleep 0.2", limit=5, grace=1,
                                                         job=f"j{n}")],
                       env=env, check=True, timeout=10)
        missing += not (home / ".runbook" / "jobs" / f"j{n}.log").exists()
    # The last jobs (0.2 s each) end on their own: waited for, not left running.
    deadline = time.monotonic() + 10
    while processes_mentioning(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert missing == 0, f"{missing} of 300 launches returned before their log existed"
    assert processes_mentioning(tmp_path) == []


def test_attaching_waits_for_the_whole_exit_status_not_an_empty_file(tmp_path: Path) -> None:
    """A status file that exists but is still empty (created, not yet written)
    is no status yet: reading it then turned a command that succeeded into
    exit status 2 ('Illegal number')."""
    import subprocess

    from runbook import jobs

    home = tmp_path / "home"
    folder = home / ".runbook" / "jobs"
    folder.mkdir(parents=True)
    job = subprocess.Popen(["sleep", "1"])
    try:
        (folder / "j.pid").write_text(f"{job.pid}\n")
        (folder / "j.log").write_text("started\n")
        (folder / "j.rc").write_text("")  # created; the 0 comes a moment later
        writer = subprocess.Popen(["sh", "-c", f"sleep 0.4; echo 0 > {folder / 'j.rc'}"])
        done = subprocess.run(["sh", "-c", jobs.attach_command("j", 0)],
                              env={"HOME": str(home), "PATH": os.environ["PATH"]},
                              capture_output=True, text=True, timeout=10)
        writer.wait()
        assert (done.returncode, done.stdout) == (0, "started\n"), done.stderr
    finally:
        job.kill()
        job.wait()


def test_attaching_ends_with_the_job_when_its_output_cannot_be_followed(tmp_path: Path) -> None:
    """With no log to follow, tail ends at once; the watcher it followed must
    not hold the channel open until the job ends."""
    import subprocess

    from runbook import jobs

    home = tmp_path / "home"
    folder = home / ".runbook" / "jobs"
    folder.mkdir(parents=True)
    job = subprocess.Popen(["sleep", "30"])
    try:
        (folder / "j.pid").write_text(f"{job.pid}\n")
        done = subprocess.run(["sh", "-c", jobs.attach_command("j", 0)],
                              env={"HOME": str(home), "PATH": os.environ["PATH"]},
                              capture_output=True, text=True, timeout=40)
        assert job.poll() is None, "attach waited for the job to end"
        assert done.returncode == jobs.NO_STATUS and jobs.NO_STATUS_MARK in done.stderr
    finally:
        job.kill()
        job.wait()


class _FakeFile:
    def __init__(self, store: bytearray, state: dict) -> None:
        self.store, self.state = store, state

    async def write(self, data: bytes, offset: int) -> int:
        await asyncio.sleep(0.01)
        if self.state["fail_next"]:
            self.state["fail_next"] = False
            raise asyncssh.SFTPConnectionLost("cut")
        end = offset + len(data)
        if len(self.store) < end:
            self.store.extend(bytes(end - len(self.store)))
        self.store[offset:end] = data
        return len(data)

    async def truncate(self, size: int) -> None:
        del self.store[size:]

    async def __aenter__(self): return self
    async def __aexit__(self, *a): return None


class _FakeSFTP:
    class limits:
        max_write_len = 256 << 10

    def __init__(self, store, state): self.store, self.state = store, state
    def open(self, path, mode, encoding=None):
        if "w" in mode:
            self.store.clear()
        return _FakeFile(self.store, self.state)
    async def stat(self, path):
        self.state["stats"] += 1
        return asyncssh.SFTPAttrs(size=len(self.store))
    async def __aenter__(self): return self
    async def __aexit__(self, *a): return None


class _FakeConn:
    def __init__(self, store, state): self.store, self.state = store, state
    def start_sftp_client(self): return _FakeSFTP(self.store, self.state)
    def abort(self): pass
    def is_closed(self): return False


async def test_an_abort_while_the_upload_waits_for_its_read_ahead_is_not_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A write fails (the connection dropped) and the upload waits for the
    thread reading ahead; an abort (or the upload's own time limit) arriving
    in that wait must end the upload, not be swallowed so that it reconnects
    and carries on. The window is a race with a thread that a real host
    cannot be made to hit on purpose: the SFTP session here is a stand-in."""
    data = os.urandom(1 << 20)
    local = tmp_path / "f.bin"
    local.write_bytes(data)
    store, state = bytearray(), {"fail_next": True, "stats": 0}
    remote = Remote(HostSettings(address="h", user="u"))
    conn = _FakeConn(store, state)

    async def connect():
        return conn
    monkeypatch.setattr(remote, "connect", connect)
    monkeypatch.setattr(up, "_IN_FLIGHT", 512 << 10)  # window of 2 writes: small file suffices
    real = up._read_blocks
    calls = [0]

    def slow_read(*a):  # a slow local disk: the read-ahead takes 0.5 s
        calls[0] += 1
        if calls[0] == 2:
            time.sleep(0.5)
        return real(*a)
    monkeypatch.setattr(up, "_read_blocks", slow_read)

    task = asyncio.create_task(remote.upload(local, "/up/f.bin", timeout=60))
    await asyncio.sleep(0.2)  # the first write has failed; finally waits for the read-ahead
    task.cancel()             # the operator aborts
    outcome = None
    try:
        outcome = await task
    except asyncio.CancelledError:
        outcome = "cancelled"
    assert outcome == "cancelled", (
        f"abort swallowed: upload returned {outcome!r}, looked at the host "
        f"{state['stats']} more time(s), host file intact={bytes(store) == data}")


@contextlib.asynccontextmanager
async def uploading(tmp_path: Path, size: int) -> AsyncIterator[tuple[Any, Remote, Path, bytes]]:
    """A rehearsal host (no service), a remote to it, and a payload of `size`
    random bytes to upload into its upload folder."""
    data = os.urandom(size)
    payload = tmp_path / "payload.bin"
    payload.write_bytes(data)
    async with rehearsal_host(tmp_path, boot_service=False) as host:
        remote = remote_for(host)
        host.upload_dir.mkdir(parents=True, exist_ok=True)
        try:
            yield host, remote, payload, data
        finally:
            await remote.close()


async def test_the_host_hashes_the_file_as_it_lands(tmp_path: Path) -> None:
    """The host reads each part once it is written: when the copy ends, its
    sha256 of the file is ready, without a second pass over the whole file
    (issue 12: that pass took as long as a third of the copy)."""
    async with uploading(tmp_path, 20 << 20) as (host, remote, payload, data):
        target = host.upload_dir / "payload.bin"
        sent = await remote.upload(payload, str(target), timeout=60, host_hash=True)
        assert sent.sha256 == sent.host_sha256 == hashlib.sha256(data).hexdigest()

        # Going on from a part an earlier run left: the host reads that part
        # too, so its sha256 is of the whole file.
        target.write_bytes(data[: 12 << 20])
        before = host.sftp_bytes
        sent = await remote.upload(payload, str(target), timeout=60, host_hash=True)
        assert host.sftp_bytes - before < len(data), "it started over"
        assert sent.host_sha256 == hashlib.sha256(data).hexdigest()

        # Not asked: no reader on the host, no hash from it.
        plain = await remote.upload(payload, str(target) + ".2", timeout=60)
        assert plain.sha256 == hashlib.sha256(data).hexdigest() and plain.host_sha256 is None


async def test_bytes_the_host_stores_wrong_show_in_its_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A host that writes other bytes than it was sent (a failing disk, a
    full one that truncates): what it read back is not what was sent."""
    from runbook.rehearsal.sshd import SandboxSFTPServer

    plain_write = SandboxSFTPServer.write

    def flips_a_byte(self, file_obj, offset, data):  # type: ignore[no-untyped-def]
        if offset <= (5 << 20) < offset + len(data):
            spoilt = bytearray(data)
            spoilt[(5 << 20) - offset] ^= 0xFF
            data = bytes(spoilt)
        return plain_write(self, file_obj, offset, data)

    monkeypatch.setattr(SandboxSFTPServer, "write", flips_a_byte)
    async with uploading(tmp_path, 12 << 20) as (host, remote, payload, data):
        target = host.upload_dir / "payload.bin"
        sent = await remote.upload(payload, str(target), timeout=60, host_hash=True)
        assert sent.sha256 == hashlib.sha256(data).hexdigest()
        assert sent.host_sha256 == hashlib.sha256(target.read_bytes()).hexdigest()
        assert sent.host_sha256 != sent.sha256


def _landing_reader(path: Path) -> tuple[int, int] | None:
    """How far the host's reader of `path` has read (its fd 3, shared by the
    shell and each head it runs), and its nice value; None while there is none."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            if b"exec 3<" not in cmdline or str(path).encode() not in cmdline:
                continue
            fdinfo = (proc / "fdinfo" / "3").read_text()
            nice = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[16])
        except (OSError, IndexError, ValueError):
            continue
        return int(fdinfo.split("pos:")[1].split()[0]), nice
    return None


async def test_the_host_has_read_all_but_the_tail_when_the_copy_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The point of reading as the file lands: when the last write is in, the
    host has read everything it was told of, and only the last stretch is
    left to read (not a second pass over the whole file). It reads at a lower
    priority than the live service's."""
    monkeypatch.setattr(up, "_TELL_EVERY", 1 << 20)
    read_by_then: list[tuple[int, int] | None] = []
    plain_sha256 = up._HostReading.sha256

    async def looks_first(self, within):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 10
        while ((at := _landing_reader(target)) or (0, 0))[0] < self._told \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        read_by_then.append(at)
        return await plain_sha256(self, within)

    monkeypatch.setattr(up._HostReading, "sha256", looks_first)
    async with uploading(tmp_path, 24 << 20) as (host, remote, payload, data):
        target = host.upload_dir / "payload.bin"
        sent = await remote.upload(payload, str(target), timeout=60, host_hash=True)
        assert sent.host_sha256 == hashlib.sha256(data).hexdigest()
        assert read_by_then and read_by_then[0] is not None, "no reader on the host"
        position, nice = read_by_then[0]
        assert position >= len(data) - (1 << 20), read_by_then
        # The copy is made while the live stream manager serves: the hashing
        # gives way to it.
        assert nice == 10, nice


def test_stopping_a_job_that_is_gone_waits_for_nothing(tmp_path: Path) -> None:
    """An abort stops the job's session: TERM, then KILL to what is left. It
    slept 0.2 s after the KILL even when nothing was left to kill, and in 0.2 s
    steps while a process died of the TERM. `sleep` here writes down what it
    is asked for: nothing, for a session that is already empty; and a job that
    dies of the TERM is gone with at most a tenth of a second asked for."""
    import subprocess

    from runbook import jobs

    shims = tmp_path / "bin"
    shims.mkdir()
    asked = tmp_path / "asked"
    (shims / "sleep").write_text(f'#!/bin/sh\necho "$1" >> {asked}\nexec /bin/sleep "$1"\n')
    (shims / "sleep").chmod(0o755)
    env = {"PATH": f"{shims}:{os.environ['PATH']}"}

    def stop(session: int) -> list[float]:
        asked.write_text("")
        done = subprocess.run(["sh", "-c", jobs.stop_command(session, 3.0)], env=env,
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return [float(line) for line in asked.read_text().split()]

    assert stop(2 ** 22 - 1) == []  # no process is in a session with that id
    job, reaper = _in_own_session("/bin/sleep", "60")
    try:
        slept = stop(job.pid)
        reaper.join(5)
        assert job.returncode == -15  # it died of the TERM
        assert sum(slept) <= 0.1, slept
    finally:
        job.kill()
        reaper.join(5)


def test_a_job_whose_session_holds_only_the_dead_has_ended(tmp_path: Path) -> None:
    """A job's status counted a zombie as running: a killed job's shell leaves
    its children for init to reap, which some inits do seconds late (this
    machine's, CI's), and a later run then waited on a job that had ended. A
    session of the living still reads as running."""
    from runbook import jobs

    folder = tmp_path / ".runbook" / "jobs"
    folder.mkdir(parents=True)
    env = {**os.environ, "HOME": str(tmp_path)}

    def status(session: int) -> jobs.JobStatus | None:
        (folder / "j").write_text(f"{session} {int(time.time())} 60\n")
        done = subprocess.run(["sh", "-c", jobs.status_command("j")], env=env,
                              capture_output=True, text=True, timeout=30)
        return jobs.parse_status(done.stdout)

    dead = subprocess.Popen(["setsid", "true"])  # not reaped until waited for
    living, reaper = _in_own_session("/bin/sleep", "60")
    try:
        for _ in range(100):
            if Path(f"/proc/{dead.pid}/stat").read_text().split(") ")[1].startswith("Z"):
                break
            time.sleep(0.01)
        assert status(dead.pid) is None
        assert not (folder / "j").exists(), "the ended job's record was kept"
        running = status(living.pid)
        assert running is not None and running.pids == (living.pid,)
    finally:
        dead.wait()
        living.kill()
        reaper.join(5)


def _in_own_session(*command: str) -> tuple[subprocess.Popen[bytes], threading.Thread]:
    """`command` as the leader of a new session, reaped the moment it dies (as
    a job's own shell reaps it: a zombie would still be in the session)."""
    job = subprocess.Popen(["setsid", *command])
    reaper = threading.Thread(target=job.wait)
    reaper.start()
    for _ in range(100):
        if os.getsid(job.pid) == job.pid:
            break
        time.sleep(0.01)
    return job, reaper


@pytest.mark.parametrize("grace", [0.3, 0])
def test_a_job_that_ignores_term_is_killed_after_the_grace(grace: float) -> None:
    """With no grace too: to `timeout`, 0s means no limit at all (review), so
    a grace of nothing kept looking, as root, for as long as the job ignored
    the TERM, and never sent the KILL. No grace is one look, then the KILL."""
    from runbook import jobs

    job, reaper = _in_own_session("sh", "-c", "trap '' TERM; exec /bin/sleep 60")
    try:
        time.sleep(0.1)  # the trap is set before the TERM comes
        done = subprocess.run(["sh", "-c", jobs.stop_command(job.pid, grace)],
                              capture_output=True, text=True, timeout=10)
        reaper.join(5)
        assert done.returncode == 0, done.stderr
        assert job.returncode == -9
    finally:
        job.kill()
        reaper.join(5)


def test_the_grace_before_the_kill_is_time_not_a_count_of_looks(tmp_path: Path) -> None:
    """The grace was counted in looks of 50 ms each, as if a look took no time:
    a look (ps) costs time of its own, so a 5 s grace took 6.15 s on a host
    with a hundred processes. Here `sleep` returns at once, so counted looks
    end (and the KILL comes) long before the grace has passed; the grace must
    be the seconds it says, however long a look takes."""
    from runbook import jobs

    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "sleep").write_text("#!/bin/sh\nexit 0\n")
    (shims / "sleep").chmod(0o755)
    grace = 1.5
    job, reaper = _in_own_session("sh", "-c", "trap '' TERM; exec /bin/sleep 60")
    try:
        time.sleep(0.1)  # the trap is set before the TERM comes
        started = time.monotonic()
        done = subprocess.run(["sh", "-c", jobs.stop_command(job.pid, grace)],
                              env={"PATH": f"{shims}:{os.environ['PATH']}"},
                              capture_output=True, text=True, timeout=30)
        reaper.join(5)
        survived = time.monotonic() - started
        assert done.returncode == 0, done.stderr
        assert job.returncode == -9
        # A lower bound only: a slow machine makes the stop longer, not shorter.
        assert survived >= grace, f"killed after {survived:.2f}s of a {grace}s grace"
    finally:
        job.kill()
        reaper.join(5)


def test_a_stop_without_the_tools_to_look_does_not_say_the_job_is_gone(
        tmp_path: Path) -> None:
    """Without pgrep (procps), `! pgrep` read as "nothing left": the stop said
    the job had ended while it ran on, and gave no grace before the KILL."""
    from runbook import jobs

    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("sh", "pkill", "sleep", "ps", "grep", "timeout"):
        found = shutil.which(name)
        assert found is not None
        (tools / name).symlink_to(found)
    job, reaper = _in_own_session("/bin/sleep", "60")
    try:
        for missing in ("pkill", "ps", "timeout"):
            (tools / missing).rename(tools / f"{missing}.away")
            done = subprocess.run([str(tools / "sh"), "-c", jobs.stop_command(job.pid, 0.2)],
                                  env={"PATH": str(tools)}, capture_output=True, text=True,
                                  timeout=30)
            (tools / f"{missing}.away").rename(tools / missing)
            assert done.returncode != 0, missing
            assert job.poll() is None, f"without {missing}, the job was still stopped"
    finally:
        job.kill()
        reaper.join(5)


async def test_an_upload_sends_its_data_without_a_padding_packet_before_each(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """asyncssh sends an SSH_MSG_IGNORE ahead of every packet, a guard for CBC
    ciphers. The connection offers AEAD ciphers only, so the guard protects
    nothing there and doubled the packets of an upload (issue 12: the copy
    stayed below scp's speed). The host still gets every byte."""
    async with uploading(tmp_path, 96 << 10) as (host, remote, payload, data):
        await remote.connect()
        asyncssh.set_debug_level(3)  # every packet logged, with its type
        try:
            with caplog.at_level(logging.DEBUG, logger="asyncssh"):
                sent = await remote.upload(payload, str(host.upload_dir / "payload.bin"),
                                           timeout=30)
        finally:
            asyncssh.set_debug_level(1)
        # The host is asyncssh too, in this process: what its end of the
        # connection (the end a channel was opened to) received, our end sent.
        logged = [r.getMessage() for r in caplog.records]
        host_end = next(line.split("]")[0].split(",")[0] for line in logged
                        if "Received MSG_CHANNEL_OPEN " in line)
        packets = [line for line in logged if line.startswith(host_end + ",")
                   and "Received MSG_" in line]
        assert sum("MSG_CHANNEL_DATA" in p for p in packets) >= 3, packets
        assert not [p for p in packets if "MSG_IGNORE" in p], packets
        assert sent.sha256 == hashlib.sha256(data).hexdigest()
        assert (host.upload_dir / "payload.bin").read_bytes() == data


@pytest.mark.timeout(10)
def test_a_plain_command_is_told_from_shell_syntax() -> None:
    """What the host may start under `timeout` as it is (no bash of its own):
    one program and words that no shell expands. A long command that is not
    plain is told at once, as every command sent to the host is asked this."""
    from runbook import jobs

    plain = ["true", "sudo -n mv -T -- /a/b '/c d/e'", "test -d /usr/local/red5pro",
             "'ls' -1 --", "stat -L -c %s:%U -- /x", "ls \"x y\""]
    not_plain = ["a=b", "exit 3", "test -v HOME", "test -d /a -a ! -L /a", "A=1 ls", "echo a | cat",
                 "ls ~", "ls *", "ls $HOME", "ls \"$HOME\"", "ls `pwd`", "ls x\nrm y", "cd /",
                 "if true; then :; fi", "-x", "", "  ", "ls 'unclosed", "ls \\x", "time ls",
                 "mkdir -p -- " + "/tmp/a/b " * 2000 + "&& test -d /tmp/a",
                 # A zsh login shell expands a word that begins with `=` (the
                 # one-channel-each way); coreutils' true and false answer
                 # --help where bash's print nothing (review).
                 "expr 1 == 1", "ls =ls", "true --help", "false --version"]
    assert [c for c in plain if not jobs.plain(c)] == []
    assert [c for c in not_plain if jobs.plain(c)] == []


@pytest.mark.parametrize("loose", [".runbook/jobs", ".runbook"])
async def test_a_job_record_others_could_have_written_is_not_trusted(
        tmp_path: Path, loose: str) -> None:
    """A job's record names the session an abort ends, as root. Its folder was
    made `mkdir -m 700`, which sets the mode only of a folder it makes: one
    already there, or a record, that another account could write was read all
    the same, and its session (here an innocent process's) would be killed
    (code review, stop 45). Such a record is refused in words, with the mend,
    and nothing is stopped."""
    async with rehearsal_host(tmp_path) as host:
        folder = host.home / ".runbook" / "jobs"
        folder.mkdir(parents=True, mode=0o700)
        innocent, reaper = _in_own_session("/bin/sleep", "60")
        try:
            (folder / "j").write_text(f"{innocent.pid} {int(time.time())} 60\n")
            remote = remote_for(host)
            try:
                # Loosened once the connection's shell has started (which
                # tightens what is runbook's own): by another hand, mid-run.
                assert (await remote.run("true", timeout=10)).ok
                (host.home / loose).chmod(0o777)
                with pytest.raises(RemoteError, match=r"chmod go-w .*\.runbook"):
                    await remote.job_status("j")
                with pytest.raises(RemoteError, match="chmod go-w"):
                    await remote.stop_job("j")
            finally:
                await remote.close()
            assert innocent.poll() is None, "the session a loose record named was ended"
        finally:
            innocent.kill()
            reaper.join(5)


def test_the_job_folders_are_made_trusted_whatever_the_umask(tmp_path: Path) -> None:
    """mkdir -p -m 700 set the mode of the jobs folder alone: under a umask of
    002 its parent ~/.runbook was made 0775, and every record in it would then
    be refused as one another account could have written."""
    from runbook import jobs

    env = {**os.environ, "HOME": str(tmp_path)}
    for n, command in enumerate((jobs.wrap("true", limit=5, grace=1, job="w"),
                                 jobs.launch_detached("true", limit=5, grace=1, job="d"))):
        shutil.rmtree(tmp_path / ".runbook", ignore_errors=True)
        done = subprocess.run(["bash", "-c", f"umask 002; {command}"], env=env, timeout=30,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        for _ in range(200):  # the detached one has ended once it left its status
            if n == 0 or (tmp_path / ".runbook" / "jobs" / "d.rc").exists():
                break
            time.sleep(0.01)
        for folder in (tmp_path / ".runbook", tmp_path / ".runbook" / "jobs"):
            assert folder.stat().st_mode & 0o777 == 0o700, (n, folder)


@pytest.mark.parametrize("status", [1, 2, None])
async def test_a_job_whose_status_cannot_be_read_is_not_taken_for_ended(
        status: int | None) -> None:
    """job_status read any exit but 0 as "the job has ended": stop_job then said
    it had stopped it, and a retry ran the step again beside an attempt that
    may still run (code review, stop 46). What cannot be told is said so.
    (The host's answer is made up here: a failing look is hard to stage.)"""
    from runbook.shell import CommandResult
    from tests.test_executor import SETTINGS

    remote = Remote(SETTINGS.host)

    async def run(command: str, **_: Any) -> CommandResult:
        return CommandResult(command, status, "", "ps: cannot read the process list\n")

    remote.run = run  # type: ignore[method-assign]
    with pytest.raises(RemoteError, match=r"cannot tell whether .*still runs"):
        await remote.job_status("upload-1")
    with pytest.raises(RemoteError, match="cannot tell whether"):
        await remote.stop_job("upload-1")


async def test_a_stop_whose_job_record_cannot_be_read_signals_the_command_all_the_same() -> None:
    """An abort or a timeout stops the command by its job record, else by
    signals. A record that could not be read raised past the signals, and
    the command ran on while the operator was told it was stopped (second
    review, stop 46). (The host's answers are made up, as above.)"""
    import types

    from runbook.shell import CommandResult
    from tests.test_executor import SETTINGS

    remote = Remote(SETTINGS.host)
    sent: list[str] = []

    async def run(command: str, **_: Any) -> CommandResult:
        sent.append(command)
        return CommandResult(command, 1 if len(sent) == 1 else 0, "", "ps: no answer\n")

    remote.run = run  # type: ignore[method-assign]
    shell = types.SimpleNamespace(pid=4242, close=lambda: None)
    await remote._stop_in(shell, "upload-1")  # type: ignore[arg-type]
    assert any("pkill -TERM -P 4242" in command for command in sent), sent
    signals: list[str] = []
    # wait() gives the completed process, as asyncssh's does: ended by the TERM.
    process = types.SimpleNamespace(send_signal=signals.append, close=lambda: None,
                                    wait=lambda: asyncio.sleep(
                                        0, types.SimpleNamespace(returncode=-15)))
    sent.clear()
    await remote._stop(process, "upload-1")  # type: ignore[arg-type]
    assert signals == ["TERM"], (signals, sent)


async def test_job_folders_an_earlier_runbook_left_loose_are_tightened_not_refused(
        tmp_path: Path) -> None:
    """A host where an earlier runbook ran under umask 002 has ~/.runbook at
    0775: every record there was then refused, first found after a drop, mid
    cutover (second review, stop 46). runbook's own folders are made the
    user's alone as a connection starts; a folder linked elsewhere is judged
    by the folder it leads to (a link's own mode is always 777)."""
    async with rehearsal_host(tmp_path) as host:
        parent = host.home / ".runbook"
        elsewhere = tmp_path / "kept-jobs"
        elsewhere.mkdir(mode=0o700)
        parent.mkdir(mode=0o775)
        parent.chmod(0o775)
        (parent / "jobs").symlink_to(elsewhere)
        remote = remote_for(host)
        job, reaper = _in_own_session("/bin/sleep", "60")
        try:
            assert (await remote.run("true", timeout=10, job="first")).ok
            assert parent.stat().st_mode & 0o022 == 0, oct(parent.stat().st_mode)
            (elsewhere / "j").write_text(f"{job.pid} {int(time.time())} 60\n")
            found = await remote.job_status("j")
            assert found is not None and found.pids == (job.pid,)
        finally:
            await remote.close()
            job.kill()
            reaper.join(5)


async def test_a_stdout_mark_without_its_status_is_no_exit_status() -> None:
    """The shared shell's stdout mark carries the command's exit status; one
    that came without it was read as 0, success (code review, stop 48): a
    missing exit status is unknown. (The framed line always prints the
    status, so the torn line is stood in for by a reader.)"""
    from runbook.sharedshell import SharedShell

    class Lines:
        def __init__(self, *lines: str) -> None:
            self.lines = list(lines)

        async def readline(self) -> str:
            return self.lines.pop(0) if self.lines else ""

    into: list[str] = []
    torn = await SharedShell._read(Lines("out\n", "MARK\n"), "out", into, "MARK",  # type: ignore[arg-type]
                                   None)
    whole = await SharedShell._read(Lines("MARK 3\n"), "out", [], "MARK", None)  # type: ignore[arg-type]
    stderr = await SharedShell._read(Lines("MARK\n"), "err", [], "MARK", None)  # type: ignore[arg-type]
    assert (torn, whole, stderr, into) == (None, 3, 0, ["out\n"])


def test_a_job_record_read_half_written_is_no_status(tmp_path: Path) -> None:
    """A record read as it was being written, without its time limit: its
    fields shifted, the host's clock was read as the limit and a PID as the
    time, and the job read as ended though it ran (second review, stop 48).
    Half a record says neither running nor ended."""
    from runbook import jobs

    folder = tmp_path / ".runbook" / "jobs"
    folder.mkdir(parents=True)
    env = {**os.environ, "HOME": str(tmp_path)}
    living, reaper = _in_own_session("/bin/sleep", "60")
    try:
        (folder / "j").write_text(f"{living.pid} {int(time.time())}\n")  # no limit yet
        done = subprocess.run(["sh", "-c", jobs.status_command("j")], env=env,
                              capture_output=True, text=True, timeout=30)
        with pytest.raises(jobs.StatusUnreadable):
            jobs.parse_status(done.stdout)
    finally:
        living.kill()
        reaper.join(5)


@pytest.mark.parametrize(("algorithm", "public"), [
    ("ecdsa-sha2-nistp256", "ssh_host_ecdsa_key.pub"),
    ("ssh-rsa", "ssh_host_rsa_key.pub"),
    ("ssh-ed25519", "ssh_host_ed25519_key.pub"),
])
async def test_a_refused_host_key_names_the_hosts_key_file_of_its_type(
        tmp_path: Path, algorithm: str, public: str) -> None:
    """Review: the refusal always sent the operator to the host's ed25519
    key to compare fingerprints, whatever key the host offered: on a host
    offering ECDSA that fingerprint never matches, and reads as an attack."""
    async with rehearsal_host(tmp_path) as host:
        await host.change_host_key(algorithm)
        empty = tmp_path / "known_hosts"
        empty.write_text("")
        remote = remote_for(host, known_hosts=empty)
        with pytest.raises(HostKeyRefused) as err:
            await remote.run("true", timeout=10)
        message = str(err.value)
        assert f"ssh-keygen -lf /etc/ssh/{public}." in message, message
        # That file's fingerprint is the one shown.
        offered = asyncssh.read_public_key(str(host.state_dir / public)).get_fingerprint()
        assert f"refusing the host key {offered}:" in message, message
        others = {"ssh_host_ecdsa_key.pub", "ssh_host_rsa_key.pub",
                  "ssh_host_ed25519_key.pub"} - {public}
        assert not any(other in message for other in others), message


async def test_a_refused_host_key_of_no_known_type_names_every_key_file_of_the_host(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key could not be read a second time (the probe after the refusal;
    mocked: a host that answers the connection and not the probe cannot be
    had here): which of the host's keys to compare is not known, so each is
    named, not the ed25519 one alone."""
    async def never_answers(*_args: object, **_kwargs: object) -> None:
        raise OSError("gone")

    async with rehearsal_host(tmp_path) as host:
        empty = tmp_path / "known_hosts"
        empty.write_text("")
        remote = remote_for(host, known_hosts=empty)
        monkeypatch.setattr(rm.asyncssh, "get_server_host_key", never_answers)
        with pytest.raises(HostKeyRefused) as err:
            await remote.run("true", timeout=10)
        message = str(err.value)
        assert 'for f in /etc/ssh/ssh_host_*_key.pub; do ssh-keygen -lf "$f"; done.' \
            in message, message
        assert "ssh_host_ed25519_key.pub" not in message, message
        assert "the file of /etc/ssh/ssh_host_*_key.pub whose fingerprint is the same" \
            in message, message
        # Not listed at all: a host not known yet, nothing to take out (trial 55 F13).
        assert "no key is trusted for this host yet" in message, message
        assert "ssh-keygen -R" not in message, message


@pytest.mark.parametrize(("algorithm", "public"), [
    ("ecdsa-sha2-nistp256", "ssh_host_ecdsa_key.pub"),
    ("ssh-rsa", "ssh_host_rsa_key.pub"),
])
async def test_a_host_key_of_another_type_than_known_hosts_holds_is_refused_as_a_changed_one(
        tmp_path: Path, algorithm: str, public: str) -> None:
    """Review: a reinstalled host whose known_hosts entry is its old ed25519
    key, and which now offers only an ECDSA or RSA key, failed in asyncssh's
    words ("cannot connect over SSH: Unable to find compatible server host
    key"): asyncssh offers only the key types known_hosts holds for the host.
    It is a changed key, and is refused as one, with the same advice."""
    async with rehearsal_host(tmp_path) as host:
        await host.change_host_key(algorithm)
        remote = remote_for(host)  # known_hosts trusts the host's first, ed25519 key
        with pytest.raises(HostKeyRefused) as err:
            await remote.run("true", timeout=10)
        message = str(err.value)
        assert "Unable to find" not in message and "cannot connect" not in message, message
        assert f"the host now offers one of type {algorithm}. {CHANGED}" in message, message
        offered = asyncssh.read_public_key(str(host.state_dir / public)).get_fingerprint()
        assert f"refusing the host key {offered}:" in message, message
        assert f"ssh-keygen -lf /etc/ssh/{public}." in message, message
        name = f"'[127.0.0.1]:{host.ssh_port}'"
        assert f"ssh-keygen -R {name} -f {host.known_hosts}" in message, message
        line = (host.state_dir / public).read_text().split()[:2]
        assert message.endswith(f"[127.0.0.1]:{host.ssh_port} {line[0]} {line[1]}"), message
        # Carried as data too: the TUI shows and copies this, parsing nothing.
        assert err.value.known_hosts_line == f"[127.0.0.1]:{host.ssh_port} {line[0]} {line[1]}"
        # Never connected: no connection was kept, nothing ran.
        assert remote._conn is None and remote.fingerprint is None


@contextlib.asynccontextmanager
async def _flaky_host(tmp_path: Path, offers: list[str], trusts: str,
                      drops: set[int]) -> AsyncIterator[Remote]:
    """A host offering keys of `offers`'s types, behind a proxy that drops the
    TCP connections numbered in `drops` (0 is the first) as a flaky network,
    or an sshd at MaxStartups, does; known_hosts trusts its key of `trusts`'s
    type, or (if it offers none such) an old key of that type."""
    keys = {alg: asyncssh.generate_private_key(alg) for alg in offers}
    server = await asyncssh.listen("127.0.0.1", 0, server_host_keys=list(keys.values()),
                                   authorized_client_keys=None)
    port = server.sockets[0].getsockname()[1]
    seen = itertools.count()

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        finally:
            dst.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if next(seen) in drops:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer),
                             return_exceptions=True)

    proxy = await asyncio.start_server(handle, "127.0.0.1", 0)
    proxy_port = proxy.sockets[0].getsockname()[1]
    trusted = keys.get(trusts) or asyncssh.generate_private_key(trusts)
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{proxy_port} {trusted.export_public_key().decode()}")
    identity = tmp_path / "id"
    identity.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    try:
        yield Remote(HostSettings("127.0.0.1", proxy_port, "nobody", identity=identity,
                                  known_hosts=known), isolated=True, connect_timeout=5)
    finally:
        proxy.close()
        server.close()


@pytest.mark.parametrize("drops", [{0, 1}, {0, 2}, {0, 2, 3}, {0, 1, 2, 3}])
async def test_a_dropped_connection_is_not_taken_for_a_changed_host_key(
        tmp_path: Path, drops: set[int]) -> None:
    """Review: a host offering ECDSA and ed25519 whose ECDSA key known_hosts
    trusts was refused as having a changed key after two dropped connections:
    the probe for the types known_hosts holds failing for any reason was taken
    for a host offering none, and the probe for any type then showed its (real)
    ed25519 key. A refusal is not tried again, so one blip during a cutover's
    reconnect ended the run, and told the operator to remove a valid entry.
    A lost connection is said as one (a reconnect tries it again)."""
    async with _flaky_host(tmp_path, ["ecdsa-sha2-nistp256", "ssh-ed25519"],
                           "ecdsa-sha2-nistp256", drops) as remote:
        with pytest.raises(RemoteError) as err:
            await remote.connect()
        assert not isinstance(err.value, HostKeyRefused), err.value
        assert "cannot connect over SSH" in str(err.value), err.value


@pytest.mark.parametrize("drops", [set(), {0}, {0, 2}])
async def test_a_host_key_of_another_type_is_refused_as_changed_through_a_dropped_connection(
        tmp_path: Path, drops: set[int]) -> None:
    """The other side of the test above: a host that now offers only ed25519,
    known_hosts holding an ECDSA key for it, is refused as a changed key though
    a connection on the way was dropped."""
    async with _flaky_host(tmp_path, ["ssh-ed25519"], "ecdsa-sha2-nistp256",
                           drops) as remote:
        with pytest.raises(HostKeyRefused) as err:
            await remote.connect()
        assert "which is of type ecdsa-sha2-nistp256; the host now offers one of type " \
            "ssh-ed25519" in str(err.value), err.value


def test_the_command_comparing_every_host_key_file_works_in_a_folder_with_a_space(
        tmp_path: Path) -> None:
    """Review: for a key of no known type the compare command was `for f in
    DIR/ssh_host_*_key.pub`, DIR unquoted: a rehearsal's --sandbox with a space
    in its path split it in two. The folder is quoted, the glob is not."""
    folder = tmp_path / "sand box" / "etc ssh"
    folder.mkdir(parents=True)
    fingerprints = []
    for algorithm, name in (("ssh-ed25519", "ed25519"), ("ecdsa-sha2-nistp256", "ecdsa")):
        key = asyncssh.generate_private_key(algorithm)
        key.write_public_key(str(folder / f"ssh_host_{name}_key.pub"))
        fingerprints.append(key.get_fingerprint())
    remote = Remote(HostSettings("127.0.0.1"), isolated=True)
    remote.host_key_dir = str(folder)
    message = str(remote._host_key_refused(remote._plain_route(), None))
    compare = message.split("(its console, say): ", 1)[1].split("; done", 1)[0] + "; done"
    ran = subprocess.run(["bash", "-c", compare], capture_output=True, text=True, timeout=30)
    assert ran.returncode == 0, (compare, ran.stderr)
    assert all(fingerprint in ran.stdout for fingerprint in fingerprints), (compare, ran.stdout)
