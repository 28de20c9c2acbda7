"""runbook.remote against a REAL OpenSSH sshd on 127.0.0.1 (second test tier).

The rehearsal host is an asyncssh server; these tests cover what only real
sshd shows (shared/notes/asyncssh.md §1.5): how sshd delivers signals, what
happens to a command after a timeout, its exit-status and SFTP server, real
bash. The sshd runs from a temp dir with its own keys and config, logs in the
current user, and is killed by PID at the end; the module is skipped when no
sshd binary is installed (``apt-get install openssh-server``).

Commands run on this machine for real, so each one is harmless and carries a
unique ``sleep`` length, and whatever a test leaves behind is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runbook.config import HostSettings
from runbook.jobs import JobStatus
from runbook.remote import (
    CommandResult,
    CommandTimeout,
    HostKeyRefused,
    JumpHostRefused,
    OutcomeUnknown,
    Remote,
    RemoteError,
    privileged,
)


def _find_sshd() -> str | None:
    for candidate in (shutil.which("sshd"), "/usr/sbin/sshd", "/usr/local/sbin/sshd"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


SSHD = _find_sshd()
KEYGEN = shutil.which("ssh-keygen")
USER = pwd.getpwuid(os.getuid()).pw_name
AS_ROOT = os.getuid() == 0

pytestmark = [
    pytest.mark.skipif(
        SSHD is None or KEYGEN is None,
        reason="no OpenSSH sshd/ssh-keygen found; install openssh-server to run the real-sshd tier",
    ),
    pytest.mark.timeout(60),
]

# OpenSSH skips post-auth privilege separation for a root login, and without it
# sshd refuses every "signal" channel request ("session_signal_req: session
# signalling requires privilege separation"). These tests run as root in CI,
# which is why runbook.remote has the host's own `timeout` stop commands.


@dataclass(frozen=True)
class Sshd:
    dir: Path
    port: int
    pid: int
    host_key: Path
    client_key: Path
    known_hosts: Path
    log: Path

    def settings(self, **changes: object) -> HostSettings:
        fields: dict[str, object] = {
            "address": "127.0.0.1", "port": self.port, "user": USER, "sudo": False,
            "identity": self.client_key, "known_hosts": self.known_hosts,
        }
        return HostSettings(**{**fields, **changes})  # type: ignore[arg-type]

    def remote(self, **changes: object) -> Remote:
        return Remote(self.settings(**changes), isolated=True, keepalive_interval=1, term_grace=1)


def _keygen(path: Path) -> None:
    subprocess.run([KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(path)],
                   check=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rfind(")") + 2:].split()[1])


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _started_by(port: int) -> list[int]:
    """Every live process a session of the sshd on `port` started: sshd puts
    SSH_CONNECTION="client port 127.0.0.1 <port>" into their environment."""
    tag = f" 127.0.0.1 {port}\0".encode()
    return [pid for pid in _pids()
            if pid != os.getpid() and b"SSH_CONNECTION=" in (env := _environ(pid))
            and any(line.startswith(b"SSH_CONNECTION=") and (line + b"\0").endswith(tag)
                    for line in env.split(b"\0"))]


def _children(pid: int) -> list[int]:
    found = []
    for child in _pids():
        try:
            stat = Path(f"/proc/{child}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _refused_signals(sshd: Sshd) -> str:
    """What sshd logged about signal requests it would not deliver."""
    lines = sshd.log.read_text(errors="replace").splitlines()
    return "\n".join(sorted({line for line in lines if "session_signal_req" in line}))


def _running(sshd: Sshd, command: str) -> list[int]:
    """Processes of this sshd's sessions whose command line is exactly `command`."""
    return [pid for pid in _started_by(sshd.port) if _cmdline(pid) == command]


def _start(root: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    config = root / "sshd_config"
    for _attempt in range(3):  # the free port can be taken before sshd binds it
        port = _free_port()
        config.write_text("\n".join([
            "ListenAddress 127.0.0.1",
            f"Port {port}",
            f"HostKey {root / 'host_key'}",
            f"PidFile {root / 'sshd.pid'}",
            f"AuthorizedKeysFile {root / 'authorized_keys'}",
            "StrictModes no",
            "UsePAM no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            f"AllowUsers {USER}",
            "Subsystem sftp internal-sftp",
            *extra,
            "",
        ]))
        check = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True)
        if check.returncode != 0:
            pytest.fail(f"sshd -t rejected the test config: {check.stderr.strip()}")
        log = root / "sshd.log"
        with log.open("ab") as sink:
            proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)],
                                    stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if f"listening on 127.0.0.1 port {port}." in log.read_text(errors="replace"):
                return proc, port
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if "Address already in use" not in log.read_text(errors="replace"):
            break
    pytest.fail(f"sshd did not start; its log:\n{log.read_text(errors='replace')}")


async def _probe(sshd: Sshd) -> None:
    remote = sshd.remote()
    try:
        await remote.run("true", timeout=10)
    except RemoteError as exc:
        log = sshd.log.read_text(errors="replace")
        if "account is locked" in log:
            pytest.skip(f"sshd refuses {USER}: the account is locked (UsePAM no); "
                        f"`usermod -p '*' {USER}` unlocks it without a password")
        pytest.fail(f"cannot log in to the test sshd: {exc}\nsshd log:\n{log}")
    finally:
        await remote.close()


@contextlib.contextmanager
def _serving(root: Path, *extra: str, probe: bool = True) -> Iterator[Sshd]:
    """A real sshd with its own keys in `root` (extra lines for its config),
    proven to log us in with a command unless `probe` is false, stopped with
    everything its sessions left behind."""
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # sshd reads AuthorizedKeysFile as the logged-in user
    if AS_ROOT:
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)  # privsep dir
    _keygen(root / "host_key")
    _keygen(root / "client_key")
    shutil.copy(root / "client_key.pub", root / "authorized_keys")
    proc, port = _start(root, *extra)
    try:
        key_type, key_blob = (root / "host_key.pub").read_text().split()[:2]
        known_hosts = root / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{port} {key_type} {key_blob}\n")
        server = Sshd(root, port, proc.pid, root / "host_key", root / "client_key", known_hosts,
                      root / "sshd.log")
        if probe:
            asyncio.run(_probe(server))
        yield server
    finally:
        sessions = _children(proc.pid)
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        time.sleep(0.2)
        left = [pid for pid in sessions if _alive(pid)] + _started_by(port)
        described = [f"{pid} {_cmdline(pid)}" for pid in left]
        _kill(left)
    assert not described, f"the real-sshd tests left processes behind: {described}"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    with _serving(tmp_path_factory.mktemp("real-sshd")) as server:
        yield server


@pytest.fixture
async def remote(sshd: Sshd) -> AsyncIterator[Remote]:
    client = sshd.remote()
    yield client
    await client.close()


# --- commands through real bash ---------------------------------------------


@pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"), reason="TCP_QUICKACK is Linux's")
async def test_a_fresh_connection_leaves_delayed_ack_mode_at_once(remote: Remote) -> None:
    """sshd keeps Nagle's algorithm on until a session starts, so its answer to
    our first channel waited for our delayed ACK of what it sent after the
    login: 40 ms on every new connection (benchmarks/first_channel.py). The
    runbook takes its socket out of delayed-ACK mode as the connection opens,
    which TCP_QUICKACK reads back as 1; Linux has the handshake leave it in
    that mode (0) otherwise."""
    conn = await remote.connect()
    sock = conn.get_extra_info("socket")
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK) == 1
    assert (await remote.run("echo still here", timeout=10)).stdout == "still here\n"


async def test_exit_statuses_come_from_real_bash(remote: Remote) -> None:
    assert (await remote.run("true", timeout=10)).exit_status == 0
    assert (await remote.run("exit 7", timeout=10)).exit_status == 7
    missing = await remote.run("no-such-command-runbook", timeout=10)
    # Named in the error line, in bash's words or `timeout`'s (a plain command
    # is started by `timeout` itself: "failed to run command").
    assert missing.exit_status == 127 and "no-such-command-runbook" in missing.last_error_line()
    # Shell semantics the rehearsal host's scripted table cannot show.
    piped = await remote.run("set -o pipefail; false | cat && echo no", timeout=10)
    assert piped.exit_status == 1 and piped.stdout == ""
    home = await remote.run('cd && pwd && printf "%s\\n" "$USER"', timeout=10)
    assert home.stdout == f"{pwd.getpwuid(os.getuid()).pw_dir}\n{USER}\n"
    # Killed by a signal: sshd sends exit-signal, which becomes a negative status.
    killed = await remote.run("kill -TERM $$", timeout=10)
    assert killed.exit_status == -signal.SIGTERM and not killed.ok


async def test_stdout_and_stderr_stream_line_by_line(remote: Remote) -> None:
    seen: list[tuple[float, str, str]] = []
    result = await remote.run(
        "echo one; echo two >&2; sleep 0.5; echo three; echo four >&2; exit 3", timeout=10,
        on_output=lambda stream, line: seen.append((time.monotonic(), stream, line)))
    assert result.exit_status == 3
    assert result.stdout == "one\nthree\n" and result.stderr == "two\nfour\n"
    assert [(s, line) for _, s, line in seen if s == "out"] == [("out", "one"), ("out", "three")]
    assert [(s, line) for _, s, line in seen if s == "err"] == [("err", "two"), ("err", "four")]
    arrived = {line: at for at, _, line in seen}
    # Streamed as printed, not delivered at the end.
    assert arrived["three"] - arrived["one"] > 0.3
    assert arrived["four"] - arrived["two"] > 0.3


async def test_both_streams_past_the_channel_window_do_not_stall(remote: Remote) -> None:
    # 3 MB on each stream at once: more than the 2 MiB SSH window of either side.
    line = "$(printf %0999d 0)"
    result = await remote.run(
        f'yes "{line}" | head -n 3000 >&2 & yes "{line}" | head -n 3000; wait', timeout=30)
    assert result.ok
    assert len(result.stdout) == len(result.stderr) == 3000 * 1000
    assert set(result.stdout.splitlines()) == set(result.stderr.splitlines()) == {"0" * 999}


async def test_input_arrives_on_stdin_and_not_in_the_process_list(remote: Remote) -> None:
    secret = "runbook-stdin-secret-7f3a91"
    result = await remote.run(
        'IFS= read -r line; printf %s "$line" | sha256sum; ps -eo args', timeout=10,
        input=secret + "\n")
    assert result.ok, result.stderr
    digest, listing = result.stdout.split("\n", 1)
    assert digest.split()[0] == hashlib.sha256(secret.encode()).hexdigest()
    assert "ps -eo args" in listing  # the listing was taken while the command ran
    assert secret not in listing


# --- host keys ---------------------------------------------------------------


def _fingerprint(pub: Path) -> str:
    out = subprocess.run([KEYGEN, "-lf", str(pub)], capture_output=True, text=True, check=True)
    return out.stdout.split()[1]


async def test_an_unknown_host_key_is_refused_naming_its_real_fingerprint(
    sshd: Sshd, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyRefused) as refused:
        await sshd.remote(known_hosts=empty).run("true", timeout=10)
    real = _fingerprint(sshd.host_key.with_suffix(".pub"))
    assert real.startswith("SHA256:")
    assert real in str(refused.value) and str(empty) in str(refused.value)


async def test_a_changed_host_key_is_refused(sshd: Sshd, tmp_path: Path) -> None:
    _keygen(tmp_path / "impostor")
    key_type, blob = (tmp_path / "impostor.pub").read_text().split()[:2]
    pinned = tmp_path / "known_hosts"
    pinned.write_text(f"[127.0.0.1]:{sshd.port} {key_type} {blob}\n")
    with pytest.raises(HostKeyRefused) as refused:
        await sshd.remote(known_hosts=pinned).run("true", timeout=10)
    assert _fingerprint(sshd.host_key.with_suffix(".pub")) in str(refused.value)
    assert _fingerprint(tmp_path / "impostor.pub") not in str(refused.value)


async def test_a_host_key_of_another_type_than_known_hosts_holds_is_refused_as_changed(
    sshd: Sshd, tmp_path: Path
) -> None:
    """Review: known_hosts holding an ECDSA key for a host whose sshd now
    offers only ed25519 (a reinstalled host) failed in asyncssh's words, not
    as a changed key: asyncssh offers only the key types known_hosts holds."""
    subprocess.run([KEYGEN, "-q", "-t", "ecdsa", "-N", "", "-C", "", "-f",
                    str(tmp_path / "old")], check=True)
    key_type, blob = (tmp_path / "old.pub").read_text().split()[:2]
    pinned = tmp_path / "known_hosts"
    pinned.write_text(f"[127.0.0.1]:{sshd.port} {key_type} {blob}\n")
    remote = sshd.remote(known_hosts=pinned)
    with pytest.raises(HostKeyRefused) as refused:
        await remote.run("true", timeout=10)
    said = str(refused.value)
    assert f"refusing the host key {_fingerprint(sshd.host_key.with_suffix('.pub'))}:" in said
    assert "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub." in said, said
    assert f"ssh-keygen -R '[127.0.0.1]:{sshd.port}' -f {pinned}" in said, said
    assert f"it is not the key {pinned} trusts for this host" in said, said
    assert remote._conn is None
    if shutil.which("ssh") is not None:
        # OpenSSH's ssh says the same of it: changed, not unknown, with -R.
        ssh = subprocess.run(
            ["ssh", "-F", "none", "-p", str(sshd.port), "-i", str(sshd.client_key),
             "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
             "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={pinned}",
             "-o", "GlobalKnownHostsFile=/dev/null", f"{USER}@127.0.0.1", "true"],
            capture_output=True, text=True, timeout=30)
        assert ssh.returncode == 255, ssh.stderr
        assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in ssh.stderr, ssh.stderr
        assert "-R" in ssh.stderr, ssh.stderr


@pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH ssh client to compare with")
@pytest.mark.parametrize("global_file", ["held", "none"])
async def test_a_key_held_only_in_a_global_known_hosts_file_is_trusted_as_ssh_trusts_it(
    sshd: Sshd, tmp_path: Path, global_file: str
) -> None:
    """OpenSSH's own ssh and runbook, given the same ssh config, agree on a
    host whose key only a GlobalKnownHostsFile holds (a fleet's keys kept
    centrally): both let it in; with GlobalKnownHostsFile none, both refuse."""
    own = tmp_path / "own_known_hosts"
    own.write_text("")
    shared = tmp_path / "ssh_known_hosts"
    shared.write_text(sshd.known_hosts.read_text())
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host sm\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User {USER}\n"
        f"  IdentityFile {sshd.client_key}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {own}\n  StrictHostKeyChecking yes\n"
        f"  GlobalKnownHostsFile {shared if global_file == 'held' else 'none'}\n")
    ssh = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", "sm", "true"],
                         capture_output=True, text=True, timeout=30)
    remote = sshd.remote(address="sm", known_hosts=None, ssh_config=config)
    try:
        if global_file == "held":
            assert ssh.returncode == 0, ssh.stderr
            assert (await remote.run("true", timeout=10)).ok
        else:
            assert ssh.returncode == 255 and "Host key verification failed" in ssh.stderr, \
                ssh.stderr
            with pytest.raises(HostKeyRefused) as refused:
                await remote.run("true", timeout=10)
            assert f"no key is trusted for this host yet (none for it in {own})" in \
                str(refused.value), refused.value
    finally:
        await remote.close()


@pytest.mark.parametrize("case", ["revoked for the port", "under the address only",
                                  "another key under the name"])
async def test_known_hosts_trusts_and_revokes_a_key_by_the_name_as_ssh_does(
        sshd: Sshd, tmp_path: Path, case: str) -> None:
    """Review 55c H1, H2: runbook connected in each of these where OpenSSH's
    ssh refuses: a key trusted without the port and revoked with it (asyncssh
    dropped the revocation), and a key listed only under the address
    connected to for a host named otherwise (asyncssh trusts the address,
    ssh the name alone). Both refuse, and say it alike."""
    key = " ".join(sshd.host_key.with_suffix(".pub").read_text().split()[:2])
    _keygen(tmp_path / "old")
    old = " ".join((tmp_path / "old.pub").read_text().split()[:2])
    known = tmp_path / "known_hosts"
    name = "127.0.0.1" if case == "revoked for the port" else "localhost"
    known.write_text({
        "revoked for the port": f"127.0.0.1 {key}\n@revoked [127.0.0.1]:{sshd.port} {key}\n",
        "under the address only": f"[127.0.0.1]:{sshd.port} {key}\n",
        "another key under the name": f"[localhost]:{sshd.port} {old}\n"
                                      f"[127.0.0.1]:{sshd.port} {key}\n",
    }[case])
    said_by_ssh = subprocess.run(
        ["ssh", "-F", "none", "-p", str(sshd.port), "-i", str(sshd.client_key),
         "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known}",
         "-o", "GlobalKnownHostsFile=/dev/null", f"{USER}@{name}", "true"],
        capture_output=True, text=True, timeout=30)
    assert said_by_ssh.returncode == 255, said_by_ssh.stderr
    remote = sshd.remote(address=name, known_hosts=known)
    remote.global_known_hosts = ()
    with pytest.raises(HostKeyRefused) as refused:
        await remote.run("true", timeout=10)
    said = str(refused.value)
    if case == "revoked for the port":
        assert "marked as revoked" in said_by_ssh.stderr, said_by_ssh.stderr
        assert f"{known} lists it as revoked: never trust it." in said, said
    elif case == "under the address only":
        assert "host key is known for" in said_by_ssh.stderr, said_by_ssh.stderr
        assert "no key is trusted for this host yet" in said, said
    else:
        assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in said_by_ssh.stderr, said_by_ssh.stderr
        assert f"it is not the key {known} trusts for this host" in said, said


@pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH ssh client to compare with")
@pytest.mark.parametrize("listed", ["no file yet", "not listed", "another key"])
async def test_a_host_not_known_yet_and_a_changed_key_are_told_apart_as_ssh_tells_them(
    sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listed: str
) -> None:
    """Trial 55 F13: with no ~/.ssh/known_hosts yet (a new operator's first
    run) runbook failed with "No such file or directory"; with the file there
    and the host not in it, it refused in a changed key's words, ssh-keygen -R
    first. OpenSSH's ssh says "No ... host key is known" for both, and keeps
    "REMOTE HOST IDENTIFICATION HAS CHANGED" (and its ssh-keygen -R) for a key
    that differs from the one listed. runbook tells them apart the same way;
    for a file not there yet it says to create it, mode 600. Its advice done
    word for word, ssh and runbook both go in."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    default = home / ".ssh" / "known_hosts"
    if listed != "no file yet":
        default.parent.mkdir(mode=0o700)
        default.write_text("")
    if listed == "another key":
        _keygen(tmp_path / "impostor")
        key_type, blob = (tmp_path / "impostor.pub").read_text().split()[:2]
        default.write_text(f"[127.0.0.1]:{sshd.port} {key_type} {blob}\n")

    def ssh() -> subprocess.CompletedProcess[str]:
        # ssh reads ~ from the password file, not $HOME: the file is named.
        return subprocess.run(
            ["ssh", "-F", "none", "-p", str(sshd.port), "-i", str(sshd.client_key),
             "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
             "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={default}",
             "-o", "GlobalKnownHostsFile=/dev/null", f"{USER}@127.0.0.1", "true"],
            capture_output=True, text=True, timeout=30)

    said_by_ssh = ssh()
    remote = sshd.remote(known_hosts=None)
    remote.global_known_hosts = ()
    with pytest.raises(HostKeyRefused) as refused:
        await remote.run("true", timeout=10)
    said = str(refused.value)
    assert said_by_ssh.returncode == 255, said_by_ssh.stderr
    assert _fingerprint(sshd.host_key.with_suffix(".pub")) in said, said
    line = f"[127.0.0.1]:{sshd.port} " + " ".join(
        sshd.host_key.with_suffix(".pub").read_text().split()[:2])
    assert refused.value.known_hosts_line == line and said.endswith(f":\n{line}"), said
    if listed == "another key":
        assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in said_by_ssh.stderr, said_by_ssh.stderr
        assert "-R" in said_by_ssh.stderr, said_by_ssh.stderr
        assert f"it is not the key {default} trusts for this host" in said, said
        remove = f"ssh-keygen -R '[127.0.0.1]:{sshd.port}' -f {default}"
        assert remove in said, said
        subprocess.run(shlex.split(remove), check=True, capture_output=True)
    else:
        assert "host key is known for" in said_by_ssh.stderr, said_by_ssh.stderr
        assert "CHANGED" not in said_by_ssh.stderr, said_by_ssh.stderr
        assert "no key is trusted for this host yet" in said, said
        assert "ssh-keygen -R" not in said and "not the key" not in said, said
    if listed == "no file yet":
        assert f"{default} is not there yet" in said, said
        make = said.split(" with mode 600: ", 1)[1].split("; then add this line", 1)[0]
        subprocess.run(["bash", "-c", make], check=True)
        assert default.stat().st_mode & 0o777 == 0o600, oct(default.stat().st_mode)
    with default.open("a") as known:
        known.write(line + "\n")
    assert ssh().returncode == 0
    assert (await remote.run("true", timeout=10)).ok
    await remote.close()


def _ssh_default_user_files() -> list[str]:
    """The UserKnownHostsFile ssh reads where no ssh config names one, as
    `ssh -G` says it (~ is the password file's home there, not $HOME)."""
    said = subprocess.run(["ssh", "-G", "-F", "none", "x"], capture_output=True, text=True,
                          check=True, timeout=30).stdout
    return next(line.split()[1:] for line in said.splitlines()
                if line.startswith("userknownhostsfile "))


@pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH ssh client to compare with")
@pytest.mark.parametrize("case", ["in known_hosts2", "named file not there",
                                  "known_hosts a folder, key in known_hosts2",
                                  "known_hosts a folder"])
async def test_the_known_hosts_files_read_are_the_ones_ssh_reads(
        sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    """runbook read ~/.ssh/known_hosts alone where ssh reads known_hosts2 too
    (its default UserKnownHostsFile); where the ssh config named a file that
    is not there it read ~/.ssh/known_hosts instead, which ssh never does;
    and a ~/.ssh/known_hosts it cannot read (a folder) was said to be "not
    there yet", with `touch` as the way to make it. ssh skips a file it
    cannot read and trusts what the others hold. Given the same files, ssh
    and runbook let the host in or refuse it alike, and runbook says why."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    monkeypatch.setenv("HOME", str(home))
    default, second = home / ".ssh" / "known_hosts", home / ".ssh" / "known_hosts2"
    assert [Path(f).name for f in _ssh_default_user_files()] == ["known_hosts", "known_hosts2"]
    held = sshd.known_hosts.read_text()
    config = tmp_path / "ssh_config"
    config.write_text(f"Host 127.0.0.1\n  IdentityFile {sshd.client_key}\n  IdentitiesOnly yes\n"
                      "  StrictHostKeyChecking yes\n  GlobalKnownHostsFile none\n")
    named = [str(default), str(second)]  # ssh's default, in this HOME
    if case == "named file not there":
        default.write_text(held)
        missing = tmp_path / "nowhere" / "known_hosts"
        named = [str(missing)]
        with config.open("a") as text:
            text.write(f"  UserKnownHostsFile {missing}\n")
    elif case == "in known_hosts2":
        default.write_text("")
        second.write_text(held)
    else:
        default.mkdir()
        if case != "known_hosts a folder":
            second.write_text(held)
    ssh = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", "-p", str(sshd.port),
                          "-o", f"UserKnownHostsFile={' '.join(named)}", f"{USER}@127.0.0.1",
                          "true"], capture_output=True, text=True, timeout=30)
    remote = sshd.remote(known_hosts=None, ssh_config=config)
    try:
        if "known_hosts2" in case:
            assert ssh.returncode == 0, ssh.stderr
            assert (await remote.run("true", timeout=10)).ok
            return
        assert ssh.returncode == 255 and "Host key verification failed" in ssh.stderr, \
            ssh.stderr
        with pytest.raises(HostKeyRefused) as refused:
            await remote.run("true", timeout=10)
        said = str(refused.value)
        assert _fingerprint(sshd.host_key.with_suffix(".pub")) in said, said
        if case == "named file not there":
            assert f"no key is trusted for this host yet ({missing} is not there yet)" in said, \
                said
            assert f"mkdir -p {missing.parent} && touch {missing}" in said, said
            assert said.endswith(f"add this line to {missing}:\n{held.strip()}"), said
        else:
            assert "\n" not in said and refused.value.known_hosts_line is None, said
            assert f"{default} cannot be read (it is a folder, not a file)" in said, said
            assert "touch" not in said and "not there" not in said, said
    finally:
        await remote.close()


@pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH ssh client to compare with")
@pytest.mark.parametrize("named", ["none", "/dev/null"])
async def test_user_known_hosts_file_none_reads_the_global_files_alone_as_ssh_does(
        sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, named: str) -> None:
    """Review 56c F5: with `UserKnownHostsFile none` (or /dev/null) runbook
    still trusted a key held in ~/.ssh/known_hosts or known_hosts2, which ssh
    then never reads: it reads the global files alone. Both refuse the host
    now, and runbook's line goes to the global file, where ssh too trusts it."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    monkeypatch.setenv("HOME", str(home))
    held = sshd.known_hosts.read_text()
    (home / ".ssh" / "known_hosts").write_text(held)
    (home / ".ssh" / "known_hosts2").write_text(held)
    shared = tmp_path / "ssh_known_hosts"
    shared.write_text("")
    config = tmp_path / "ssh_config"
    config.write_text(f"Host 127.0.0.1\n  IdentityFile {sshd.client_key}\n  IdentitiesOnly yes\n"
                      f"  StrictHostKeyChecking yes\n  UserKnownHostsFile {named}\n"
                      f"  GlobalKnownHostsFile {shared}\n")

    def ssh() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", "-p",
                               str(sshd.port), f"{USER}@127.0.0.1", "true"],
                              capture_output=True, text=True, timeout=30)

    refused_by_ssh = ssh()
    assert refused_by_ssh.returncode == 255, refused_by_ssh.stderr
    assert "Host key verification failed" in refused_by_ssh.stderr, refused_by_ssh.stderr
    remote = sshd.remote(known_hosts=None, ssh_config=config)
    try:
        with pytest.raises(HostKeyRefused) as refused:
            await remote.run("true", timeout=10)
        said = str(refused.value)
        assert f"no key is trusted for this host yet (none for it in {shared}; the ssh " \
            f"config's UserKnownHostsFile {named} has ssh read no file of yours)" in said, said
        assert said.endswith(f"as root, add this line to {shared}:\n{held.strip()}"), said
        assert str(home) not in said, said
        shared.write_text(refused.value.known_hosts_line + "\n")
        assert ssh().returncode == 0
        assert (await remote.run("true", timeout=10)).ok
    finally:
        await remote.close()


@pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH ssh client to compare with")
@pytest.mark.parametrize("strict", ["yes", "no"])
async def test_no_known_hosts_file_at_all_is_said_so_as_ssh_refuses_every_key(
        sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, strict: str) -> None:
    """With `UserKnownHostsFile none` and `GlobalKnownHostsFile none` ssh
    reads no known_hosts file at all and refuses every host key, even with
    StrictHostKeyChecking no. runbook refused too, but told the operator to
    add the key's line to /etc/ssh/ssh_known_hosts, a file ssh (and runbook)
    never reads with that config: done, ssh and runbook still refuse. The
    advice says no file is read, and how to have one read."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    monkeypatch.setenv("HOME", str(home))
    held = sshd.known_hosts.read_text()
    (home / ".ssh" / "known_hosts").write_text(held)
    config = tmp_path / "ssh_config"
    config.write_text(f"Host 127.0.0.1\n  IdentityFile {sshd.client_key}\n  IdentitiesOnly yes\n"
                      f"  StrictHostKeyChecking {strict}\n  UserKnownHostsFile none\n"
                      "  GlobalKnownHostsFile none\n")
    config.with_name("none_config").write_text(config.read_text())
    ssh = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", "-p",
                          str(sshd.port), f"{USER}@127.0.0.1", "true"],
                         capture_output=True, text=True, timeout=30)
    assert ssh.returncode == 255 and "Host key verification failed" in ssh.stderr, ssh.stderr
    remote = sshd.remote(known_hosts=None, ssh_config=config)
    try:
        with pytest.raises(HostKeyRefused) as refused:
            await remote.run("true", timeout=10)
    finally:
        await remote.close()
    said = str(refused.value)
    line = refused.value.known_hosts_line
    assert line == held.strip(), (line, held)
    assert "ssh_known_hosts" not in said, said
    assert "UserKnownHostsFile none and GlobalKnownHostsFile none" in said, said
    assert "no known_hosts file is read" in said, said
    assert f"name a known_hosts file for it in the ssh config {config}" in said, said
    assert "or set known_hosts in [host] to one" in said, said
    assert said.endswith(f"add this line to it:\n{line}"), said
    assert _fingerprint(sshd.host_key.with_suffix(".pub")) in said, said
    # The advice taken, either way, and the host is let in.
    named = tmp_path / "named_known_hosts"
    named.write_text(line + "\n")
    config.write_text(config.read_text().replace("UserKnownHostsFile none",
                                                 f"UserKnownHostsFile {named}"))
    ssh = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", "-p",
                          str(sshd.port), f"{USER}@127.0.0.1", "true"],
                         capture_output=True, text=True, timeout=30)
    assert ssh.returncode == 0, ssh.stderr
    for remote in (sshd.remote(known_hosts=None, ssh_config=config),
                   sshd.remote(known_hosts=named, ssh_config=config.with_name("none_config"))):
        try:
            assert (await remote.run("true", timeout=10)).ok
        finally:
            await remote.close()


@pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH ssh client to compare with")
async def test_a_jump_host_listed_with_a_key_of_another_type_is_refused_as_ssh_refuses_it(
        sshd: Sshd, tmp_path: Path) -> None:
    """A jump host whose known_hosts lists an ECDSA key for it and that
    offers ed25519 alone (a reinstall, or someone in between): OpenSSH's ssh
    says REMOTE HOST IDENTIFICATION HAS CHANGED, with ssh-keygen -R, as it
    does for the host itself; runbook refuses it in the same words as the
    host's changed key, the jump host named."""
    subprocess.run([KEYGEN, "-q", "-t", "ecdsa", "-N", "", "-C", "", "-f",
                    str(tmp_path / "old")], check=True)
    key_type, blob = (tmp_path / "old.pub").read_text().split()[:2]
    checked = tmp_path / "jump_known_hosts"
    checked.write_text(f"[127.0.0.1]:{sshd.port} {key_type} {blob}\n")
    config = tmp_path / "ssh_config"
    common = (f"  HostName 127.0.0.1\n  Port {sshd.port}\n  User {USER}\n"
              f"  IdentityFile {sshd.client_key}\n  IdentitiesOnly yes\n"
              "  StrictHostKeyChecking yes\n  GlobalKnownHostsFile none\n")
    config.write_text(f"Host sm\n{common}  ProxyJump bastion\n"
                      f"  UserKnownHostsFile {sshd.known_hosts}\n"
                      f"Host bastion\n{common}  UserKnownHostsFile {checked}\n")
    ssh = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", "sm", "true"],
                         capture_output=True, text=True, timeout=30)
    assert ssh.returncode == 255, ssh.stderr
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in ssh.stderr, ssh.stderr
    assert "-R" in ssh.stderr, ssh.stderr
    remote = sshd.remote(address="sm", known_hosts=None, ssh_config=config)
    try:
        with pytest.raises(JumpHostRefused) as refused:
            await remote.run("true", timeout=10)
    finally:
        await remote.close()
    said = str(refused.value)
    assert f"via jump host bastion: bastion's host key is not trusted in {checked}" in said, said
    assert "it is not the key listed there for it. Its key has changed since it was listed" \
        in said, said
    assert f"ssh-keygen -R '[127.0.0.1]:{sshd.port}' -f {checked}, then " in said, said
    assert _fingerprint(sshd.host_key.with_suffix(".pub")) in said, said


# --- timeouts: is the command really stopped on the host? ---------------------


async def test_a_timed_out_command_is_stopped_on_the_host(sshd: Sshd, remote: Remote) -> None:
    marker = sshd.dir / "term-marker"
    command = f"sleep 3.101; touch {marker}"
    started = time.monotonic()
    try:
        with pytest.raises(CommandTimeout, match="signalled"):
            await remote.run(command, timeout=1)
        stopped_after = time.monotonic() - started
        still = await remote.run("pgrep -f '^sleep 3[.]101$'", timeout=10)
        assert still.exit_status == 1 and not _running(sshd, "sleep 3.101"), (
            f"the timed-out sleep is still running on the host; sshd: {_refused_signals(sshd)}")
        # TERM alone ended it: no wait for the KILL that follows term_grace.
        assert stopped_after < 1 + 0.8 * remote.term_grace
        # Past the moment the sleep would have ended: the rest never ran.
        await asyncio.sleep(max(0.0, 3.6 - (time.monotonic() - started)))
        assert not marker.exists(), "the command went on after its timeout"
    finally:
        _kill(_running(sshd, "sleep 3.101") + _running(sshd, f"bash --norc -c {command}"))


async def test_a_command_that_ignores_term_is_killed(sshd: Sshd, remote: Remote) -> None:
    marker = sshd.dir / "kill-marker"
    command = f"trap '' TERM; sleep 3.102; touch {marker}"
    started = time.monotonic()
    try:
        with pytest.raises(CommandTimeout):
            await remote.run(command, timeout=1)
        assert time.monotonic() - started >= 1 + remote.term_grace  # TERM was not enough
        await asyncio.sleep(0.3)  # KILL is sent without waiting for the exit
        still = await remote.run("pgrep -f '^sleep 3[.]102$'", timeout=10)
        assert still.exit_status == 1 and not _running(sshd, "sleep 3.102"), (
            f"the TERM-proof sleep survived the KILL; sshd: {_refused_signals(sshd)}")
        await asyncio.sleep(max(0.0, 3.6 - (time.monotonic() - started)))
        assert not marker.exists(), "the command went on after its timeout"
    finally:
        _kill(_running(sshd, "sleep 3.102") + _running(sshd, f"bash --norc -c {command}"))


async def test_a_killed_connection_leaves_the_outcome_unknown(sshd: Sshd, remote: Remote) -> None:
    parents: list[str] = []
    task = asyncio.create_task(remote.run(
        "ps -o ppid= -p $PPID; sleep 29.103", timeout=20,
        on_output=lambda stream, line: parents.append(line)))
    try:
        for _ in range(100):
            if parents:
                break
            await asyncio.sleep(0.05)
        # The command runs under the host's `timeout`, in the connection's
        # shared shell, which the sshd process serving the connection started.
        session = int(parents[0])
        while "sshd" not in _cmdline(session):
            session = _parent(session)
            assert session > 1, "no sshd above the command"
        os.kill(session, signal.SIGKILL)
        with pytest.raises(OutcomeUnknown, match="may or may not"):
            await asyncio.wait_for(task, 10)
        # The next action opens a fresh connection.
        assert (await remote.run("echo back", timeout=10)).stdout == "back\n"
    finally:
        task.cancel()
        _kill(_running(sshd, "sleep 29.103")
              + _running(sshd, "bash --norc -c ps -o ppid= -p $PPID; sleep 29.103"))


# --- upload ----------------------------------------------------------------


async def test_an_upload_lands_intact_with_progress(
    sshd: Sshd, remote: Remote, tmp_path: Path
) -> None:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    size = payload.stat().st_size
    target = sshd.dir / "uploads" / "payload.bin"
    await remote.run(f"mkdir -p {target.parent}", timeout=10)
    seen: list[tuple[int, int]] = []
    await remote.upload(payload, str(target), timeout=30,
                        progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (size, size) and len(seen) > 1
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    expected = hashlib.sha256(payload.read_bytes()).hexdigest()
    on_host = await remote.run(f"sha256sum {target}", timeout=10)
    assert on_host.stdout.split()[0] == expected
    with pytest.raises(RemoteError, match="upload"):
        await remote.upload(payload, str(sshd.dir / "no-such-dir" / "x.bin"), timeout=10)


async def test_a_session_killed_mid_upload_is_resumed_without_asyncio_noise(
    sshd: Sshd, remote: Remote, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Trial: the sshd session killed during a 3 GB upload; runbook reconnected
    and went on, but stderr filled with 39 lines of asyncio's "socket.send()
    raised exception.", writes issued on the dead transport, which at 3 a.m.
    read as a crash."""
    payload = tmp_path / "big.bin"
    with payload.open("wb") as out:
        for _ in range(192):
            out.write(os.urandom(1 << 20))
    target = sshd.dir / "uploads" / "big.bin"
    await remote.run(f"mkdir -p {target.parent}", timeout=10)
    killed: list[int] = []

    def progress(done: int, total: int) -> None:
        if not killed and done > total // 4:
            # Every session the listener serves (SFTP is internal-sftp here), as
            # `pkill -9 -P LISTENER -x sshd` did in the trial.
            killed.extend(_children(sshd.pid))
            _kill(killed)

    sent = await remote.upload(payload, str(target), timeout=120, progress=progress)
    assert killed, "no session was found to kill"
    on_host = await remote.run(f"sha256sum {target}", timeout=30)
    assert on_host.stdout.split()[0] == sent.sha256
    noise = [r.getMessage() for r in caplog.records if "socket.send()" in r.getMessage()]
    assert noise == [], f"{len(noise)} lines of asyncio noise"


async def test_openssh_hashes_an_upload_as_it_lands(
    sshd: Sshd, remote: Remote, tmp_path: Path
) -> None:
    """OpenSSH's sftp-server answers a write once it is in the file: the host's
    reader, told of each stretch, hashes the very bytes on disk."""
    data = os.urandom(40 << 20)
    payload = tmp_path / "payload.bin"
    payload.write_bytes(data)
    target = sshd.dir / "uploads" / "landing.bin"
    await remote.run(f"mkdir -p {target.parent}", timeout=10)
    sent = await remote.upload(payload, str(target), timeout=60, host_hash=True)
    assert sent.sha256 == sent.host_sha256 == hashlib.sha256(data).hexdigest()
    # Half of it left by an earlier run: the host reads that half too.
    target.write_bytes(data[: 20 << 20])
    sent = await remote.upload(payload, str(target), timeout=60, host_hash=True)
    assert sent.host_sha256 == hashlib.sha256(data).hexdigest()
    assert target.read_bytes() == data


# --- sudo ------------------------------------------------------------------


async def test_sudo_never_prompts(remote: Remote) -> None:
    if not (await remote.run("command -v sudo", timeout=10)).ok:
        pytest.skip("sudo is not installed on this machine")
    result = await remote.run(privileged("id -u", sudo=True), timeout=10)
    if AS_ROOT:
        assert result.ok and result.stdout == "0\n"
    elif not result.ok:  # no NOPASSWD rule: sudo -n fails at once instead of prompting
        assert result.exit_status == 1 and "password is required" in result.stderr
    else:
        assert result.stdout == "0\n"


async def test_the_install_is_claimed_as_root_through_real_sudo_and_sh(
        remote: Remote, tmp_path: Path) -> None:
    """The host's claim (runbook.claim) beside the install, through real sudo
    and the host's own sh: made on the install's real path (a link to it
    names the same claim), refused to a second run, let go by its own. Where
    sudo asks for a password, it is refused, saying so, and nothing is made."""
    from runbook import claim as host_claim

    if not (await remote.run("command -v sudo", timeout=10)).ok:
        pytest.skip("sudo is not installed on this machine")
    real = tmp_path / "usr" / "local"
    real.mkdir(parents=True)
    link = tmp_path / "srv"
    link.symlink_to(real, target_is_directory=True)
    mine = host_claim.mine(str(tmp_path / "a.jsonl"))
    if not (await remote.run(privileged("true", sudo=True), timeout=10)).ok:
        with pytest.raises(host_claim.ClaimRefused, match="sudo refused"):
            await host_claim.take(remote, mine, host_claim.Place(str(real)))
        assert not (real / host_claim.NAME).exists()
        return
    assert await host_claim.take(remote, mine, host_claim.Place(str(link))) == (mine, None)
    holder = real / host_claim.NAME / "holder"
    assert host_claim.parse(holder.read_text()) == mine
    if AS_ROOT:
        assert holder.stat().st_uid == 0
    other = dataclasses.replace(mine, machine="laptop-2", journal="/b/run.jsonl")
    with pytest.raises(host_claim.HostClaimed, match="another runbook is working"):
        await host_claim.take(remote, other, host_claim.Place(str(real)))
    await host_claim.release(remote, mine, host_claim.Place(str(real)))
    assert not holder.parent.exists()


# --- replacing a file ------------------------------------------------------


async def test_a_file_is_replaced_whole_over_real_sftp_and_bash(
    sshd: Sshd, remote: Remote
) -> None:
    target = sshd.dir / "edit" / "red5-web.properties"
    target.parent.mkdir(exist_ok=True)
    target.write_text("config.dbHost=old\n")
    target.chmod(0o640)
    if AS_ROOT:
        os.chown(target, 4321, 4322)
    owner = (target.stat().st_uid, target.stat().st_gid)
    staging = sshd.dir / "upload"
    data = b"config.dbHost=new\n" + os.urandom(3 * 1024 * 1024)
    # What an upload cut off half-way leaves: the retry carries on from it.
    staging.mkdir(mode=0o700)
    staged = staging / f"{target.name}.{hashlib.sha256(data).hexdigest()}"
    staged.write_bytes(data[: len(data) // 2])
    await remote.replace_file(str(target), data, staging_dir=str(staging), timeout=30,
                              upload_timeout=30)
    assert target.read_bytes() == data
    info = target.stat()
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (*owner, 0o640)
    backup = target.with_name(target.name + ".runbook-bak")
    assert backup.read_text() == "config.dbHost=old\n" and backup.stat().st_mode & 0o777 == 0o640
    await remote.replace_file(str(target), b"config.dbHost=again\n", staging_dir=str(staging),
                              timeout=30, upload_timeout=30)
    assert target.read_text() == "config.dbHost=again\n"
    assert backup.read_text() == "config.dbHost=old\n", "the first backup is kept"
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name, backup.name]
    assert list(staging.iterdir()) == []


def test_commands_after_the_first_pay_no_login_shell(tmp_path: Path) -> None:
    """Issue 12: sshd starts a login shell, which reads .bashrc, for every
    exec request; on a host whose .bashrc is slow that is most of what a
    command costs. One connection's commands share a shell that read it once."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text('echo rc >> "$HOME/rc-read"\n')
    with _serving(tmp_path / "sshd", f"SetEnv HOME={home}") as server:

        async def ten_commands() -> list[CommandResult]:
            remote = server.remote()
            try:
                results = [await remote.run(f"echo {n}; echo e{n} >&2", timeout=10)
                           for n in range(5)]
                results += [await remote.run(f"exit {n}", timeout=10, job=f"j{n}")
                            for n in range(5)]
            finally:
                await remote.close()
            return results

        read = home / "rc-read"
        before = read.read_text().count("rc") if read.exists() else 0  # the server's probe
        results = asyncio.run(ten_commands())
        assert [r.stdout for r in results[:5]] == [f"{n}\n" for n in range(5)]
        assert [r.stderr for r in results[:5]] == [f"e{n}\n" for n in range(5)]
        assert [r.exit_status for r in results[5:]] == list(range(5))
        # Once, by the login shell that started the shared shell: the
        # commands' own bash never reads it (--norc), nor a second login shell.
        assert read.read_text().count("rc") - before == 1, "a command read .bashrc"


def test_a_login_shell_that_prints_does_not_spoil_the_hosts_hash(tmp_path: Path) -> None:
    """The host's reading of an upload is an exec request of its own, so the
    login shell's .bashrc runs before it: a banner there comes before the hash."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text('echo "Welcome to the stream manager; 3 updates"\n')
    data = os.urandom(3 << 20)
    payload = tmp_path / "payload.bin"
    payload.write_bytes(data)
    with _serving(tmp_path / "sshd", f"SetEnv HOME={home}") as server:

        async def upload() -> str | None:
            remote = server.remote()
            try:
                sent = await remote.upload(payload, str(tmp_path / "landed.bin"), timeout=30,
                                           host_hash=True)
            finally:
                await remote.close()
            return sent.host_sha256

        assert asyncio.run(upload()) == hashlib.sha256(data).hexdigest()


def test_a_login_shell_that_prints_does_not_make_a_running_job_look_ended(
        tmp_path: Path) -> None:
    """With no shared shell to spare (MaxSessions reached, one slow to start),
    a command goes as an exec request of its own, and the login shell's
    banner comes before its output: a job's status read the banner as no
    record, so a job that ran was said to have ended, and a retry would have
    run the step beside it (code review, stop 48). Once it ends, it has."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text('echo "Welcome to the stream manager; 3 updates"\n')
    with _serving(tmp_path / "sshd", f"SetEnv HOME={home}") as server:

        async def while_and_after() -> tuple[object, object]:
            remote = server.remote()
            remote.shared_shells = False
            job = asyncio.create_task(remote.run("sleep 29.108", timeout=60, job="test-banner"))
            try:
                running = None
                for _ in range(100):
                    if (running := await remote.job_status("test-banner")) is not None:
                        break
                    await asyncio.sleep(0.05)
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job
                return running, await remote.job_status("test-banner")
            finally:
                job.cancel()
                await remote.close()

        running, ended = asyncio.run(while_and_after())
    assert isinstance(running, JobStatus) and running.pids, running
    assert ended is None, ended


async def _record_while_running(sshd: Sshd, remote: Remote, job: str,
                                command: str) -> JobStatus:
    """The job's status once its `command` runs on the host."""
    for _ in range(100):
        found = await remote.job_status(job)
        if found is not None and _running(sshd, command):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no record of {job} while {command!r} ran")


def test_a_journalled_command_has_ended_for_whatever_the_shell_runs_next(
        tmp_path: Path) -> None:
    """The record is removed in the background after the exit status goes
    back. While a job's record named its shared shell's own session (a design
    taken back since), a look sent to that shell before the removal counted
    its own processes as the job's (seen under load in the whole suite). Here
    `rm` is slow, as a busy host makes it: the record says the job ended all
    the same, from the moment its status is back."""
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "rm").write_text('#!/bin/sh\nsleep 0.5\nexec /bin/rm "$@"\n')
    (home / "bin" / "rm").chmod(0o755)
    (home / ".bashrc").write_text('export PATH="$HOME/bin:$PATH"\n')
    with _serving(tmp_path / "sshd", f"SetEnv HOME={home}") as server:

        async def look_after_each() -> list[object]:
            remote = server.remote()
            try:
                found = []
                for n in range(3):
                    done = await remote.run(f"exit {n}", timeout=10, job=f"quick-{n}")
                    assert done.exit_status == n
                    found.append(await remote.job_status(f"quick-{n}"))
                return found
            finally:
                await remote.close()

        assert asyncio.run(look_after_each()) == [None, None, None]
        # And the records do go, once the slow `rm`s are done.
        records = home / ".runbook" / "jobs"
        for _ in range(100):
            if not any(records.iterdir()):
                break
            time.sleep(0.05)
        assert not any(records.iterdir())


async def test_a_job_is_not_what_earlier_commands_left_running_in_its_shell(
        sshd: Sshd, remote: Remote) -> None:
    """A command may leave a process behind in its shell (`nohup ... &`). A
    later job in the same shell is not that process: its status does not count
    it, and stopping the job does not kill it (review: with the job's record
    naming the shell's own session, both did)."""
    left = await remote.run("nohup sleep 29.106 >/dev/null 2>&1 &", timeout=10, job="test-left")
    assert left.ok
    task = asyncio.create_task(remote.run("sleep 29.107", timeout=60, job="test-later"))
    try:
        await asyncio.sleep(0.2)  # the job takes the idle shell before any look does
        found = await _record_while_running(sshd, remote, "test-later", "sleep 29.107")
        behind = _running(sshd, "sleep 29.106")
        assert behind and not set(behind) & set(found.pids), (behind, found)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not _running(sshd, "sleep 29.107"), "the aborted job runs on"
        assert _running(sshd, "sleep 29.106") == behind, "stopping the job killed another's"
    finally:
        _kill(_running(sshd, "sleep 29.106") + _running(sshd, "sleep 29.107"))


async def test_a_shared_shell_keeps_output_exact_and_shells_apart(remote: Remote) -> None:
    """The end mark follows output that has no line end of its own, on both
    streams; two commands at once run in two shells, each with its own result."""
    bare = await remote.run("printf abc; printf err >&2; exit 3", timeout=10)
    assert (bare.stdout, bare.stderr, bare.exit_status) == ("abc", "err", 3)
    first, second = await asyncio.gather(
        remote.run("sleep 0.3; echo one", timeout=10),
        remote.run("echo two; echo deux >&2", timeout=10))
    assert (first.stdout, second.stdout, second.stderr) == ("one\n", "two\n", "deux\n")
    after = await remote.run("echo three", timeout=10)
    assert after.stdout == "three\n"


async def test_an_aborted_command_in_a_shared_shell_is_stopped_on_the_host(
        sshd: Sshd, remote: Remote) -> None:
    """Cancelling a command with no job record (a probe) ends it on the host:
    the shared shell outlives it, so nothing else would."""
    task = asyncio.create_task(remote.run("sleep 29.104", timeout=60))
    try:
        for _ in range(100):
            if _running(sshd, "sleep 29.104"):
                break
            await asyncio.sleep(0.05)
        assert _running(sshd, "sleep 29.104")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(60):
            if not _running(sshd, "sleep 29.104"):
                break
            await asyncio.sleep(0.1)
        assert not _running(sshd, "sleep 29.104"), "the aborted command runs on"
        assert (await remote.run("echo next", timeout=10)).stdout == "next\n"
    finally:
        _kill(_running(sshd, "sleep 29.104"))


async def test_a_journalled_command_in_a_shared_shell_is_found_and_stopped_by_its_record(
        sshd: Sshd, remote: Remote) -> None:
    """While a journalled command runs, its record names a session holding it
    (a later run waits on that); an abort ends it through the record; once it
    ends, by itself or stopped, the record says nothing runs."""
    done = await remote.run("true", timeout=10, job="test-quick")
    assert done.ok and await remote.job_status("test-quick") is None
    task = asyncio.create_task(remote.run("sleep 29.105", timeout=60, job="test-long"))
    try:
        found = await _record_while_running(sshd, remote, "test-long", "sleep 29.105")
        sleeping = _running(sshd, "sleep 29.105")
        assert sleeping and set(sleeping) <= set(found.pids), (sleeping, found)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not _running(sshd, "sleep 29.105"), "the aborted command runs on"
        left = await remote.job_status("test-long")
        assert left is None, (left, [(p, _cmdline(p)) for p in left.pids])
        assert (await remote.run("echo next", timeout=10, job="test-next")).stdout == "next\n"
    finally:
        _kill(_running(sshd, "sleep 29.105"))


# Commands a shell would run as one program with these very words: the host
# starts them under `timeout` as they are. The others need a shell of their own.
_PLAIN = ["true", "false", "test -d /", "test -f /", "test -e /no/such/runbook", "ls -d /",
          "cat -- /no/such/runbook", "no-such-command-runbook", "'/bin/echo' 'a  b'",
          "/bin/echo 'it'\"'\"'s' \"x\"y"]
_SHELL = ["echo a | cat", "exit 3", "test -v HOME", "printf '%s\\n' x", "cd / && pwd",
          "echo $((1+2))", "ls -d /*bin", "HOME=/ ls -d /"]


def test_a_plain_command_starts_no_bash_and_ends_as_bash_would(tmp_path: Path) -> None:
    """Issue 12: a second program started per command is a measurable share of
    what it costs (1.4 ms an exec here, more for bash's own start). A command
    with no shell syntax runs under `timeout` as it is, in the shared shell and
    the one-channel-each way alike, and ends with the exit status and output
    that `bash -c` gives it; anything else still goes to a bash of its own."""
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "bash").write_text(
        '#!/bin/sh\nprintf "%s\\n" "$*" >> "$HOME/bash-started"\nexec /bin/bash "$@"\n')
    (home / "bin" / "bash").chmod(0o755)
    (home / ".bashrc").write_text('export PATH="$HOME/bin:$PATH"\n')
    with _serving(tmp_path / "sshd", f"SetEnv HOME={home}") as server:

        async def each_way() -> list[tuple[str, int | None, str]]:
            ran = []
            for shared in (True, False):
                remote = server.remote()
                remote.shared_shells = shared
                try:
                    for n, command in enumerate(_PLAIN + _SHELL):
                        for job in (None, f"plain-{shared}-{n}"):
                            result = await remote.run(command, timeout=10, job=job)
                            ran.append((command, result.exit_status, result.stdout))
                finally:
                    await remote.close()
            return ran

        ran = asyncio.run(each_way())
    here = {command: subprocess.run(["bash", "--norc", "-c", command], capture_output=True,
                                    text=True, cwd="/", env={**os.environ, "HOME": str(home)})
            for command in _PLAIN + _SHELL}
    assert [(c, s, o) for c, s, o in ran if (s, o) != (here[c].returncode, here[c].stdout)] == []
    started = (home / "bash-started").read_text().splitlines()
    # The shim can see a command's bash: the shell-syntax ones each had one.
    assert [c for c in _SHELL if f"--norc -c {c}" not in started] == []
    assert [line for line in started if any(line.endswith(f"-c {c}") for c in _PLAIN)] == []


def test_a_command_in_bash_does_not_read_bash_env(tmp_path: Path) -> None:
    """Issue 12: a command never reads an rc file a second time. --norc keeps
    its bash from .bashrc, but a non-interactive bash reads the file that
    $BASH_ENV names whatever the options; the login shell exported it."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "env.sh").write_text('echo read >> "$HOME/env-read"\n')
    (home / ".bashrc").write_text(f'export BASH_ENV={home}/env.sh\n')
    with _serving(tmp_path / "sshd", f"SetEnv HOME={home}") as server:

        async def each_way() -> list[int | None]:
            statuses = []
            for shared in (True, False):
                remote = server.remote()
                remote.shared_shells = shared
                try:
                    for job in (None, f"env-{shared}"):
                        done = await remote.run("echo a | cat", timeout=10, job=job)
                        statuses.append(done.exit_status)
                    detached = await remote.run_detached("echo a | cat", timeout=10,
                                                         job=f"env-detached-{shared}")
                    statuses.append(detached.exit_status)
                finally:
                    await remote.close()
            return statuses

        assert asyncio.run(each_way()) == [0] * 6
    read = home / "env-read"
    assert not read.exists(), f"$BASH_ENV was read {read.read_text().count('read')} times"


@pytest.mark.skipif(shutil.which("tcsh") is None, reason="no tcsh (apt-get install tcsh)")
def test_a_login_shell_that_is_not_bourne_style_is_named_in_one_line(tmp_path: Path) -> None:
    """sshd hands every command to the user's login shell, and what the runbook
    sends is POSIX sh syntax. Under csh (here sshd's ForceCommand hands each
    command to tcsh, as a tcsh login shell would) the first command stops with
    one line that says why and what to change, and nothing ran."""
    tcsh = shutil.which("tcsh")
    with _serving(tmp_path / "sshd", f'ForceCommand {tcsh} -c "$SSH_ORIGINAL_COMMAND"',
                  probe=False) as server:

        async def first_command() -> str:
            remote = server.remote()
            try:
                with pytest.raises(RemoteError) as refused:
                    await remote.run("touch ran", timeout=10)
                return str(refused.value)
            finally:
                await remote.close()

        said = asyncio.run(first_command())
    assert "\n" not in said and "login shell" in said and "bash" in said, said
    assert not (Path.home() / "ran").exists()


def test_a_bourne_login_shell_that_prints_and_has_no_bash_is_not_refused(tmp_path: Path) -> None:
    """The login-shell look runs only where the shared shell did not start (a
    host without bash). A login shell that prints a banner first still reads
    POSIX sh: its commands go one channel each, as before, not refused."""
    login = tmp_path / "login"
    login.write_text('#!/bin/sh\necho "Welcome to the stream manager"\n'
                     'case "$SSH_ORIGINAL_COMMAND" in *"exec bash"*) exit 127 ;; esac\n'
                     'eval "$SSH_ORIGINAL_COMMAND"\n')
    login.chmod(0o755)
    with _serving(tmp_path / "sshd", f"ForceCommand {login}", probe=False) as server:

        async def first_command() -> CommandResult:
            remote = server.remote()
            try:
                return await remote.run("echo ran", timeout=10)
            finally:
                await remote.close()

        done = asyncio.run(first_command())
    assert done.exit_status == 0 and done.stdout.splitlines()[-1] == "ran", done
