"""What `run`, `rehearse` and `rollback` share: a run made ready (the run it
continues, its journal, the refusals), handed to a front end, and the exit
lines that say where it stands and how to go on."""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from runbook.cli.refusals import (
    drill_step,
    refuse_a_new_run_over_an_unfinished_one,
    refuse_a_run_beside,
    refuse_a_second_cutover,
    refuse_decisions_the_run_cannot_use,
    refuse_sets_the_template_refuses,
    refuse_what_this_procedure_cannot_do,
    runs_of,
)
from runbook.cli.terminal import is_headless
from runbook.cli.wiring import session

if TYPE_CHECKING:
    from runbook.claim import ClaimRefused
    from runbook.config import Settings
    from runbook.hoststate import HostState
    from runbook.journal_replay import Replay
    from runbook.model import Outcome
    from runbook.opening import Opening
    from runbook.session import Session
    from runbook.standing import WayBack
    from runbook.stopping import Stopper


class Prepared(NamedTuple):
    """A run ready to open: its opening, its journal and the earlier run it
    continues (--resume)."""
    opening: Opening
    journal: Path
    earlier: Replay | None

    @property
    def continues(self) -> Replay | None:
        """The run this one goes on from: the one --resume named, else the
        one the TUI offers."""
        return self.earlier or self.opening.previous


def prepare_run(args: argparse.Namespace, settings: Settings, *, token: str, folder: Path,
                state_dir: Path, offer_resume: bool, stopper: Stopper, isolated: bool = False,
                host_label: str = "", tap: Callable[[Session[Any]], Session[Any]] | None = None,
                say: Callable[[str], None] = print,
                go_on: Callable[[Path], str | None] | None = None,
                home: Path | None = None) -> Prepared:
    """The session the arguments ask for, ready to open (through `tap`, which a
    rehearsal's faults listen with), after the refusals; its journal and the
    earlier run it continues. The opening offers the TUI an unfinished run too.
    `go_on`: the command that goes on with a run in a journal, for a journal
    that fails to name (Session.go_on); by default the one the exit lines give.
    `home`: the folder runs keep their journals in unless --journal says
    otherwise, where `folder` is --journal's (the copy a run kept as its
    journal went is looked for there too: refuse_an_older_copy)."""
    from dataclasses import replace  # here: it brings inspect, which --help never needs

    from runbook.earlier_runs import unfinished
    from runbook.opening import Opening
    from runbook.session import host_state

    refuse_what_this_procedure_cannot_do(settings)
    if args.yes:  # the journal says so: such a run's times are no estimate for one at the keys
        settings = replace(settings, unattended=True)
    if is_headless(args):  # the journal says so: its report's commands go on so too
        settings = replace(settings, headless=True)
    if getattr(args, "take_over_host", False):
        settings = replace(settings, take_over_host=True)
    elsewhere = where_its_journal_was(host_state(settings, state_dir), home or folder)
    earlier = _resume_from(args, settings, folder, state_dir, say, elsewhere) \
        if offer_resume else None
    refuse_decisions_the_run_cannot_use(settings, earlier)
    refuse_sets_the_template_refuses(settings, earlier)
    # The host's unfinished run, where a new one is asked for: the TUI offers
    # it first, unless --new-run chose a new run already.
    found = unfinished(folder, **runs_of(settings)) \
        if earlier is None and offer_resume and args.journal is None else None
    anew = bool(getattr(args, "new_run", False))
    offered = earlier or (found if not is_headless(args) and not anew else None)
    if earlier is None:  # --resume's own was refused before it was said to go on
        refuse_an_older_copy(offered, elsewhere)
    # The TUI offers the cutover's own run (only continuing it, while the
    # stream manager is down): not refused, as a new run beside it is.
    refuse_a_second_cutover(host_state(settings, state_dir),
                            offered.path if offered is not None else None,
                            lambda journal: _command_to_go_on(args, settings, journal),
                            lambda journal: _command_to_go_back(args, settings, journal),
                            remove_claim=lambda: claim_removal(settings))
    refuse_a_new_run_over(args, settings, found)
    if found is not None:
        # Also in the TUI, which offers it in a dialog: an operator who leaves
        # there reads it on the way out (review).
        say(f"note: an unfinished run is in {found.path}; it is left as it is, and this is "
            "a new run (--new-run)" if anew else
            f"note: an unfinished run is in {found.path}; --resume continues it")

    after = drill_step(args)
    if after is None and earlier is not None and earlier.rollback_after is not None:
        # A drill resumed goes on turning back where it was to (re-trial:
        # it finished the upgrade instead, unsaid).
        after = earlier.rollback_after
    # Claimed last, once nothing is left to refuse. With --resume, `path` is
    # the earlier run's journal; a new run chosen in the TUI's resume dialog
    # instead writes a journal of its own beside it (operator trial: it
    # appended a fresh start to the run it did not continue, and the report
    # counted it as resumed).
    # `fresh`: the journal claimed here, to drop on the way out if unused.
    fresh: Path | None
    # Where a new run chosen in the TUI's resume dialog claims its journal,
    # once chosen: claimed before the answer, a kill -9 at the dialog left it
    # there empty beside the run offered (operator trial).
    chosen_in: Path | None = None
    new_run: Path | None
    if earlier is not None and earlier.path is not None and is_headless(args):
        # Headless, --resume goes on in the earlier run's journal and offers
        # no new run: one claimed beside it would only ever be empty, and a
        # kill -9 left it there for report to call "not a runbook journal"
        # (operator trial).
        path = new_run = earlier.path
        fresh = None
    elif earlier is not None and earlier.path is not None:
        path, new_run, fresh, chosen_in = earlier.path, None, None, earlier.path.parent
    elif args.journal is not None:
        path = new_run = args.journal
        fresh = None  # the operator's own: not this run's to remove
    elif offered is not None and offered.path is not None:
        # The TUI offers that run first; its journal is the one there is.
        path, new_run, fresh, chosen_in = offered.path, None, None, folder
    else:
        path = new_run = fresh = fresh_journal(settings, folder)
    claimed: list[Path] = []

    def open_session(continuing: Replay | None) -> Session[Any]:
        nonlocal new_run
        # The TUI's resume dialog continues a drill as --resume does.
        drill = after if after is not None or continuing is None else continuing.rollback_after
        journal = continuing.path if continuing is not None else None
        if journal is None:
            if new_run is None:
                new_run = fresh_journal(settings, chosen_in or folder)
                claimed.append(new_run)
            journal = new_run
        # A rehearsal resumed without --fault stages again those of its
        # faults that never came up, as a drill goes on as one (trial 56 F1:
        # dropped without a word, and the report said they failed on purpose).
        carried = continuing.faults_never_up if continuing is not None and \
            settings.rehearsal and not settings.rehearsal_faults else []
        opened = session(replace(settings, rehearsal_faults=tuple(carried)) if carried
                         else settings, token=token, state_dir=state_dir, isolated=isolated,
                         journal_path=journal, resume=continuing, rollback_after=drill)
        opened.go_on = go_on if go_on is not None else \
            (lambda at: _command_to_go_on(args, settings, str(at)))
        stopper.watch(opened)
        return tap(opened) if tap is not None else opened

    # --resume --journal J: the operator said which run, and that it goes on
    # (trial 55, F6: the dialog still offered "New run", a key away).
    named = bool(args.resume and args.journal is not None and earlier is not None)
    return Prepared(Opening(open_session, offered, host_label, new_journal=fresh,
                            claimed=claimed, named=named), path, earlier)


def _resume_from(
    args: argparse.Namespace, settings: Settings, folder: Path, state_dir: Path,
    say: Callable[[str], None] = print, elsewhere: Iterable[Path] = ()
) -> Replay | None:
    """The unfinished run --resume continues; None for a new run. `elsewhere`:
    where its journal may have been (refuse_an_older_copy)."""
    from runbook.config import ConfigError
    from runbook.earlier_runs import unfinished
    from runbook.journal import IN_USE, in_use

    if args.resume:
        from runbook.journal_replay import replay

        if args.journal is not None and not args.journal.is_file():
            raise ConfigError(str(args.journal), "no such journal to resume")
        earlier = replay(args.journal) if args.journal is not None else \
            unfinished(folder, **runs_of(settings))
        if earlier is None or earlier.path is None:
            from runbook.session import host_state

            # A cutover under way whose journal is gone (trial 59, F9: "the old
            # stream manager serves" was said of one that was down) is said
            # before where the last run left the host.
            refuse_a_second_cutover(host_state(settings, state_dir), None,
                                    lambda journal: _command_to_go_on(args, settings, journal),
                                    lambda journal: _command_to_go_back(args, settings, journal),
                                    remove_claim=lambda: claim_removal(settings))
            raise ConfigError(str(args.journal or folder), _nothing_to_resume(args, settings,
                                                                              folder))
        if earlier.empty:
            # As report says it: most often one a killed runbook had claimed.
            raise ConfigError(str(earlier.path), "holds no records: no run was written in "
                              "it, so there is none to resume")
        if earlier.ended_as is not None:
            ended = "finished" if earlier.ended_as == "done" else "rolled back"
            raise ConfigError(str(earlier.path), f"that run {ended}; there is nothing to resume")
        why = _not_this_configs(earlier, settings)
        if why is not None:
            raise ConfigError(str(earlier.path), why)
        if in_use(earlier.path):
            # Before anything is said of going on: the commands that go on
            # would name the very run refused here (trial).
            raise ConfigError(str(earlier.path), IN_USE)
        refuse_an_older_copy(earlier, elsewhere)
        if not settings.rehearsal and earlier.config is not None and \
                os.path.realpath(earlier.config) != os.path.realpath(settings.source):
            say(f"note: that run used {earlier.config}; it goes on with {settings.source}, "
                "which aims at the same host")
        _say_a_change_of_pace(earlier, settings, say)
        if earlier.rollback_after is not None and getattr(args, "rollback_after", None) is None:
            say(f"note: that run is a drill of the way back (--rollback-after "
                f"{earlier.rollback_after}); it goes on as one")
        # The TUI's resume dialog says it where it asks (a new run chosen
        # there stages none: review 56c F4); said here when nothing will ask.
        asks = not is_headless(args) and args.journal is None
        if earlier.faults_never_up and settings.rehearsal and not getattr(args, "fault", None) \
                and not asks:
            say(f"note: that run staged --fault {' --fault '.join(earlier.faults_never_up)}, "
                f"whose step has not run yet; this rehearsal stages "
                f"{'them' if len(earlier.faults_never_up) > 1 else 'it'} again")
        say(f"resuming the run in {earlier.path}")
        if earlier.journal_lost:
            # (Trial 60, F10: the next session read it as cut off by a kill.)
            say(f"note: that run stopped because its journal was {earlier.journal_lost} "
                "during the run, before anything unrecorded ran; this run goes on from its "
                "last record")
        return earlier
    # (A --journal that holds a run was refused already: run_upgrade and rehearse
    # refuse it before a token is asked for or a host started. An unfinished
    # run a new one would go beside is prepare_run's to offer or refuse.)
    refuse_a_run_beside(folder, settings)
    return None


def refuse_an_older_copy(offered: Replay | None, elsewhere: Iterable[Path] = ()) -> None:
    """Refused: going on from a journal older than the copy its run kept as
    the journal went under it (journal.kept_later): an older copy put back.
    The steps and end recorded in the kept copy alone would be unknown to the
    run that goes on (operator trial 60, F10), or to the way back, which
    would leave what they made (review 61b, F1). `elsewhere`: the folders
    the run's journal may have been in, for a copy given from another one
    (where_its_journal_was)."""
    from runbook.config import ConfigError
    from runbook.journal import kept_later

    if offered is None or offered.path is None:
        return
    kept = kept_later(offered.path, elsewhere)
    if kept is not None:
        raise ConfigError(str(offered.path), f"is older than {kept}, which its run kept as "
                          "this journal went under it, and holds less of that run: put that "
                          "copy in its place (cp), then run this again")


def where_its_journal_was(host: HostState, home: Path) -> list[Path]:
    """Where a journal given from another folder (a backup, --resume
    --journal COPY) was written by its run, for the copy that run kept as
    its journal went to be found (a copy from elsewhere was checked only
    against what lay beside it): `home`, where runs keep their journals,
    and the folder of the journal this machine's record of a cutover under
    way names, which may be one of the operator's (--journal)."""
    from runbook.hoststate import HostStateError

    folders = [home]
    try:
        under_way = host.cutover()
    except HostStateError:
        under_way = None  # a damaged record: the refusal of a second cutover says so
    if under_way is not None and under_way.journal:
        folders.append(Path(under_way.journal).parent)
    return folders


def _nothing_to_resume(args: argparse.Namespace, settings: Settings, folder: Path) -> str:
    """Why --resume finds nothing to go on with: where the host's last run
    left it, and when, and what to run next (trial 56b F4: "no unfinished run
    to resume here" alone, where the README says it tells where the host
    stands)."""
    import shlex

    from runbook.earlier_runs import last_ended
    from runbook.standing import said_time

    said = "no unfinished run to resume here"
    found = last_ended(folder, **runs_of(settings))
    if found is None or found[0].path is None:
        return said
    last, ts = found
    path = last.path
    assert path is not None
    at = f" at {said_time(ts)}" if ts else ""
    if last.ended_as == "done":
        return (f"{said}: the last run ({path.name}) finished{at}, the upgrade done; "
                f"`runbook report {shlex.quote(str(path))}` tells what it did")
    headless = " --headless" if is_headless(args) else ""
    if args.command == "rehearse":
        sandbox = getattr(args, "sandbox", None)
        where = f" --sandbox {shlex.quote(os.path.abspath(sandbox))}" if sandbox else ""
        again = f"runbook rehearse{where}{headless}"
    else:
        again = f"runbook run {shlex.quote(os.path.abspath(settings.source))}{headless}"
    return (f"{said}: the last run ({path.name}) rolled back{at}, and the old stream manager "
            f"serves; a new run starts with `{again}`")


def refuse_a_new_run_here(args: argparse.Namespace, settings: Settings, folder: Path,
                          state_dir: Path) -> None:
    """What prepare_run refuses of a new run nobody will be asked about
    (headless, or --new-run: a cutover under way, the host's unfinished run),
    refused before the token is asked for: typed at the terminal, and then
    refused (review)."""
    from runbook.earlier_runs import unfinished
    from runbook.session import host_state

    if args.resume or args.journal is not None or not (
            is_headless(args) or getattr(args, "new_run", False)):
        return
    refuse_a_second_cutover(host_state(settings, state_dir), None,
                            lambda journal: _command_to_go_on(args, settings, journal),
                            lambda journal: _command_to_go_back(args, settings, journal),
                            remove_claim=lambda: claim_removal(settings))
    refuse_a_new_run_over(args, settings, unfinished(folder, **runs_of(settings)))


def refuse_a_new_run_over(args: argparse.Namespace, settings: Settings,
                          found: Replay | None) -> None:
    """A new run beside `found`, the host's unfinished run, refused where
    nobody chose it over that one (refusals.refuse_a_new_run_over_an_unfinished_one),
    with the commands as this one was started."""
    if found is None:
        return  # and the commands' module (runbook.standing) is not loaded for nothing
    from runbook.standing import new_run_command, rehearse_anew_command

    headless = is_headless(args)
    sandbox = getattr(args, "sandbox", None)
    start_anew = rehearse_anew_command(sandbox, headless=headless) \
        if args.command == "rehearse" and sandbox is not None else \
        new_run_command(settings.source, headless=headless)
    refuse_a_new_run_over_an_unfinished_one(
        found, headless=headless, new_run=bool(getattr(args, "new_run", False)),
        resume_command=lambda journal: _command_to_go_on(args, settings, journal),
        way_back=lambda journal: _command_to_go_back(args, settings, journal),
        start_anew=start_anew)


def _say_a_change_of_pace(earlier: Replay, settings: Settings,
                         say: Callable[[str], None]) -> None:
    """Said before the run goes on, not first in its report: a rehearsal begun
    at one pace and resumed at another (an exported RUNBOOK_REHEARSAL_PACE)
    has times that stand for no other run's (operator trial)."""
    from runbook.journal_replay import same_pace
    from runbook.report_format import pace_name

    if not settings.rehearsal or earlier.pace is None or same_pace(earlier.pace, settings.pace):
        return
    from runbook.rehearsal.cloud import PACE_ENV

    say(f"note: that rehearsal went at {pace_name(earlier.pace)} and goes on at "
        f"{pace_name(settings.pace)}, so its cutover's time will compare with no other run's; "
        f"set {PACE_ENV} as it was to keep it comparable")


def fresh_journal(settings: Settings, folder: Path) -> Path:
    """A new run's journal in `folder`, named for the host and the time it
    begins, and claimed (journal.claim): a run begun in the same second beside
    it takes the next name (review: both had written one journal; operator
    trial: two rehearsals started together chose one name, and the second
    printed the first's progress as its own). `drop_if_unwritten` removes
    one no run used."""
    from datetime import UTC, datetime

    from runbook.journal import claim

    return claim(folder, f"{settings.host.address}-"
                         f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}")


async def go(args: argparse.Namespace, opening: Opening, path: Path,
             earlier: Replay | None, *, notes: tuple[str, ...] = ()) -> Outcome:
    """Hand the opening to the front end the arguments ask for; the TUI shows
    `notes`, what was said while it was got ready."""
    if is_headless(args):
        from runbook.headless import HeadlessFrontEnd

        run = opening.open_session(earlier)
        return await run.run(HeadlessFrontEnd(run.cards, assume_yes=args.yes,
                                              estimate=run.downtime_estimate(),
                                              earlier=run.resume, journal=path,
                                              throwaway=run.settings.rehearsal_throwaway))
    from screens.tui import run_tui

    return await run_tui(opening.open_session, previous=opening.previous,
                         host_label=opening.host_label, new_journal=opening.new_journal,
                         notes=notes, named=opening.named)


def where_it_stands(stopper: Stopper, settings: Settings | None, *,
                    resume: str | None = None, earlier: Replay | None = None,
                    headless: bool = False, own_host: bool = False,
                    refused: ClaimRefused | None = None) -> None:
    """The exit lines of every run: what serves now and the command that goes
    on from here. Said even on a closed terminal's way out, where nobody may
    read them (so a write that fails is let go). `earlier`: the run --resume
    named, spoken of when the operator left before a run of this process
    wrote anything (the TUI's resume dialog: its new run has a journal of
    its own). `own_host`: the host is this process's rehearsal host, which
    stops with it. `refused`: the host's claim refused the run, or stopped it
    (said here first, then the lines, their commands as they will work:
    trial 62, F6, the refused command came first, then the refusal)."""
    from runbook.journal import JournalError, in_use, kept_copy, unwritten
    from runbook.journal_replay import replay
    from runbook.standing import (
        before_another_attempt,
        going_on,
        resume_command,
        rollback_command,
        service_state,
    )

    journal = last_journal(stopper, earlier)
    if journal is None or unwritten(journal):
        return  # refused before anything ran (the refusal said why), or never written
    if in_use(journal):
        # Ours is closed by now: another runbook goes on with this run, and
        # where it stands is its to say (trial: the command just refused was
        # named as the way on).
        with contextlib.suppress(OSError):
            print(f"runbook: another runbook is writing {journal}; the run goes on there, "
                  "and that runbook says where it stands", flush=True)
        return
    # Replaced under the run (trial 60, F11), or written over with an older
    # copy that reads well (review 60c, F4): its records are in the copy it
    # kept beside, which the advice puts back at this path; the commands
    # name the path, as they work once it is there.
    kept: Path | None = getattr(stopper.sessions[-1], "kept_beside", None) \
        if stopper.sessions else None
    try:
        history = replay(kept or journal)
    except (OSError, JournalError):
        kept = None if kept is not None else kept_copy(journal)
        if kept is None:
            return  # the journal's own error was said where it happened
        try:
            history = replay(kept)
        except (OSError, JournalError):
            return
    rollback, note = None, ""
    if settings is not None and not settings.rehearsal:
        resume = resume or resume_command(settings.source, journal, headless=headless)
        rollback = rollback_command(settings.source, journal, headless=headless)
        if rollback == resume:  # the way back alone: it goes on as itself
            rollback = None
    elif resume is not None:
        back = practised_way_back(history, resume)
        rollback, note = (back.command, back.note) if back is not None else (None, "")
    both = ""
    if refused is not None:
        # Said before the lines, as the CLI would say it after them.
        _say_first(refused)
        both = refused.when
        if refused.take_over:
            resume, rollback = _taking_over(resume), _taking_over(rollback)
    after = before_another_attempt(history.outcome, history.left_by_the_way_back().values())
    lines = [*([f"runbook: the run's records are in {kept}: the file at {journal} is not "
                f"the run's now; put {kept.name} in its place before the commands below"]
               if kept is not None else []),
             f"runbook: {service_state(history)}",
             *(f"runbook: {line}" for line in left_running(history)),
             *(f"runbook: {line}" for line in going_on(history, resume=resume,
                                                       rollback=rollback,
                                                       rollback_note=note, both=both)),
             *([f"runbook: before another attempt: {after}"] if after else []),
             # Its end could not let the host's claim go (review 62, G2).
             *([f"runbook: {history.claim_left}"] if history.claim_left else [])]
    if stopper.caught is not None:
        # A real host goes on with a detached command (the unzip, the
        # service's start); the rehearsal's stops with this process, and
        # what ran on it ends (operator trial: it said otherwise).
        host = "the rehearsal host stops with it, and what ran there ends" if own_host \
            else "leaving what runs on the host to finish there"
        lines.insert(0, f"runbook: {stopper.caught.name} received: stopped, {host}; "
                        "the journal is closed")
    with contextlib.suppress(OSError):
        print("\n".join(lines), flush=True)


def left_running(history: Replay) -> list[str]:
    """The commands a stop could not reach the host to end (review 62, G1),
    while their limit may not have ended them yet: said again as the run
    ends, since the TUI's output, where it was said first, is gone then."""
    from runbook.jobs import LEFT_RUNNING

    now = time.time()
    return [f"{note.get('step') or 'the run'}: {note.get('text')}" for note in history.notes
            if note.get("kind") == LEFT_RUNNING and isinstance(note.get("until"), int | float)
            and note["until"] > now]


def _say_first(refused: ClaimRefused) -> None:
    """The claim's refusal, as the CLI says a refusal (door._refusal), before
    the exit lines; marked told, so the CLI does not say it again after."""
    import sys

    from runbook.visible import visible

    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()  # what the run said before it, before it
        print(f"runbook: {visible(str(refused))}", file=sys.stderr, flush=True)
    refused.told = True


def _taking_over(command: str | None) -> str | None:
    """`command` as it goes on past a claim only --take-over-host replaces."""
    if command is None or "--take-over-host" in command.split():
        return command
    return f"{command} --take-over-host"


def last_journal(stopper: Stopper, earlier: Replay | None) -> Path | None:
    """The journal that holds where this command left the run: its last run's,
    or, if that was never written (the operator left at the resume dialog),
    the earlier run's. None if nothing ran."""
    if not stopper.sessions:
        return None
    from runbook.journal import unwritten

    journal = stopper.sessions[-1].journal_path
    if unwritten(journal) and earlier is not None and earlier.path is not None:
        return earlier.path
    return journal


def practised_way_back(history: Replay, resume: str) -> WayBack | None:
    """A lasting rehearsal's way back from where its cutover stands
    (standing.rehearsed_way_back, over this procedure's steps)."""
    from runbook.model import Phase
    from runbook.standing import rehearsed_way_back
    from steps import procedure, way_back

    cutover = [step.id for step in procedure() if step.phase is Phase.CUTOVER]
    return rehearsed_way_back(history, resume, cutover, (step.id for step in way_back()))


def _command_to_go_on(args: argparse.Namespace, settings: Settings, journal: str) -> str:
    """The command that continues the run in `journal`, as this one was started
    (a rehearsal's needs its sandbox; headless stays headless)."""
    from runbook.standing import resume_command

    headless = is_headless(args)  # --yes is headless too
    if args.command == "rehearse" and getattr(args, "sandbox", None) is not None:
        from runbook.standing import rehearse_command

        return rehearse_command(args.sandbox, journal, headless=headless)
    # (A rehearsal without --sandbox has a fresh one: no cutover there to go on with.)
    return resume_command(settings.source, journal, headless=headless)


def _command_to_go_back(args: argparse.Namespace, settings: Settings, journal: str) -> str | None:
    """The command that takes the run in `journal` back to the old stream
    manager, as this one was started: a rehearsal's from the cutover step it
    got to (None if its journal cannot be read: going on is then the only
    way said)."""
    from runbook.journal import JournalError
    from runbook.journal_replay import replay
    from runbook.standing import rollback_command

    if args.command == "rehearse":
        try:
            history = replay(Path(journal))
        except (OSError, JournalError):
            return None
        back = practised_way_back(history, _command_to_go_on(args, settings, journal))
        return back.command if back is not None else None
    return rollback_command(settings.source, Path(journal), headless=is_headless(args))


def _not_this_configs(earlier: Replay, settings: Settings) -> str | None:
    """Why the run in a journal is not one this config may go on with; None
    when it may (operator trial: a rehearsal's journal, resumed with a
    production config of the same file name, went on against production)."""
    if earlier.rehearsal is not None and earlier.rehearsal != settings.rehearsal:
        return ("that run was a rehearsal; go on with it with `runbook rehearse --resume` "
                "in its sandbox" if earlier.rehearsal else
                "that run went against a real host; go on with it with `runbook run --resume` "
                "and that host's config")
    if settings.rehearsal:
        if earlier.config not in (None, settings.source):
            return (f"that run used {earlier.config}, not {settings.source}; resume it with "
                    "its own config")
    elif earlier.host not in (None, settings.host.target):
        return (f"that run went against {earlier.host}, and this config aims at "
                f"{settings.host.target}; resume it with that host's config")
    return None


def claim_removal(settings: Settings) -> str:
    """The command that removes the host's claim of this config's install
    by hand (runbook.claim): with sudo or without, as host.sudo says."""
    from runbook.claim import Place

    return Place.of(settings).removal
