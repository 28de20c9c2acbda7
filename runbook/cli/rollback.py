"""`runbook rollback`: the way back alone, continuing the journal of the
cutover it undoes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from runbook.cli import lifecycle
from runbook.cli.lifecycle import claim_removal
from runbook.cli.refusals import (
    by_hand,
    holding_the_host,
    refuse_a_config_this_machine_cannot_use,
    said_if_refused,
)
from runbook.cli.terminal import is_headless, refuse_the_screen_without_a_terminal
from runbook.cli.wiring import session

if TYPE_CHECKING:
    from runbook.config import Settings
    from runbook.hoststate import Cutover, HostState
    from runbook.journal_replay import Replay
    from runbook.stopping import Stopper


async def roll_back(args: argparse.Namespace, stopper: Stopper) -> int:
    """The way back alone, continuing the journal of the cutover it undoes."""
    from dataclasses import replace

    from runbook import config as config_mod
    from runbook.session import host_state
    from runbook.statedir import default_dir

    settings = config_mod.load(args.config)
    refuse_a_config_this_machine_cannot_use(settings)
    if args.yes:  # journalled as prepare_run does for run and rehearse (review)
        settings = replace(settings, unattended=True)
    if is_headless(args):
        settings = replace(settings, headless=True)
    if args.take_over_host:
        settings = replace(settings, take_over_host=True)
    state_dir = default_dir()
    host = host_state(settings, state_dir)
    # Said on the TUI's screen, as run's notes are: printed just before it
    # opened, they were seen only once the way back had ended (second review).
    notes: list[str] = []
    with holding_the_host(host, None if is_headless(args) else notes.append):
        with said_if_refused(notes):
            journal, earlier = _the_cutover_under_way(args, settings, host)
            refuse_the_screen_without_a_terminal(args)
            token = config_mod.api_token(settings, prompt=config_mod.interactive_prompt())
            settings = replace(settings, token_typed=config_mod.token_was_typed(settings))
        return await _go_back(args, stopper, settings, journal, earlier, token=token,
                              state_dir=state_dir, notes=tuple(notes))


def _the_cutover_under_way(args: argparse.Namespace, settings: Settings,
                         host: HostState) -> tuple[Path, Replay]:
    """The journal of this host's cutover under way, and its run: the one
    --journal names, else the one the host's record names; refused
    (ConfigError) where that is not a cutover the way back can undo."""
    from runbook.config import ConfigError
    from runbook.journal_replay import replay
    from runbook.standing import said_time
    from runbook.statedir import default_dir

    never = host.drop_cutover_never_begun()
    if never is not None and (args.journal is None or never.journalled_in(args.journal)):
        # Said as what it is, where the refusal of a new run said it began
        # and offered this way back (review 58a, L1).
        raise ConfigError(settings.source, _never_began(never, settings, args))
    under_way = host.cutover()
    journal = args.journal or (Path(under_way.journal) if under_way else None)
    if args.journal is not None and not args.journal.is_file():
        raise ConfigError(str(args.journal), "no such journal; give the journal of the "
                          "cutover to roll back")
    if under_way is not None and (journal is None or not journal.is_file()):
        raise ConfigError(settings.source, f"the cutover under way on this host since "
                          f"{said_time(under_way.began)} is journalled in {under_way.journal}, "
                          "which is not there: give a copy of it written at or after the "
                          "cutover began (or the -kept copy runbook wrote) with --journal; if "
                          "there is none, " + by_hand(under_way.snapshot, host.cutover_record,
                                                      claim_removal(settings)))
    last = host.last_ended() if journal is None else None
    if last is not None:  # trial 58 (M2): "no record" sent the operator the wrong way
        # This machine's last: one under way from elsewhere is not in its
        # record, and --journal is still the way to it (review 59a F4).
        raise ConfigError(settings.source, _ended(last.how, last.began,
                                                  f", journal {last.journal}", "its last",
                                                  elsewhere=True))
    if journal is None:
        # The record is this machine's: a cutover begun from another one, or
        # with another state dir, is not in it (operator trial).
        raise ConfigError(settings.source, f"this machine has no record of a cutover under "
                          f"way on {settings.host.address}; if one was begun elsewhere, give "
                          "its journal with --journal")
    history = replay(journal)
    how = host.ended(history.cutover_started) \
        if under_way is None and history.cutover_started else None
    if how is not None:  # a copy from before it ended knows nothing of its end
        raise ConfigError(str(journal), _ended(how, history.cutover_started or ""))
    if under_way is not None and not under_way.journalled_in(journal):
        if Path(under_way.journal).is_file():
            raise ConfigError(str(journal), f"this host's cutover under way is journalled in "
                              f"{under_way.journal}: give that journal, or leave --journal out")
        # That journal is gone (a lost disk): a copy of it will do, no other run's.
        if history.cutover_started != under_way.began:
            raise ConfigError(str(journal), "this is not the journal of the cutover under way "
                              f"on this host, which began {said_time(under_way.began)} (its "
                              f"journal was {under_way.journal}): give a copy of that one")
    # The host record's size check passes a copy made after the cutover
    # began; the copy the run kept as the journal went under it tells that
    # one from the whole (review 61b, F1: recreate's groups were left).
    lifecycle.refuse_an_older_copy(history, lifecycle.where_its_journal_was(host, default_dir()))
    return journal, _cutover_to_undo(history, settings)


def _never_began(record: Cutover, settings: Settings, args: argparse.Namespace) -> str:
    """Why there is no way back from a cutover recorded on the host whose
    journal never says it began (HostState.drop_cutover_never_begun)."""
    from runbook.standing import resume_command, said_time

    return (f"this machine's record holds a cutover of {said_time(record.began)} that never "
            f"began: its run ({record.journal}) was cut off before it sent anything, so "
            "nothing was changed: the live stream manager serves as before, and there is no way "
            "back to take. Go on with that run: "
            f"{resume_command(settings.source, record.journal, headless=is_headless(args))}")


def _ended(how: str, began: str, where: str = "", which: str = "that", *,
           elsewhere: bool = False) -> str:
    """Why there is no way back to take: this machine's record says the cutover
    that began at `began` ended `how` (and `where` its journal is); with
    `elsewhere`, how to reach one under way that the record cannot know."""
    from runbook.standing import AFTER_A_FINISHED_UPGRADE, ONLY_UNDER_WAY, said_time

    after = f". {AFTER_A_FINISHED_UPGRADE[0].upper()}{AFTER_A_FINISHED_UPGRADE[1:]}" \
        if how == "upgraded" else ""
    other = ("; if one is under way now, begun from another machine or state folder, give "
             "its journal with --journal") if elsewhere else ""
    return (f"this machine's record says {which} cutover (begun {said_time(began)}{where}) "
            f"ended: {how}; {ONLY_UNDER_WAY}{other}{after}")


async def _go_back(args: argparse.Namespace, stopper: Stopper, settings: Settings,
                   journal: Path, earlier: Replay, *, token: str, state_dir: Path,
                   notes: tuple[str, ...]) -> int:
    """The way back, in the front end the arguments ask for; its exit code."""
    from runbook.claim import ClaimRefused
    from runbook.standing import rollback_command

    back = stopper.watch(session(settings, token=token, journal_path=journal,
                                 state_dir=state_dir, resume=earlier, only_back=True))
    refused: ClaimRefused | None = None
    try:
        if is_headless(args):
            from runbook.headless import HeadlessFrontEnd

            outcome = await back.run(HeadlessFrontEnd(back.cards, assume_yes=args.yes,
                                                      earlier=earlier, journal=journal))
        else:
            from screens.tui import run_tui

            # No host_label: the status bar names the login already (trial 58, L5).
            outcome = await run_tui(lambda _earlier: back, notes=notes)
    except ClaimRefused as exc:
        refused = exc  # said with the exit lines, first
        raise
    finally:
        # As every run ends (operator trial: a way back that failed said
        # neither what serves nor how to go on); it goes on as itself.
        headless = is_headless(args)
        going_on = rollback_command(settings.source, journal, headless=headless)
        lifecycle.where_it_stands(stopper, settings, headless=headless, resume=going_on,
                                  refused=refused)
    return outcome.exit_code


def _cutover_to_undo(earlier: Replay, settings: Settings) -> Replay:
    """The journal's run, if it is a cutover this host's way back can undo:
    refused (ConfigError) when it went against another host, never began a
    cutover, or ended (done, or rolled back already). Operator trial: the
    journal of a finished upgrade on another host was taken, its run said
    to be down, and a failed way back appended to it."""
    from runbook.config import ConfigError
    from runbook.standing import AFTER_A_FINISHED_UPGRADE, ONLY_UNDER_WAY

    target = settings.host.target
    where = str(earlier.path)
    # Host names are not case-sensitive; the user may have changed.
    if earlier.host and earlier.host.rpartition("@")[2].lower() != \
            target.rpartition("@")[2].lower():
        raise ConfigError(where, f"its run went against {earlier.host}, not {target} as "
                          f"{settings.source} says: give this host's journal")
    if earlier.way_back_ended():  # its run-end cut off, too (trial 54)
        raise ConfigError(where, "that run went back already: the old stream manager "
                          "serves again")
    if earlier.outcome == "done" or earlier.downtime_s is not None:
        raise ConfigError(where, f"that upgrade's cutover is complete; {ONLY_UNDER_WAY}. "
                          f"{AFTER_A_FINISHED_UPGRADE[0].upper()}{AFTER_A_FINISHED_UPGRADE[1:]}")
    if earlier.cutover_started is None:
        raise ConfigError(where, "its run never began a cutover: the live stream manager "
                          "was not changed and there is no way back to take")
    return earlier
