"""`runbook report` and `runbook log`: what a journal holds, for the change
ticket and for reading back."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from runbook.visible import visible


def report(args: argparse.Namespace) -> int:
    from runbook.config import CommandRefused
    from runbook.journal import is_a_journal
    from runbook.report import build, emit, newest_journal, write_private
    from runbook.report_html import html
    from runbook.report_md import markdown
    from runbook.statedir import default_dir

    made = build(args.journal or _newest_said(newest_journal(default_dir())))
    text = html(made) if args.html else markdown(made)
    if args.out is not None:
        # realpath: Path.resolve() raises RuntimeError on a link loop (3.11; review).
        if os.path.realpath(args.out) == os.path.realpath(made.path):
            # Operator trial: it became its own report, the run's record gone.
            raise CommandRefused("report", f"--out {args.out} is {made.path}, the journal "
                                 "this reports on; name another file for the report")
        if is_a_journal(args.out):
            # Safety review: a slip naming another run's journal lost that run
            # (one just claimed by a runbook holds no record yet, only its lock).
            raise CommandRefused("report", f"--out {args.out} is a run's journal; name "
                                 "another file for the report")
        write_private(args.out, text)
        return 0
    return emit([text])


def log(args: argparse.Namespace) -> int:
    from runbook.config import CommandRefused
    from runbook.log import log_lines
    from runbook.report import emit, newest_journal
    from runbook.statedir import default_dir

    # `--step=` is no step name (re-trial 53: "no step '' in this run"), and
    # `--grep=` would keep every line: said as `--step` with nothing after it is.
    for option, value, metavar in (("--step", args.step, "ID"), ("--grep", args.grep, "TEXT")):
        if value == "":
            raise CommandRefused("log", f"{option} is given no value; give one, as in "
                                 f"{option} {metavar}")
    lines = log_lines(args.journal or _newest_said(newest_journal(default_dir())),
                      step=args.step, grep=args.grep)
    return emit(f"[{step}] {line}\n" for step, line in lines)


def _newest_said(journal: Path) -> Path:
    """The journal chosen for the operator, named on stderr: the newest in the
    state dir need not be the run they have in mind (operator trial: a
    sandbox's run keeps its journal in the sandbox). Not a run that began no
    step where one of the same host before it began some (trial 55: a
    headless try stopped at its first question stood in for the prepare run
    10 steps in): that one is read, and the one passed over named."""
    from runbook.earlier_runs import got_somewhere_before

    before = got_somewhere_before(journal)
    if before is not None:
        print(f"runbook: read {visible(str(before))}, the newest journal of its host whose run "
              f"began a step; {visible(str(journal))} is newer, and its run began no step "
              "(name it to read it)", file=sys.stderr)
        return before
    print(f"runbook: read the newest journal, {visible(str(journal))}", file=sys.stderr)
    return journal
