"""Paths and small helpers every step of the procedure shares."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

from runbook.config import Settings
from runbook.model import Action, Shell
from runbook.remote import privileged, quote
from runbook.step import PlanContext, StepContext, StepFailed
from steps import red5


def new_folder(settings: Settings, facts: dict[str, Any]) -> str:
    """Name of the folder the new distribution unpacks into.

    Read from the zip when it is on this machine (it is the truth); before
    that, the zip's own name is the usual folder name."""
    if "new_top" in facts:
        return str(facts["new_top"])
    try:
        facts["new_top"] = red5.top_folder(settings.distribution)
    except (OSError, ValueError, KeyError):
        return settings.distribution.name.removesuffix(".zip")
    return str(facts["new_top"])


def new_dir(p: PlanContext | StepContext) -> str:
    return f"{p.settings.install_dir}/{new_folder(p.settings, p.facts)}"


async def trees(ctx: StepContext) -> tuple[str, str]:
    """(old install, new tree) wherever the procedure has put them so far.

    Before cutover that is red5pro and the unpacked folder; once promote-new
    has run, the new tree is red5pro and the old one bak.red5pro. A resumed
    run's checks must look in the right place, or they would redo work."""
    s = ctx.settings
    new = new_dir(ctx)
    if not await exists(ctx, new, "-d"):
        live = await install_version(ctx, s.live_dir)
        if live is not None and live == ctx.facts.get("new_version"):
            new = s.live_dir
    old = s.live_dir
    if new == s.live_dir or not await exists(ctx, s.live_dir, "-d"):
        old = s.backup_dir
    return old, new


def find_server_folders(p: PlanContext | StepContext) -> str:
    """The command that lists red5pro-server-* folders in the install dir."""
    return (f"find {quote(p.settings.install_dir)} -mindepth 1 -maxdepth 1 -type d "
            "-name 'red5pro-server-*'")


async def server_folders(ctx: StepContext) -> list[str]:
    """Every red5pro-server-* folder now in the install dir (the unpacked one,
    and any an earlier upgrade or a hand-made unzip left there)."""
    found = await ctx.probe(find_server_folders(ctx))
    return [line for line in found.stdout.splitlines() if line.strip()]


async def run_shell(ctx: StepContext, actions: list[Action], *, timeout: float | None = None
                    ) -> None:
    """Run the shell lines of a plan in order, exactly as the plan showed them."""
    for action in actions:
        if isinstance(action, Shell):
            await ctx.sh(action.command, timeout=timeout)


def root(p: PlanContext | StepContext, command: str) -> str:
    return privileged(command, p.settings.host.sudo)


def uploaded(settings: Settings, local: Path) -> str:
    return f"{settings.upload_dir}/{local.name}"


async def sha256_local(path: Path) -> str:
    def digest() -> str:
        h = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()

    return await asyncio.to_thread(digest)


async def sha256_remote(ctx: StepContext, path: str) -> str | None:
    result = await ctx.probe(f"sha256sum -- {quote(path)} 2>/dev/null")
    return result.stdout.split()[0] if result.ok and result.stdout.strip() else None


async def exists(ctx: StepContext, path: str, kind: str = "-e") -> bool:
    result = await ctx.probe(f"test {kind} {quote(path)}")
    return result.ok


async def read_remote(ctx: StepContext, path: str) -> str:
    result = await ctx.probe(root(ctx, f"cat -- {quote(path)}"))
    if not result.ok:
        raise StepFailed(f"cannot read {path} on the host: {result.last_error_line()}")
    return result.stdout


async def install_version(ctx: StepContext, folder: str) -> str | None:
    result = await ctx.probe(f"ls -1 -- {quote(folder)} 2>/dev/null")
    return red5.installed_version(result.stdout.splitlines()) if result.ok else None


def load_snapshot(ctx: StepContext | PlanContext) -> dict[str, Any] | None:
    path = ctx.facts.get("snapshot")
    if not path or not Path(path).is_file():
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


async def red5_pids(ctx: StepContext) -> list[int]:
    """PIDs of the Red5 Pro server running from the install folder.

    Its command line names the folder it started from (-Dred5.root=, the
    classpath), which stays true after the folder is renamed. Matching the
    folder as a whole path element keeps other JVMs out, even ones that merely
    mention a file inside it."""
    result = await ctx.probe("ps -eo pid=,args=")
    if not result.ok:
        raise StepFailed(f"cannot list processes: {result.last_error_line()}")
    home = ctx.settings.live_dir
    marks = (f"-Dred5.root={home} ", f"-Dred5.root={home}/", f"{home}/red5-service.jar",
             f"{home}/commons-daemon")
    pids = []
    for line in result.stdout.splitlines():
        pid, _, args = line.strip().partition(" ")
        if "java" in args and any(mark in args + " " for mark in marks):
            pids.append(int(pid))
    return pids
