"""`runbook plan`: every step's commands and API calls; connects to nothing."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from runbook.cli.refusals import (
    refuse_artifacts_not_here,
    refuse_decisions_the_run_cannot_use,
    refuse_sets_the_template_refuses,
    refuse_what_this_procedure_cannot_do,
)
from runbook.cli.wiring import plan_settings, session
from runbook.visible import visible

if TYPE_CHECKING:
    from collections.abc import Callable

    from runbook.config import Settings


async def print_plan(args: argparse.Namespace) -> int:
    import json

    from runbook.model import when_and_why
    from runbook.statedir import default_dir

    settings = plan_settings(args.config)
    refuse_what_this_procedure_cannot_do(settings)
    unchecked = refuse_sets_the_template_refuses(settings, None)
    if unchecked is not None:
        # The properties step checks them in the window; the day before, say
        # that this plan did not (README walkthrough: plan passed one in silence).
        print(f"runbook: note: [properties] set not checked against the new template: "
              f"{visible(unchecked)}", file=sys.stderr)
    _note_what_the_run_would_refuse(settings)
    # Connects to nothing; the host's state folder may say which snapshot
    # cutover would rebuild from.
    shown = session(settings, token="", journal_path=default_dir() / "plan.jsonl",
                    state_dir=default_dir())
    plans = shown.preview()
    listing: list[dict[str, Any]] = [{
        "id": card.id, "title": card.title, "phase": card.phase.value,
        # As the listing, headless and the TUI mark it: every cutover step too.
        "destructive": card.needs_typed_confirmation,
        "typed_confirmation": card.needs_typed_confirmation,
        "skippable": card.skippable, "summary": card.summary, "caution": card.caution,
        "actions": [{"kind": type(a).__name__.lower(), "text": a.render(),
                     "why": when_and_why(a)} for a in plans.get(card.id) or []],
    } for card in shown.cards]
    if args.json:
        print(json.dumps({"config": settings.source, "steps": listing}, indent=2))
        return 0
    print(f"plan for {settings.host.login} ({settings.source})")
    for number, item in enumerate(listing, start=1):
        # As the TUI and headless mark it: every step that asks for its id.
        flag = " [destructive]" if item["typed_confirmation"] else ""
        print(f"\n{number:2}. {item['id']} - {item['title']} ({item['phase']}){flag}")
        print(f"    {item['summary']}")
        if item["caution"]:
            print(f"    caution: {item['caution']}")
        for action in item["actions"]:
            if action["why"]:
                # When it runs, if not always: a conditional restart read as
                # one that always ran (trial).
                print(f"      # {action['why']}")
            for line in action["text"].splitlines():
                print(f"      {line}")
    return 0


def _note_what_the_run_would_refuse(settings: Settings) -> None:
    """The plan may come before `runbook diff` writes the decisions file, or
    on a machine that does not hold the zip and the jar, so a file not there
    yet is no reason to refuse it; it is said, on stderr, so the day-before
    check does not pass what the window refuses (operator trial, trial 55 F7)."""
    from runbook.config import ConfigError
    from runbook.properties.decisions import DecisionsError

    def decisions(settings: Settings) -> None:
        refuse_decisions_the_run_cannot_use(settings, None)

    # (A rehearsal's zip and jar are made by `runbook rehearse` as its host starts.)
    refusals: list[Callable[[Settings], None]] = [decisions] if settings.rehearsal else \
        [refuse_artifacts_not_here, decisions]
    for refusal in refusals:
        try:
            refusal(settings)
        except (ConfigError, DecisionsError) as exc:
            print(f"runbook: note: `runbook run` refuses this config as it stands: "
                  f"{visible(str(exc))}",
                  file=sys.stderr)
