"""The host's claim (runbook.claim) as the host's own shell runs it: each
command run by a real bash on real files on this machine, as sshd hands it
to the SSH user's login shell. Place(sudo=False): the SSH user stands for
root; the script is the same under `sudo -n` (test_real_sshd runs it there).

Review 62 (G3-G7): what a login shell prints before the answer, machines of
one name, a claim folder that is a link, two writers of the holder at once,
and a sudo that needs a terminal."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

from runbook import claim as host_claim
from runbook.shell import CommandResult


class LocalShell:
    """The host's shell as this machine's bash, HOME given; `banner` is what
    a noisy rc file of the login shell prints on an exec request, before the
    command's own output."""

    target = "ops@sm:22"

    def __init__(self, home: Path, banner: str = "") -> None:
        self.home, self.banner = home, banner

    async def run(self, command: str, **options: object) -> CommandResult:
        done = await asyncio.to_thread(
            subprocess.run, ["bash", "-c", command], capture_output=True, text=True,
            timeout=30, env={**os.environ, "HOME": str(self.home)})
        return CommandResult(command, done.returncode, self.banner + done.stdout, done.stderr)


def test_a_sudo_that_needs_a_terminal_is_told_to_drop_requiretty() -> None:
    """Review 62, G7: `Defaults requiretty` (older RHEL images) makes sudo
    answer "you must have a tty", and the operator was told to allow
    password-less sudo, which one who has NOPASSWD already cannot act on."""
    said = host_claim.sudo_trouble(CommandResult(
        "sudo -n true", 1, "", "sudo: sorry, you must have a tty to run sudo\n"))
    assert said is not None
    what, to_do = said
    assert "tty" in what, what
    assert "Defaults requiretty" in to_do and "visudo" in to_do, to_do
    assert "password-less" not in to_do, to_do
