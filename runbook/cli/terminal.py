"""Whether a command draws a screen, and whether there is a terminal to draw
it on."""

from __future__ import annotations

import argparse
import sys


def on_a_terminal() -> bool:
    """Whether the terminal UI has one: it reads keys from stdin and draws on
    stderr (Textual's driver)."""
    return sys.stdin.isatty() and sys.__stderr__ is not None and sys.__stderr__.isatty()


def no_terminal_for_the_screen(args: argparse.Namespace) -> str | None:
    """What to say when the command would open its screen with no terminal to
    draw it on: from a script it was drawn into a pipe or a file, and waited
    for keys that never came, until killed (bad-input trial). Asked after the
    arguments' own refusals, before anything is started or asked."""
    if not paints(args) or on_a_terminal():
        return None
    without = "--check or --json" if args.command == "diff" else "--headless"
    return ("the terminal UI needs a terminal, and stdin or stderr is not one here; "
            f"give {without} to go without it")


def refuse_the_screen_without_a_terminal(args: argparse.Namespace) -> None:
    from runbook.config import CommandRefused

    said = no_terminal_for_the_screen(args)
    if said is not None:
        raise CommandRefused(args.command, said)


def paints(args: argparse.Namespace) -> bool:
    """Whether the command opens a screen (its app ends start-up at its first paint)."""
    if args.command == "diff":
        return not (args.check or args.json)
    if getattr(args, "host_only", False):  # rehearse --host-only: lines, no screen
        return False
    return args.command in ("run", "rehearse", "rollback") and not is_headless(args)


def is_headless(args: argparse.Namespace) -> bool:
    # --yes answers every question, so there is nothing for the TUI to ask.
    return bool(args.headless or args.yes)
