"""A throwaway OpenSSH sshd on 127.0.0.1 for the benchmarks (as tests/test_real_sshd.py
starts one): its own host and client keys, logs in the current user, killed by PID.

`home` replaces the user's HOME in every session (sshd's SetEnv): the shell reads
that folder's .bashrc, so a benchmark can measure a clean host and one whose
.bashrc is slow without touching this machine's own dotfiles.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from runbook.config import HostSettings

USER = pwd.getpwuid(os.getuid()).pw_name


def find_sshd() -> str | None:
    for candidate in (shutil.which("sshd"), "/usr/sbin/sshd", "/usr/local/sbin/sshd"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def version() -> str:
    done = subprocess.run(["ssh", "-V"], capture_output=True, text=True)
    return (done.stderr or done.stdout).strip()


@dataclass(frozen=True)
class Sshd:
    dir: Path
    port: int
    client_key: Path
    known_hosts: Path
    home: Path

    def ssh_options(self) -> list[str]:
        """OpenSSH client options that trust this server alone and read no ~/.ssh."""
        return ["-F", "/dev/null", "-i", str(self.client_key), "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"]

    def host_settings(self) -> HostSettings:
        """What runbook's Remote needs to reach this server, as the ssh client does."""
        return HostSettings(address="127.0.0.1", port=self.port, user=USER,
                            identity=self.client_key, known_hosts=self.known_hosts)

    def ssh(self, *extra: str) -> list[str]:
        return ["ssh", *self.ssh_options(), "-p", str(self.port), *extra, f"{USER}@127.0.0.1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(root: Path, *, home: Path) -> Iterator[Sshd]:
    sshd = find_sshd()
    if sshd is None:
        raise SystemExit("no OpenSSH sshd here: apt-get install openssh-server")
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # sshd reads AuthorizedKeysFile as the logged-in user
    if os.getuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
    for name in ("host_key", "client_key"):
        if not (root / name).exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f",
                            str(root / name)], check=True)
    shutil.copy(root / "client_key.pub", root / "authorized_keys")
    proc = None
    for _attempt in range(3):  # the free port can be taken before sshd binds it
        port = _free_port()
        config = root / "sshd_config"
        config.write_text("\n".join([
            "ListenAddress 127.0.0.1", f"Port {port}", f"HostKey {root / 'host_key'}",
            f"PidFile {root / 'sshd.pid'}", f"AuthorizedKeysFile {root / 'authorized_keys'}",
            "StrictModes no", "UsePAM no", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
            f"AllowUsers {USER}", "Subsystem sftp internal-sftp", f"SetEnv HOME={home}", "",
        ]))
        log = root / "sshd.log"
        with log.open("ab") as sink:
            proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)],
                                    stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            if f"listening on 127.0.0.1 port {port}." in log.read_text(errors="replace"):
                break
            time.sleep(0.02)
        if proc.poll() is None:
            break
    if proc is None or proc.poll() is not None:
        raise SystemExit(f"sshd did not start: {(root / 'sshd.log').read_text()[-2000:]}")
    key_type, blob = (root / "host_key.pub").read_text().split()[:2]
    (root / "known_hosts").write_text(f"[127.0.0.1]:{port} {key_type} {blob}\n")
    try:
        yield Sshd(root, port, root / "client_key", root / "known_hosts", home)
    finally:
        # The listener, then whatever its sessions left (same process group
        # is not guaranteed: sessions call setsid), found by their parent.
        children = [pid for pid in _pids() if _parent(pid) == proc.pid]
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def make_home(folder: Path, bashrc: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".bashrc").write_text(bashrc)
    return folder


# Debian's /etc/skel/.bashrc begins so: nothing of it runs for a command.
CLEAN_BASHRC = "case $- in\n    *i*) ;;\n      *) return;;\nesac\n"
# What a pyenv install puts at the end of .bashrc, without the guard above,
# imitated so it costs about the same here without pyenv: a few subprocesses
# and an interpreter start for every shell.
SLOW_BASHRC = """export PYENV_ROOT="$HOME/.pyenv"
for _i in 1 2 3 4 5 6; do eval "$(python3 -c 'print("export RUNBOOK_BENCH_RC=1")')"; done
"""
