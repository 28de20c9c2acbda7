"""`runbook run`: the upgrade against the host in a config."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

# lifecycle.go is looked up as it is called: benchmarks/tui_startup.py wraps it
# to time the first paint.
from runbook.cli import lifecycle
from runbook.cli.refusals import (
    drill_step,
    holding_the_host,
    refuse_a_config_this_machine_cannot_use,
    refuse_a_journal_in_use,
    refuse_a_run_beside,
    refuse_artifacts_not_here,
    refuse_decisions_the_run_cannot_use,
    refuse_sets_the_template_refuses,
    said_if_refused,
)
from runbook.cli.terminal import is_headless, refuse_the_screen_without_a_terminal

if TYPE_CHECKING:
    from runbook.claim import ClaimRefused
    from runbook.config import Settings
    from runbook.stopping import Stopper


async def run_upgrade(args: argparse.Namespace, stopper: Stopper) -> int:
    from runbook import config as config_mod
    from runbook.session import host_state
    from runbook.statedir import default_dir

    settings = config_mod.load(args.config)
    # prepare_run looks again, with the run to resume in view.
    refuse_a_config_this_machine_cannot_use(settings)
    # What is said before the TUI takes the screen is said on it too (second
    # review: printed just before, it was seen only once the run had ended).
    notes: list[str] = []
    say = print if is_headless(args) else notes.append
    with holding_the_host(host_state(settings, default_dir()),
                          None if is_headless(args) else say):
        return await _run_holding_the_host(args, stopper, settings, say, notes)


async def _run_holding_the_host(args: argparse.Namespace, stopper: Stopper,
                                settings: Settings, say: Callable[[str], None],
                                notes: list[str]) -> int:
    from dataclasses import replace

    from runbook import config as config_mod
    from runbook.statedir import default_dir

    with said_if_refused(notes):
        if args.journal is not None and not args.resume:
            refuse_a_journal_in_use(args.journal)
        folder = args.journal.parent if args.journal is not None else default_dir()
        if not args.resume:
            refuse_decisions_the_run_cannot_use(settings, None)
            refuse_sets_the_template_refuses(settings, None)
            refuse_a_run_beside(folder, settings)
            lifecycle.refuse_a_new_run_here(args, settings, folder, default_dir())
        refuse_the_screen_without_a_terminal(args)
        # Before the token is typed, as every refusal here (prepare_run asks
        # drill_step again): an option given wrong first, then the files. The
        # way back uploads nothing, so the files are not rollback's to refuse.
        drill_step(args)
        refuse_artifacts_not_here(settings)
        token = config_mod.api_token(settings, prompt=config_mod.interactive_prompt())
        settings = replace(settings, token_typed=config_mod.token_was_typed(settings))
        prepared = lifecycle.prepare_run(args, settings, token=token, folder=folder,
                                         state_dir=default_dir(), offer_resume=True,
                                         stopper=stopper, say=say, home=default_dir())
    refused: ClaimRefused | None = None
    try:
        outcome = await lifecycle.go(args, *prepared, notes=tuple(notes))
    except Exception as exc:
        # runbook.claim loads only for a run that ends in an error: imported
        # before go, its classes were compiled before the first paint (issue 12).
        from runbook.claim import ClaimRefused

        if isinstance(exc, ClaimRefused):
            refused = exc  # said with the exit lines, first
        raise
    finally:
        prepared.opening.drop_unwritten()
        # The run --resume named, or the one the TUI offered (review).
        lifecycle.where_it_stands(stopper, settings, earlier=prepared.continues,
                                  headless=is_headless(args), refused=refused)
    return outcome.exit_code
