"""`runbook diff`: old against new red5-web.properties, key by key: in the
editor, or as text or JSON."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from runbook.cli.terminal import no_terminal_for_the_screen, paints


def review_properties(args: argparse.Namespace) -> int:
    if args.out is not None:
        from runbook.config import CommandRefused
        from runbook.journal import is_a_journal

        contexts = getattr(args, "contexts", None) or (None, None)
        # Review 57d L1: the merged file, secrets in clear, replaced an
        # applicationContext.xml given to --contexts, exit 0.
        over = _read_by_the_review(args.out, (args.old, "the live file"),
                                   (args.new, "the new template"),
                                   (args.decisions, "the decisions file"),
                                   (contexts[0], "the live applicationContext.xml"),
                                   (contexts[1], "the new applicationContext.xml"))
        if over is not None:
            # Operator trial: the merged file, secrets in clear, replaced the
            # decisions file meant to be shared, or the live copy; exit 0.
            # Said as the door says its refusals, its --help named (re-trial 53).
            path, role = over
            also = "" if str(path) == str(args.out) else f" ({path})"
            raise CommandRefused("diff", f"--out {args.out} is {role}{also}, which the review "
                                 "reads; write the merged file to a path of its own")
        if is_a_journal(args.out):
            # Bad-input trial: a run's record became the merged file, in clear.
            raise CommandRefused("diff", f"--out {args.out} is a run's journal; write the "
                                 "merged file to a path of its own")
    bean = _needs(args)
    if bean is None:
        return 2
    needs, read_before, caution = bean
    if paints(args):  # the editor, unless --check or --json asks for text
        from screens.diff_app import run_diff_app

        said = no_terminal_for_the_screen(args)
        if said is not None:
            print(f"runbook diff: {said} (see runbook diff --help)", file=sys.stderr)
            return 2

        return run_diff_app(args.old, args.new, sets=args.set, decisions=args.decisions,
                            out=args.out, needs=needs, read_before=read_before,
                            cautions=[caution] if caution else [])
    if caution:
        print(f"runbook diff: {caution}", file=sys.stderr)
    from runbook.properties import diff_command

    code = diff_command(args.old, args.new, sets=args.set, decisions=args.decisions,
                        out=args.out, check=args.check, as_json=args.json, needs=needs,
                        read_before=read_before)
    # Here, where a reader that went away can still be heard: its broken pipe
    # ends the command as the door ends any (`runbook diff ... | head`).
    sys.stdout.flush()
    return code


def _needs(args: argparse.Namespace
           ) -> tuple[dict[str, str] | None, dict[str, str], str | None] | None:
    """The keys the new release's cloud-controller bean reads (--contexts: the
    live applicationContext.xml, whose active bean carry-over activates in
    the new one), the key the live bean read for the same property where it
    read another, and what to say of contexts that name no cloud controller;
    None, {}, None without --contexts; None, said on stderr, for contexts that
    cannot say."""
    if not getattr(args, "contexts", None):
        return None, {}, None  # not checked: the review says so
    from runbook.visible import visible
    from steps import red5

    texts = []
    for path in args.contexts:
        try:
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            print(f"runbook diff: --contexts {visible(str(path))}: cannot be read "
                  f"({exc.strerror or exc})", file=sys.stderr)
            return None
    live, new = texts
    try:
        red5.carry_controller(live, new)  # what carry-over says, where it cannot
    except ValueError as exc:
        print(f"runbook diff: --contexts: {visible(str(exc))} (live: "
              f"{visible(str(args.contexts[0]))}; new: {visible(str(args.contexts[1]))})",
              file=sys.stderr)
        return None
    if red5.active_controller(live) == red5.DUMMY_CONTROLLER:
        # Review 57d L1: the shipped file given as the live one; silent, the
        # review said "Nothing needs a decision".
        return {}, {}, (f"--contexts: {visible(str(args.contexts[0]))} names no cloud "
                        "controller (its active bean is the Dummy), so no keys the new "
                        "release's bean reads are checked: give the live install's "
                        "applicationContext.xml")
    return (*red5.new_bean_reads(live, new), None)


def _read_by_the_review(out: Path, *read: tuple[Path | None, str]) -> tuple[Path, str] | None:
    """The file of `read` (each with what it is to the review) that `out`
    names too, through a symlink or another spelling, if one does."""
    for path, role in read:
        if path is None:
            continue
        with contextlib.suppress(OSError):
            if out.exists() and path.exists() and os.path.samefile(out, path):
                return path, role
        if os.path.realpath(out) == os.path.realpath(path):
            return path, role
    return None
