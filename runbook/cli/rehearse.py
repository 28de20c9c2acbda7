"""`runbook rehearse`: the whole upgrade against a fake stream manager host of
this machine's, started after the TUI's first paint."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import shlex
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.cli import lifecycle
from runbook.cli.refusals import (
    drill_step,
    refuse_a_journal_in_use,
)
from runbook.cli.terminal import is_headless, refuse_the_screen_without_a_terminal
from runbook.cli.wiring import rehearsal_settings
from runbook.rehearsal import OPERATOR_DIRNAME

if TYPE_CHECKING:
    import asyncio

    from runbook.cli.lifecycle import Prepared
    from runbook.config import Settings
    from runbook.journal_replay import Replay
    from runbook.opening import Opening
    from runbook.rehearsal.faults import FaultSwitch, Requested
    from runbook.rehearsal.host import RehearsalHost
    from runbook.session import Session
    from runbook.standing import WayBack
    from runbook.stopping import Stopper


async def rehearse(args: argparse.Namespace, stopper: Stopper) -> int:
    # Only what an option asks for is imported here: the TUI's first paint
    # waits for it, and the host and faults load after that paint (issue 12).
    from runbook.config import CommandRefused, ConfigError

    asked: list[Requested] = []
    if args.fault:  # refused also beside --list-faults, which would seem to take it
        from runbook.rehearsal import faults
        from runbook.rehearsal.host import RehearsalHost

        try:
            # The host class says whether it can bring a fault about.
            asked = faults.parse(args.fault, RehearsalHost)
        except faults.FaultError as exc:
            raise CommandRefused("rehearse", str(exc)) from None
    if args.list_faults:
        from runbook.rehearsal import faults

        print("\n".join(faults.listing()))
        return 0
    if args.list_scenarios or args.scenario is not None:
        from runbook.rehearsal import scenarios

        if args.list_scenarios:
            for name, known in scenarios.SCENARIOS.items():
                mark = " (default)" if name == scenarios.DEFAULT else ""
                print(f"{name}{mark}: {known.what}")
            return 0
        if args.scenario not in scenarios.SCENARIOS:
            raise CommandRefused("rehearse", f"--scenario {args.scenario} is not a rehearsal "
                                 f"scenario; choose one of {', '.join(scenarios.SCENARIOS)}")
    if args.resume and args.sandbox is None:
        raise CommandRefused("rehearse", "--resume needs the --sandbox of the run to continue")
    if args.host_only:
        _refuse_a_run_beside_host_only(args)
    # Refused before a sandbox is made and a host started for nothing (operator
    # trial); the journal itself is read once the host is up.
    if args.journal is not None and args.journal.is_dir():
        raise ConfigError(str(args.journal), "is a folder; --journal names a journal file")
    if args.journal is not None and args.resume and not args.journal.is_file():
        raise ConfigError(str(args.journal), "no such journal to resume")
    if args.journal is not None and not args.resume:
        # A throwaway rehearsal's too (review). Without --sandbox, --resume
        # alone is refused: the run goes on only in the sandbox it ran in,
        # and a throwaway one's is gone (review K2, T).
        refuse_a_journal_in_use(args.journal, continues="--resume continues it" if args.sandbox
                                else "runbook rehearse --resume --sandbox DIR continues it in "
                                "the sandbox it ran in, if that was kept (a rehearsal without "
                                "--sandbox or --keep leaves none)")
    if args.sandbox is not None and any(c.isspace() for c in str(Path(args.sandbox).absolute())):
        # The fake host's unit names its paths unquoted, as systemd reads them:
        # its service could never start there (review).
        raise ConfigError(str(args.sandbox), "--sandbox: a path with a space (or another "
                          "blank) cannot hold the rehearsal host, whose service unit names "
                          "its paths unquoted; choose a folder without one")
    if args.sandbox is not None:
        _refuse_a_folder_of_ones_own(Path(args.sandbox))
    if args.dist_size is not None:
        _refuse_a_distribution_the_sandbox_cannot_hold(args.dist_size, args.sandbox)
    if args.resume and args.journal is None and \
            not any((Path(args.sandbox) / OPERATOR_DIRNAME / "runs").glob("*.jsonl")):
        raise ConfigError(str(args.sandbox), "no rehearsal was run in this sandbox, so there "
                          "is none to resume; leave out --resume to begin one")
    if args.host_only:
        return await _the_host_alone(args)
    _refuse_faults_the_drill_never_reaches(drill_step(args), asked)
    refuse_the_screen_without_a_terminal(args)
    rehearsal = Rehearsal(args, asked)
    from runbook.claim import ClaimRefused

    refused: ClaimRefused | None = None
    try:
        if is_headless(args):
            outcome = await lifecycle.go(args, *await rehearsal.start(stopper, print))
        else:
            from screens.tui import run_tui

            outcome = await run_tui(opening=rehearsal.opening(stopper),
                                    waiting="Starting the rehearsal host…",
                                    going_back=rehearsal.going_back)
    except ClaimRefused as exc:
        refused = exc  # said with the exit lines, first
        raise
    finally:
        await rehearsal.stop()
        if rehearsal.opened is not None:
            rehearsal.opened.drop_unwritten()
        host = rehearsal.host
        again = None
        if host is not None and rehearsal.lasting:
            again = f"runbook rehearse --resume --sandbox {shlex.quote(str(host.sandbox))}"
            if args.journal is not None:  # not in the sandbox's runs, where --resume looks
                # The run's own (a new run chosen in the resume dialog writes one
                # beside it), or the earlier one's if it never wrote a line.
                journal = lifecycle.last_journal(stopper, rehearsal.earlier) or args.journal
                again += f" --journal {shlex.quote(os.path.abspath(journal))}"
            if is_headless(args):  # as it was started (--yes is headless too)
                again += " --headless"
        lifecycle.where_it_stands(stopper, None, resume=again, earlier=rehearsal.earlier,
                                  own_host=True, refused=refused)
    from runbook.model import Outcome

    switch = rehearsal.switch
    if switch is not None:
        missed = [str(a) for a in switch.requested if a not in switch.fired]
        if missed:
            print(f"faults that never came up (their step did not run): {', '.join(missed)}"
                  + (f"; --resume stages {'them' if len(missed) > 1 else 'it'} again"
                     if again is not None else ""))
    if outcome in (Outcome.FAILED, Outcome.STOPPED) and again is None and stopper.sessions:
        # The state line above was the rehearsal host's as it stopped; that
        # host is gone now, and says so, lest it read as something to go on from.
        print("runbook: that was the rehearsal host as it stopped; it is removed now with "
              "its sandbox. Rehearse with --sandbox DIR to practise going on from a stop")
    if rehearsal.lasting and host is not None:
        print(f"sandbox: {host.sandbox}")
    return outcome.exit_code


def _refuse_a_run_beside_host_only(args: argparse.Namespace) -> None:
    """--host-only runs no step: an option for a run is refused beside it,
    and it needs a --sandbox, whose state.json the config is filled from."""
    from runbook.config import CommandRefused

    if args.sandbox is None:
        raise CommandRefused("rehearse", "--host-only needs --sandbox DIR: the config for "
                             "runbook run is filled from DIR/.rehearsal/state.json")
    given = [name for name, on in (("--resume", args.resume), ("--journal", args.journal),
                                   ("--fault", args.fault), ("--yes", args.yes),
                                   ("--new-run", getattr(args, "new_run", False)),
                                   ("--rollback-after", getattr(args, "rollback_after", None)))
             if on]
    if given:
        them = ("it", "has") if len(given) == 1 else ("them", "have")
        raise CommandRefused("rehearse", f"--host-only runs no step, so {', '.join(given)} "
                             f"{them[1]} nothing to do; leave {them[0]} out")


async def _the_host_alone(args: argparse.Namespace) -> int:
    """`rehearse --host-only`: the sandbox's host up until ctrl+c (or a
    SIGTERM), running no step and claiming nothing on it, so that a `runbook
    run` against it, as the README has it, is not refused by the rehearsal's
    own claim (trial 60, F6)."""
    from runbook.lost_writes import said_once
    from runbook.rehearsal.host import RehearsalHost

    host = RehearsalHost(args.sandbox, dist_size=args.dist_size, scenario=args.scenario)
    # A client killed while the host still sent to it (trial 61, F7): said
    # once, in runbook's words. This process holds no client of its own, so
    # the line can only be the host's.
    with said_once(lambda words: print(words, file=sys.stderr, flush=True)):
        return await _serve_alone(host)


async def _serve_alone(host: RehearsalHost) -> int:
    import asyncio
    import signal

    # ctrl+c and SIGTERM stop the host, and say so, however this was started:
    # a shell that starts it in the background hands it ctrl+c ignored (and
    # Python keeps it so), and a bare SIGTERM would end it without its stop.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await host.start()
        print(f"rehearsal host: {host.user}@127.0.0.1:{host.ssh_port}, sandbox {host.sandbox}",
              flush=True)
        print(f"its ports, user and new database: {host.state_dir / 'state.json'}. It runs no "
              "step and claims nothing: point runbook run, plan or rollback at it (README: "
              "runbook run against a rehearsal host). ctrl+c stops it", flush=True)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await host.stop()
    print("runbook: the rehearsal host is stopped", file=sys.stderr)
    return 0


class Rehearsal:
    """One `runbook rehearse`: its host, the settings that reach it, its faults.

    The TUI paints before the host starts (issue 12): it asks for the run
    through `opening`, after its first paint. The start runs in a task of this
    command's own, so an app that ends meanwhile only stops waiting for it;
    `stop` lets the start finish and then stops the host."""

    def __init__(self, args: argparse.Namespace, asked: list[Requested]) -> None:
        self.args = args
        self.asked = asked
        self.host: RehearsalHost | None = None
        self.switch: FaultSwitch | None = None
        self.starting: asyncio.Task[Opening] | None = None
        # The run --resume names, once the host is up to find it on.
        self.earlier: Replay | None = None
        # What the start made ready: the journals it claims are dropped on
        # the way out if no run wrote them.
        self.opened: Opening | None = None
        # A sandbox that outlives the run keeps its journals (resume works on
        # it); a throwaway one must not take them along when it is removed.
        self.lasting = bool(args.sandbox is not None or args.keep)

    async def start(self, stopper: Stopper, say: Callable[[str], None]) -> Prepared:
        import asyncio

        from runbook.statedir import rehearsals_dir

        # SSH and the fake service take a while to import: in a thread, so
        # that the app that waits meanwhile goes on answering its keys.
        module = await asyncio.to_thread(importlib.import_module, "runbook.rehearsal.host")
        args = self.args
        host = self.host = module.RehearsalHost(args.sandbox, keep=args.keep,
                                                dist_size=args.dist_size,
                                                scenario=args.scenario)
        await host.start()
        settings = rehearsal_settings(host)
        if not self.lasting:
            from dataclasses import replace

            settings = replace(settings, rehearsal_throwaway=True)
        operator = host.sandbox / OPERATOR_DIRNAME
        journals = operator / "runs" if self.lasting else rehearsals_dir()
        say(f"rehearsal host: {host.user}@127.0.0.1:{host.ssh_port}, sandbox {host.sandbox}")
        if host.adopted_service:
            say(f"adopted the service left running by an earlier rehearsal "
                f"(pid {host.adopted_service})")
        # Its times are not production's unless it goes at the real pace
        # (operator trial: nothing said which pace a rehearsal went at).
        from runbook.report_format import pace_words

        pace = host.pace
        say(f"rehearsal pace {pace_words(pace)}; RUNBOOK_REHEARSAL_PACE sets it"
            if pace is not None else
            "rehearsal pace unknown: the adopted service goes at another pace, or its pace "
            "cannot be read, so this run's times compare with no other run's")
        if host.boot_error:
            say(boot_said(host.boot_error, settings, operator))
        if host.kept_down:
            say("rehearsal host: its Red5 Pro service was down when the last rehearsal on "
                "this sandbox ended mid-cutover, and stays down, as on a real host that "
                "nobody rebooted")
        if self.asked:
            from runbook.rehearsal import faults

            self.switch = faults.FaultSwitch(host, self.asked, settings)
            await self.switch.at_start()
            say(f"rehearsing faults: {', '.join(map(str, self.asked))}")
            from dataclasses import replace

            settings = replace(settings, rehearsal_faults=tuple(map(str, self.asked)))
        from runbook.config import ConfigError
        from runbook.hoststate import HostStateError
        from runbook.journal import JournalError

        try:
            tap = self.switch.tapped if self.switch is not None else self._tap_carried
            prepared = lifecycle.prepare_run(args, settings, token=host.api_token, folder=journals,
                                             state_dir=operator, offer_resume=self.lasting,
                                             isolated=True, stopper=stopper,
                                             host_label=f"sandbox {host.sandbox}", tap=tap, say=say,
                                             go_on=self._go_on(host))
        except (ConfigError, JournalError, HostStateError):
            # Refused: the service stays as it was found (operator trial: one
            # left running mid-cutover was adopted, then stopped on the way out).
            # Its database servers were started afresh with the host, as for
            # any resume, and stop with it.
            host.leave_service_running = host.adopted_service is not None
            raise
        self.earlier = prepared.continues
        self.opened = prepared.opening
        return prepared

    def _go_on(self, host: RehearsalHost) -> Callable[[Path], str | None]:
        """The command that goes on with this rehearsal's run in a journal,
        for a journal that fails to name; None for a throwaway sandbox's,
        removed as the rehearsal ends (trial 60, F9)."""
        from runbook.standing import rehearse_command

        if not self.lasting:
            return lambda _journal: None
        headless = is_headless(self.args)
        return lambda journal: rehearse_command(host.sandbox, journal, headless=headless)

    def _tap_carried(self, session: Session[Any]) -> Session[Any]:
        """A resume given no --fault: the session stages the faults of the run
        it continues that never came up (lifecycle.prepare_run); they are
        armed as their steps come up, as --fault's are. Called for each
        session opened: the TUI opens the run it offers before the operator
        answers, and then the one chosen."""
        from runbook.rehearsal import faults
        from runbook.rehearsal.host import RehearsalHost

        carried = session.settings.rehearsal_faults
        if not carried or self.host is None:
            # A new run chosen at the TUI's resume dialog stages none: the
            # switch built for the run offered there is not this run's, and
            # its faults must not be said on the way out (review 56c F4).
            self.switch, self.asked = None, []
            return session
        if self.switch is None:
            try:
                self.asked = faults.parse(carried, RehearsalHost)
            except faults.FaultError:  # a fault this version no longer has
                return session
            self.switch = faults.FaultSwitch(self.host, self.asked, session.settings)
        return self.switch.tapped(session)

    def going_back(self, journal: Path) -> WayBack | None:
        """The command that takes the run in `journal` back to the old stream
        manager once this rehearsal has ended, as its report names it; None
        when its sandbox goes with it, or the journal cannot be read."""
        from runbook.journal import JournalError
        from runbook.journal_replay import replay
        from runbook.standing import WayBack, rehearse_command

        if not self.lasting or self.host is None:
            return None
        try:
            history = replay(journal)
        except (OSError, JournalError):
            return None
        resume = rehearse_command(self.host.sandbox, journal)
        # A way back begun goes on by itself once resumed.
        return lifecycle.practised_way_back(history, resume) or WayBack(resume)

    def opening(self, stopper: Stopper) -> Callable[[], Awaitable[Opening]]:
        """What the TUI awaits after its first paint; what the start says meanwhile
        goes with the run, for the app to show and to print as it ends."""
        import asyncio
        from dataclasses import replace

        async def begin() -> Opening:
            notes: list[str] = []
            opening, _, _ = await self.start(stopper, notes.append)
            return replace(opening, notes=tuple(notes))

        def started() -> Awaitable[Opening]:
            if self.starting is None:
                self.starting = asyncio.ensure_future(begin())
            return asyncio.shield(self.starting)

        return started

    async def stop(self) -> None:
        import asyncio

        if self.starting is not None:
            # Let a start the app stopped waiting for finish (a second or so),
            # not cut it short: a database server half-way up ignores SIGTERM
            # and would hold the way out for its 30 s grace.
            await asyncio.gather(self.starting, return_exceptions=True)
        if self.switch is not None:
            await self.switch.lift_all()
        if self.host is not None:
            if self.host.started:  # a host refused at its start has no sandbox
                self._keep_snapshots(self.host.sandbox / OPERATOR_DIRNAME)
            await self.host.stop()

    def _keep_snapshots(self, operator: Path) -> None:
        """A throwaway sandbox goes now, and the nodegroup snapshot its run took
        with it: kept with the rehearsals' journals in the state dir, where the
        report of its journal looks for it."""
        from runbook.hoststate import HostStateError, keep_snapshots
        from runbook.statedir import rehearsals_dir

        if self.lasting:
            return
        try:
            keep_snapshots(operator, rehearsals_dir())
        except HostStateError as exc:
            print(f"runbook: the rehearsal's nodegroup snapshot was not kept ({exc}); the "
                  "report of its journal will not show the fleet before the cutover",
                  file=sys.stderr)


def boot_said(error: str, settings: Settings, state_dir: Path) -> str:
    """The rehearsal host starts its enabled service as a booted machine does;
    when that fails, what it means: mid-cutover it is the downtime going on
    (operator trial: the bare systemctl line read as a new fault)."""
    from runbook.hoststate import HostStateError
    from runbook.session import host_state

    under_way = None
    with contextlib.suppress(HostStateError, OSError, ValueError):
        under_way = host_state(settings, state_dir).cutover()
    if under_way is not None:
        # Not "as expected": the failure may be one of its own (review).
        return (f"rehearsal host: its Red5 Pro service did not start at boot ({error}); "
                "a cutover is under way, which may be why")
    return f"rehearsal host: its Red5 Pro service did not start at boot ({error})"


def _refuse_a_distribution_the_sandbox_cannot_hold(size: int, sandbox: Path | None) -> None:
    """The fake distribution is on the disk three times over (made, uploaded,
    unpacked): one the disk cannot hold fills it before the upload step ends."""
    import shutil
    import tempfile

    from runbook.config import CommandRefused

    if size < 0:
        raise CommandRefused("rehearse", f"--dist-size {size} is negative; give a size in bytes")
    # The nearest folder there is: a --sandbox that does not exist yet is made.
    where = Path(os.path.realpath(sandbox)) if sandbox is not None else Path(tempfile.gettempdir())
    while not where.exists():
        where = where.parent
    free = shutil.disk_usage(where).free
    if 3 * size > free:
        raise CommandRefused("rehearse", f"--dist-size {size} needs about "
                             f"{3 * size / 1e9:.1f} GB free in {where} (made, uploaded, "
                             f"unpacked), and it has {free / 1e9:.1f} GB; give a smaller size")


def _refuse_a_folder_of_ones_own(sandbox: Path) -> None:
    """A sandbox is a new folder or an earlier rehearsal's: one holding other
    files (a home, a project) was filled with a fake host's usr/, lib/, home/
    and the rest (bad-input trial)."""
    from runbook.config import ConfigError
    from runbook.rehearsal import STATE_DIRNAME

    try:
        held = sandbox.is_dir() and not (sandbox / STATE_DIRNAME).is_dir() \
            and any(sandbox.iterdir())
    except OSError:
        return  # the host says what is wrong with it, as before
    if held:
        raise ConfigError(str(sandbox), "holds files and no rehearsal; give --sandbox a new "
                          "folder or an earlier rehearsal's")


def _refuse_faults_the_drill_never_reaches(after: str | None, asked: list[Requested]) -> None:
    """With --rollback-after, the upgrade's steps after it never run: a fault
    timed to one would never come up, which the rehearsal could say only at
    its end (operator trial). Refused before a host is made for it."""
    if after is None:
        return
    from runbook.config import CommandRefused
    from steps import procedure

    upgrade = [step.id for step in procedure()]
    beyond = upgrade[upgrade.index(after) + 1:]
    never = [str(request) for request in asked if request.step in beyond]
    if never:
        step = "that step runs" if len(never) == 1 else "those steps run"
        raise CommandRefused("rehearse", f"--fault {', '.join(never)} would never come up: "
                             f"--rollback-after {after} goes back before {step}; time a "
                             "fault to a step up to it, or to the way back's")
