"""`runbook` on the command line: plan, run, rehearse, diff.

This is the one module that wires the engine (runbook), the procedure (steps)
and a front end together. Exit codes: 0 every step done, 1 a step failed,
2 bad input or configuration (nothing on the host was changed), 3 stopped by
the operator.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import shlex
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, TextIO

from runbook.collector import held_for_start_up, start_up_over
from runbook.rehearsal import OPERATOR_DIRNAME
from runbook.visible import visible

# Only what parsing the command line needs is imported here: `--help`, `diff`
# and the first paint of the TUI must not wait for SSH, HTTP or Textual they
# have not used yet (issue 12; tests/test_cli_imports.py keeps it so). Each
# command imports what it uses when it runs.
if TYPE_CHECKING:
    import asyncio

    from runbook.config import Settings
    from runbook.hoststate import HostState
    from runbook.journal import Replay
    from runbook.model import Outcome
    from runbook.opening import Opening
    from runbook.rehearsal.faults import FaultSwitch, Requested
    from runbook.rehearsal.host import RehearsalHost
    from runbook.session import Session
    from runbook.stopping import Stopper

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # No option is taken from its first letters: `--ye` for `--yes` would
        # make a typo answer yes to every step.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        # One line, not a usage dump: what is wrong and where to look.
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="runbook", description=(
        "Upgrade a Red5 Pro Stream Manager onto a new database, one confirmed step at a time."))
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    plan = commands.add_parser("plan", help="print every step's commands and API calls; "
                                            "connects to nothing")
    plan.add_argument("config", nargs="?", type=Path,
                      help="config file (default: the rehearsal config)")
    plan.add_argument("--json", action="store_true", help="machine-readable plan")

    run = commands.add_parser("run", help="run the upgrade against the host in CONFIG")
    run.add_argument("config", type=Path)
    _run_options(run)

    rehearse = commands.add_parser("rehearse", help="run the whole upgrade against a local "
                                                    "fake stream manager host")
    _run_options(rehearse)
    rehearse.add_argument("--sandbox", type=Path,
                          help="keep the fake host's state in DIR (reused if it exists)")
    rehearse.add_argument("--keep", action="store_true",
                          help="keep the sandbox afterwards and print its path last")
    rehearse.add_argument("--dist-size", type=int, metavar="BYTES",
                          help="make the fake distribution about this big (for benchmarks)")
    rehearse.add_argument("--scenario", metavar="NAME",
                          help="which real upgrade to rehearse (default: 6.2-to-11.1; "
                               "see --list-scenarios)")
    rehearse.add_argument("--list-scenarios", action="store_true",
                          help="list the upgrades a rehearsal can rehearse, and exit")
    rehearse.add_argument("--fault", action="append", default=[], metavar="NAME[@STEP]",
                          help="make the fake host fail on purpose as STEP runs (repeatable; "
                               "see --list-faults)")
    rehearse.add_argument("--list-faults", action="store_true",
                          help="list the failures a rehearsal can bring about, and exit")

    rollback = commands.add_parser("rollback", help="back to the old stream manager on the old "
                                                    "database, from any point of the cutover")
    rollback.add_argument("config", type=Path)
    rollback.add_argument("--headless", action="store_true",
                          help="plain prompts instead of the TUI")
    rollback.add_argument("--yes", action="store_true", help="answer 'run' to every step")
    rollback.add_argument("--journal", type=Path,
                          help="the cutover's journal (default: the one the host's state names)")

    diff = commands.add_parser("diff", help="review old vs new red5-web.properties key by key")
    diff.add_argument("old", type=Path)
    diff.add_argument("new", type=Path)
    diff.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="decide a key's value (repeatable)")
    diff.add_argument("--decisions", type=Path, help="TOML decisions file to apply and update")
    diff.add_argument("--out", type=Path, help="write the merged file here")
    diff.add_argument("--check", action="store_true", help="plain review; exit 1 if undecided")
    diff.add_argument("--json", action="store_true", help="JSON review; exit 1 if undecided")

    report = commands.add_parser("report", help="the run in a journal as Markdown (or HTML) "
                                                "for the change ticket")
    report.add_argument("journal", nargs="?", type=Path,
                        help="journal file (default: the newest in the user's state dir)")
    report.add_argument("--html", action="store_true", help="one self-contained HTML file")
    report.add_argument("--out", type=Path, help="write the report here, not to stdout")

    log = commands.add_parser("log", help="every line the run showed, with its step")
    log.add_argument("journal", nargs="?", type=Path,
                     help="journal file (default: the newest in the user's state dir)")
    log.add_argument("--step", metavar="ID", help="only this step's lines")
    log.add_argument("--grep", metavar="TEXT", help="only lines holding TEXT (any case)")
    return parser


def _run_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--headless", action="store_true", help="plain prompts instead of the TUI")
    sub.add_argument("--yes", action="store_true", help="answer 'run' to every step")
    sub.add_argument("--journal", type=Path, help="journal file (default: the user's state dir)")
    sub.add_argument("--resume", action="store_true",
                     help="continue the newest unfinished run (or the one in --journal)")
    sub.add_argument("--rollback-after", metavar="STEP",
                     help="once STEP is done, take the way back (to rehearse it)")


def main(argv: Sequence[str] | None = None) -> int:
    with held_for_start_up():
        parser = _parser()
        given = list(sys.argv[1:] if argv is None else argv)
        if given and given[0].startswith("-") and given[0] not in ("-h", "--help"):
            # argparse says a command is missing, or that the option is not
            # known, never where it went wrong: each option is the command's.
            parser.error(f"{visible(given[0])} comes before the command; options follow it, "
                         f"as in runbook rehearse --yes")
        args = parser.parse_args(argv)
        stdout = sys.stdout
        try:
            return _command(args)
        finally:
            sys.stdout = stdout


def _command(args: argparse.Namespace) -> int:
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        from runbook.model import Outcome

        print("runbook: interrupted; the journal keeps what happened", file=sys.stderr)
        return Outcome.STOPPED.exit_code
    except BrokenPipeError:
        return _reader_gone()  # `runbook plan | head`
    except Exception as exc:
        code = _refusal(exc)
        if code is None:
            raise
        return code


def _dispatch(args: argparse.Namespace) -> int:
    if not _paints(args):
        start_up_over()  # only a first paint is worth holding the collector for
    if args.command == "report":
        return _report(args)
    if args.command == "log":
        return _log(args)
    if args.command == "diff":
        return _diff(args)
    import asyncio

    from runbook.stopping import Stopper

    if args.command == "plan":
        return asyncio.run(_plan(args))
    stopper = Stopper()
    # A run's work matters more than its lines: a reader that goes away
    # (`| head`) must not stop it half-way.
    sys.stdout = _GoesOn(sys.stdout)
    if args.command == "run":
        return asyncio.run(stopper.run(_run(args, stopper)))
    if args.command == "rehearse":
        return asyncio.run(stopper.run(_rehearse(args, stopper)))
    return asyncio.run(stopper.run(_rollback(args, stopper)))


def _refusal(exc: Exception) -> int | None:
    """The exit code of a failure that ends a command with one line, said
    here; None for anything else (a bug, shown whole)."""
    from runbook.config import ConfigError, SecretUnavailable
    from runbook.hoststate import HostStateError
    from runbook.journal import JournalError, JournalWriteError
    from runbook.model import Outcome
    from runbook.rehearsal import RehearsalError

    if isinstance(exc, JournalWriteError):
        # Mid-run: the host may have been changed, so not bad input; a run
        # that cannot keep its record has failed.
        print(f"runbook: {visible(str(exc))}", file=sys.stderr)
        return Outcome.FAILED.exit_code
    from runbook.properties.decisions import DecisionsError

    if isinstance(exc, ConfigError | SecretUnavailable | JournalError | RehearsalError |
                  HostStateError | DecisionsError):
        # A rehearsal host that could not be set up (its sandbox is busy,
        # say) ran nothing either: bad input, like a config error. So does a
        # damaged record of the host's, read before anything runs.
        print(f"runbook: {visible(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(exc, PermissionError) and exc.filename:
        # A file of this machine's that runbook may not read or write: the
        # engine keeps the host's own in its steps, so this comes before any
        # run (operator trial: an artifact in a folder of another user's).
        print(f"runbook: {visible(str(exc.filename))}: permission denied; run as a user who "
              "can reach it, or move it where you can", file=sys.stderr)
        return EXIT_BAD_INPUT
    return None


class _GoesOn:
    """stdout that, once its reader has gone, sends what follows nowhere."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._reader_left()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._reader_left()

    def _reader_left(self) -> None:
        from runbook.streams import silence

        silence(self._stream.fileno())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


# --- plan ------------------------------------------------------------------------


def _sample(name: str) -> str:
    from importlib import resources

    return (resources.files("runbook.sample_configs") / name).read_text("utf-8")


def rehearsal_config_text() -> str:
    return _sample("rehearsal.toml")


def _plan_settings(path: Path | None) -> Settings:
    from runbook import config as config_mod

    if path is not None:
        return config_mod.load(path)
    # The rehearsal config outside a rehearsal: show where things would go.
    values = {"sandbox": "/tmp/runbook-rehearsal", "ssh_port": "2222", "user": "red5admin",
              "api_base_url": "http://127.0.0.1:5080", "new_db_host": "127.0.0.3",
              "new_db_port": "3306"}
    return config_mod.loads(rehearsal_config_text(), source="rehearsal.toml",
                            substitutions=rehearsal_values(values))


def rehearsal_values(values: dict[str, str]) -> dict[str, str]:
    """The rehearsal config's fields for a sandbox: where its files go, then
    `values` (the host's own: its sandbox, port, API address...) over them."""
    from importlib import resources

    from runbook.rehearsal import scenarios

    default = scenarios.scenario(scenarios.DEFAULT)
    sandbox = values["sandbox"]
    defaults = {
        "known_hosts": f"{sandbox}/.rehearsal/known_hosts",
        "client_key": f"{sandbox}/.rehearsal/id_ed25519",
        "install_dir": f"{sandbox}/usr/local",
        "upload_dir": f"{sandbox}/tmp/runbook-upload",
        "unit_file": f"{sandbox}/lib/systemd/system/red5pro.service",
        "distribution": f"{sandbox}/{OPERATOR_DIRNAME}/{default.new.zip_name}",
        "cloud_controller": f"{sandbox}/{OPERATOR_DIRNAME}/{default.controller_jar}",
        "decisions": str(resources.files("runbook.sample_configs") / "rehearsal-decisions.toml"),
    }
    return {**defaults, **values}


def session(
    settings: Settings,
    *,
    token: str,
    journal_path: Path,
    state_dir: Path,
    isolated: bool = False,
    resume: Replay | None = None,
    rollback_after: str | None = None,
    only_back: bool = False,
) -> Session[Any]:
    """A run of the documented procedure against the host in `settings`: the
    one place the engine and the procedure meet. `only_back`: the way back
    alone (runbook rollback)."""
    from runbook.session import Session
    from steps import procedure, way_back
    from steps.facts import Red5Facts

    return Session(settings, [] if only_back else procedure(), Red5Facts(), token=token,
                   journal_path=journal_path, state_dir=state_dir, isolated=isolated,
                   resume=resume, rollback=way_back(), rollback_after=rollback_after)


def _refuse_a_config_this_machine_cannot_use(settings: Settings) -> None:
    """What this machine alone can refuse of a production config, refused
    before a token is typed (review): `run` and `rollback` alike."""
    _refuse_what_this_procedure_cannot_do(settings)
    _refuse_a_rehearsals_config(settings)
    _refuse_ssh_files_it_cannot_use(settings)


def _refuse_what_this_procedure_cannot_do(settings: Settings) -> None:
    """Checked on this machine before anything connects: a distribution this
    procedure cannot install is bad input, and nothing on the host changes."""
    from runbook.config import ConfigError
    from steps import red5

    if settings.distribution.is_file():
        refused = red5.not_for_this_procedure(settings.distribution)
        if refused:
            raise ConfigError(settings.source, refused, key="artifacts.distribution")


def _refuse_a_rehearsals_config(settings: Settings) -> None:
    """`run` and `rollback` go against a real host; a config marked as a
    rehearsal's would be journalled and reported as one, with no way on
    named (operator trial). `runbook rehearse` fills its own."""
    from runbook.config import ConfigError

    if settings.rehearsal:
        raise ConfigError(settings.source, "is true: this config is a rehearsal's, which "
                          "`runbook rehearse` makes and runs itself; for a real host, remove "
                          "the [rehearsal] table", key="rehearsal.enabled")


def _refuse_ssh_files_it_cannot_use(settings: Settings) -> None:
    """The SSH files the config names, looked at before anything connects:
    each failed preflight (exit 1) in the SSH library's own words, naming no
    setting (operator trial). Not for `plan`, which may be made on a machine
    that does not hold the key."""
    from runbook.config import ConfigError

    host = settings.host
    for key, path in (("host.identity", host.identity), ("host.known_hosts", host.known_hosts),
                      ("host.ssh_config", host.ssh_config)):
        if path is None:
            continue
        if not path.is_file():
            raise ConfigError(settings.source, f"{path} is not there (or is not a file); "
                              "check the path", key=key)
        try:
            path.open("rb").close()
        except OSError as exc:
            # Bad-input trial: an unreadable known_hosts failed the run once
            # it had begun (exit 1, a journal written).
            raise ConfigError(settings.source, f"{path} cannot be read "
                              f"({exc.strerror or exc})", key=key) from None
    if host.identity is None:
        return
    # Imported only for a key of the config's: the run imports it to connect anyway.
    import asyncssh

    try:
        asyncssh.read_private_key(host.identity)
    except asyncssh.KeyImportError as exc:
        why = ("is protected by a passphrase, which runbook does not ask for: load it into "
               "ssh-agent (ssh-add) and leave host.identity out"
               if "passphrase" in str(exc).lower() else
               "is not a private key runbook can read (OpenSSH, PEM or PKCS#8); give the key "
               "you log in to the host with")
        raise ConfigError(settings.source, f"{host.identity} {why}", key="host.identity") \
            from None
    except OSError as exc:
        raise ConfigError(settings.source, f"{host.identity} cannot be read "
                          f"({exc.strerror or exc})", key="host.identity") from None


async def _plan(args: argparse.Namespace) -> int:
    import json

    from runbook.model import when_and_why
    from runbook.statedir import default_dir

    settings = _plan_settings(args.config)
    _refuse_what_this_procedure_cannot_do(settings)
    _note_what_the_run_would_refuse(settings)
    # Connects to nothing; the host's state folder may say which snapshot
    # cutover would rebuild from.
    shown = session(settings, token="", journal_path=default_dir() / "plan.jsonl",
                    state_dir=default_dir())
    plans = shown.preview()
    listing: list[dict[str, Any]] = [{
        "id": card.id, "title": card.title, "phase": card.phase.value,
        "destructive": card.destructive,
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


# --- run and rehearse ------------------------------------------------------------


def _refuse_a_second_cutover(state: HostState, continuing: Path | None,
                             resume_command: Callable[[str], str],
                             way_back: Callable[[str], str | None]) -> None:
    """A cutover under way on the host belongs to the run that began it: a new
    run would re-export the emptied system and work from the wrong snapshot.
    The refusal names the commands that go on with it (`resume_command`,
    given its journal) and that take the way back (`way_back`; operator
    trial: after a kill -9 it named only going on), and the moment the
    cutover began as the operator's clock shows it."""
    from runbook.config import ConfigError
    from runbook.standing import said_time

    under_way = state.cutover()
    if under_way is None or (continuing is not None and under_way.journalled_in(continuing)):
        return
    back = way_back(under_way.journal)
    raise ConfigError(state.target, f"a cutover began here at {said_time(under_way.began)} and "
                      f"has not ended; go on with it: {resume_command(under_way.journal)}"
                      + (f"; or go back to the old stream manager: {back}" if back else ""))


def _way_back_command(args: argparse.Namespace, settings: Settings, journal: str) -> str | None:
    """The command that takes the run in `journal` back to the old stream
    manager, as this one was started: a rehearsal's from the cutover step it
    got to (None if its journal cannot be read: going on is then the only
    way said)."""
    from runbook.journal import JournalError, replay
    from runbook.standing import rollback_command

    if args.command == "rehearse":
        try:
            history = replay(Path(journal))
        except (OSError, JournalError):
            return None
        return _practised_way_back(history, _resume_command(args, settings, journal))
    return rollback_command(settings.source, Path(journal), headless=_headless(args))


def _resume_command(args: argparse.Namespace, settings: Settings, journal: str) -> str:
    """The command that continues the run in `journal`, as this one was started
    (a rehearsal's needs its sandbox; headless stays headless)."""
    from runbook.standing import resume_command

    headless = _headless(args)  # --yes is headless too
    if args.command == "rehearse" and getattr(args, "sandbox", None) is not None:
        # Absolute, as the operator spells it: to work from any folder.
        return (f"runbook rehearse --sandbox {shlex.quote(os.path.abspath(args.sandbox))} "
                f"--resume --journal {shlex.quote(os.path.abspath(journal))}"
                + (" --headless" if headless else ""))
    # (A rehearsal without --sandbox has a fresh one: no cutover there to go on with.)
    return resume_command(settings.source, journal, headless=headless)


def _fresh_journal(settings: Settings, folder: Path) -> Path:
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


def _resume_from(
    args: argparse.Namespace, settings: Settings, folder: Path, say: Callable[[str], None] = print
) -> Replay | None:
    """The unfinished run --resume continues; None for a new run."""
    from runbook.config import ConfigError
    from runbook.journal import IN_USE, in_use, replay, unfinished

    if args.resume:
        if args.journal is not None and not args.journal.is_file():
            raise ConfigError(str(args.journal), "no such journal to resume")
        earlier = replay(args.journal) if args.journal is not None else \
            unfinished(folder, **_runs_of(settings))
        if earlier is None or earlier.path is None:
            raise ConfigError(str(args.journal or folder), "no unfinished run to resume here")
        if earlier.empty:
            raise ConfigError(str(earlier.path), "holds no records; not a runbook journal, so "
                              "there is no run in it to resume")
        if earlier.outcome in ("done", "rolled-back"):
            ended = "finished" if earlier.outcome == "done" else "rolled back"
            raise ConfigError(str(earlier.path), f"that run {ended}; there is nothing to resume")
        why = _not_this_configs(earlier, settings)
        if why is not None:
            raise ConfigError(str(earlier.path), why)
        if in_use(earlier.path):
            # Before anything is said of going on: the commands that go on
            # would name the very run refused here (trial).
            raise ConfigError(str(earlier.path), IN_USE)
        if not settings.rehearsal and earlier.config is not None and \
                Path(earlier.config).resolve() != Path(settings.source).resolve():
            say(f"note: that run used {earlier.config}; it goes on with {settings.source}, "
                "which aims at the same host")
        say(f"resuming the run in {earlier.path}")
        return earlier
    # (A --journal that holds a run was refused already: _run and _rehearse
    # refuse it before a token is asked for or a host started.)
    _refuse_a_run_beside(folder, settings)
    earlier = unfinished(folder, **_runs_of(settings)) if args.journal is None else None
    if earlier is not None:
        # Also in the TUI, which offers it in a dialog: an operator who leaves
        # there reads it on the way out (review).
        say(f"note: an unfinished run is in {earlier.path}; --resume continues it")
    return None


def _refuse_a_run_beside(folder: Path, settings: Settings) -> None:
    """A new run beside another runbook writing a journal for the same host
    in `folder` would act on the host too (safety review)."""
    from runbook.config import ConfigError
    from runbook.journal import RUNNING_BESIDE, running_beside

    beside = running_beside(folder, **_runs_of(settings))
    if beside is not None:
        raise ConfigError(str(beside), RUNNING_BESIDE)


def _runs_of(settings: Settings) -> dict[str, str]:
    """How this config's runs are told from others' in a journal folder: a
    host's by the host, whatever path its config was given by (operator
    trial: the command a run printed to go on, with the config's absolute
    path, was refused for a run started with a relative one); a rehearsal's
    by its sandbox's config, as its port can change from one start to the next.
    (A journal that does not say its host is told by its config.)"""
    return {"config": settings.source} if settings.rehearsal else \
        {"host": settings.host.target, "config": settings.source}


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


def _note_what_the_run_would_refuse(settings: Settings) -> None:
    """The plan may come before `runbook diff` writes the decisions file, so a
    file not there yet is no reason to refuse it; it is said, on stderr, so
    the day-before check does not pass what the window refuses (operator trial)."""
    from runbook.config import ConfigError
    from runbook.properties.decisions import DecisionsError

    try:
        _refuse_decisions_the_run_cannot_use(settings, None)
    except (ConfigError, DecisionsError) as exc:
        print(f"runbook: note: `runbook run` refuses this config as it stands: "
              f"{visible(str(exc))}",
              file=sys.stderr)


def _refuse_decisions_the_run_cannot_use(settings: Settings, earlier: Replay | None) -> None:
    """The properties step reads the decisions file, eight steps in: a path
    that leads nowhere, a file it cannot read, and a secret it names whose
    variable is not set are said before the run begins (operator trials). Not
    for a run going on past that step (review: a mid-cutover resume from
    another machine), nor for `plan`, which may come before `runbook diff`
    writes it, nor for the way back, which never reads it."""
    from runbook.config import ConfigError
    from runbook.model import StepState

    if settings.decisions is None:
        return
    if earlier is not None and (earlier.cutover_started is not None or earlier.state(
            "properties") in (StepState.DONE, StepState.SKIPPED)):
        return
    if not settings.decisions.is_file():
        raise ConfigError(settings.source, f"{settings.decisions} is not there; check the "
                          "path, or write it first with runbook diff OLD NEW --decisions FILE "
                          "--check", key="properties.decisions")
    from runbook.properties.decisions import Decisions

    # Empty counts as unset: an `export X=$(...)` whose command failed.
    unset = {key: name for key, name in Decisions.load(settings.decisions).secret_sources()
             if not os.environ.get(name)}
    if unset:
        named = ", ".join(f"{key} from ${name}" for key, name in unset.items())
        raise ConfigError(str(settings.decisions), f"takes secrets from environment variables "
                          f"that are not set or empty: {named}; export them in this shell "
                          "(their values are never written to the file), then run again")


def _refuse_a_journal_in_use(path: Path) -> None:
    """A new run writes a journal of its own. Appended to one that holds a run,
    it read afterwards as that run resumed: in the report, the log and the
    lookups of the way back (operator trial)."""
    from runbook.config import ConfigError
    from runbook.journal import JournalError, replay
    from runbook.wholefile import special_file

    if special_file(path):
        # Bad-input trial: /dev/null was taken, and failed as a disk out of room.
        raise ConfigError(str(path), "is not a regular file (a pipe or a device); give "
                          "--journal a file that does not exist yet")
    try:
        if not path.is_file() or path.stat().st_size == 0:
            return  # none yet, or one made empty for this run; a folder is refused later
        earlier = replay(path)
    except (OSError, JournalError):
        raise ConfigError(str(path), "holds something runbook cannot read as a journal; "
                          "give --journal a file that does not exist yet") from None
    if earlier.outcome in ("done", "rolled-back"):
        ended = "finished" if earlier.outcome == "done" else "rolled back"
        raise ConfigError(str(path), f"holds a run that {ended}; give --journal a file "
                          "that does not exist yet")
    raise ConfigError(str(path), "holds an unfinished run; --resume continues it, or give "
                      "--journal a file that does not exist yet for a new run")


def on_a_terminal() -> bool:
    """Whether the terminal UI has one: it reads keys from stdin and draws on
    stderr (Textual's driver)."""
    return sys.stdin.isatty() and sys.__stderr__ is not None and sys.__stderr__.isatty()


def _no_terminal_for_the_screen(args: argparse.Namespace) -> str | None:
    """What to say when the command would open its screen with no terminal to
    draw it on: from a script it was drawn into a pipe or a file, and waited
    for keys that never came, until killed (bad-input trial). Asked after the
    arguments' own refusals, before anything is started or asked."""
    if not _paints(args) or on_a_terminal():
        return None
    without = "--check or --json" if args.command == "diff" else "--headless"
    return ("the terminal UI needs a terminal, and stdin or stderr is not one here; "
            f"give {without} to go without it")


def _refuse_the_screen_without_a_terminal(args: argparse.Namespace) -> None:
    from runbook.config import ConfigError

    said = _no_terminal_for_the_screen(args)
    if said is not None:
        raise ConfigError(args.command, said)


def _paints(args: argparse.Namespace) -> bool:
    """Whether the command opens a screen (its app ends start-up at its first paint)."""
    if args.command == "diff":
        return not (args.check or args.json)
    return args.command in ("run", "rehearse", "rollback") and not _headless(args)


def _headless(args: argparse.Namespace) -> bool:
    # --yes answers every question, so there is nothing for the TUI to ask.
    return bool(args.headless or args.yes)


def _rollback_after(args: argparse.Namespace) -> str | None:
    """The --rollback-after step, when it names one the way back can follow."""
    after: str | None = getattr(args, "rollback_after", None)
    if after is None:
        return None  # before the procedure is imported: the first paint waits for this
    from runbook.config import ConfigError
    from runbook.model import Phase
    from steps import procedure

    ids = [step.id for step in procedure()]
    # Only a cutover step has something to go back from: before the first
    # one the live stream manager has not changed.
    cutover = [step.id for step in procedure() if step.phase is Phase.CUTOVER]
    if after not in ids:
        raise ConfigError("--rollback-after", f"{after} is not a step; choose one of "
                          f"{', '.join(cutover)}")
    if after not in cutover:
        raise ConfigError("--rollback-after", f"{after} comes before the cutover, when "
                          "nothing of the live stream manager has changed and there is no "
                          f"way back to take; choose a cutover step: {', '.join(cutover)}")
    return after


def _refuse_faults_the_drill_never_reaches(after: str | None, asked: list[Requested]) -> None:
    """With --rollback-after, the upgrade's steps after it never run: a fault
    timed to one would never come up, which the rehearsal could say only at
    its end (operator trial). Refused before a host is made for it."""
    if after is None:
        return
    from runbook.config import ConfigError
    from steps import procedure

    upgrade = [step.id for step in procedure()]
    beyond = upgrade[upgrade.index(after) + 1:]
    never = [str(request) for request in asked if request.step in beyond]
    if never:
        step = "that step runs" if len(never) == 1 else "those steps run"
        raise ConfigError("rehearse", f"--fault {', '.join(never)} would never come up: "
                          f"--rollback-after {after} goes back before {step}; time a fault "
                          "to a step up to it, or to the way back's")


class _Prepared(NamedTuple):
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


def _prepared(args: argparse.Namespace, settings: Settings, *, token: str, folder: Path,
              state_dir: Path, offer_resume: bool, stopper: Stopper, isolated: bool = False,
              host_label: str = "", tap: Callable[[Session[Any]], Session[Any]] | None = None,
              say: Callable[[str], None] = print) -> _Prepared:
    """The session the arguments ask for, ready to open (through `tap`, which a
    rehearsal's faults listen with), after the refusals; its journal and the
    earlier run it continues. The opening offers the TUI an unfinished run too."""
    from dataclasses import replace  # here: it brings inspect, which --help never needs

    from runbook.journal import unfinished
    from runbook.opening import Opening
    from runbook.session import host_state

    _refuse_what_this_procedure_cannot_do(settings)
    if args.yes:  # the journal says so: such a run's times are no estimate for one at the keys
        settings = replace(settings, unattended=True)
    earlier = _resume_from(args, settings, folder, say) if offer_resume else None
    _refuse_decisions_the_run_cannot_use(settings, earlier)
    offered = earlier
    if offered is None and offer_resume and args.journal is None and not _headless(args):
        offered = unfinished(folder, **_runs_of(settings))
    # The TUI offers the cutover's own run (only continuing it, while the
    # stream manager is down): not refused, as a new run beside it is.
    _refuse_a_second_cutover(host_state(settings, state_dir),
                             offered.path if offered is not None else None,
                             lambda journal: _resume_command(args, settings, journal),
                             lambda journal: _way_back_command(args, settings, journal))

    after = _rollback_after(args)
    # Claimed last, once nothing is left to refuse. With --resume, `path` is
    # the earlier run's journal; a new run chosen in the TUI's resume dialog
    # instead writes a journal of its own beside it (operator trial: it
    # appended a fresh start to the run it did not continue, and the report
    # counted it as resumed).
    # `fresh`: the journal claimed here, to drop on the way out if unused.
    fresh: Path | None
    if earlier is not None and earlier.path is not None:
        path, new_run = earlier.path, _fresh_journal(settings, earlier.path.parent)
        fresh = new_run
    elif args.journal is not None:
        path = new_run = args.journal
        fresh = None  # the operator's own: not this run's to remove
    else:
        path = new_run = fresh = _fresh_journal(settings, folder)

    def open_session(continuing: Replay | None) -> Session[Any]:
        opened = session(settings, token=token, state_dir=state_dir, isolated=isolated,
                         journal_path=continuing.path if continuing and continuing.path
                         else new_run, resume=continuing, rollback_after=after)
        stopper.watch(opened)
        return tap(opened) if tap is not None else opened

    return _Prepared(Opening(open_session, offered, host_label, new_journal=fresh), path,
                     earlier)


async def _go(args: argparse.Namespace, opening: Opening, path: Path,
              earlier: Replay | None) -> Outcome:
    """Hand the opening to the front end the arguments ask for."""
    if _headless(args):
        from runbook.headless import HeadlessFrontEnd

        print(f"journal: {path}")
        run = opening.open_session(earlier)
        return await run.run(HeadlessFrontEnd(run.cards, assume_yes=args.yes,
                                              estimate=run.downtime_estimate(),
                                              earlier=run.resume))
    from screens.tui import run_tui

    return await run_tui(opening.open_session, previous=opening.previous,
                         host_label=opening.host_label, new_journal=opening.new_journal)


async def _run(args: argparse.Namespace, stopper: Stopper) -> int:
    from runbook import config as config_mod
    from runbook.statedir import default_dir

    settings = config_mod.load(args.config)
    # _prepared looks again, with the run to resume in view.
    _refuse_a_config_this_machine_cannot_use(settings)
    if args.journal is not None and not args.resume:
        _refuse_a_journal_in_use(args.journal)
    folder = args.journal.parent if args.journal is not None else default_dir()
    if not args.resume:
        _refuse_decisions_the_run_cannot_use(settings, None)
        _refuse_a_run_beside(folder, settings)
    _refuse_the_screen_without_a_terminal(args)
    token = config_mod.api_token(settings, prompt=config_mod.interactive_prompt())
    prepared = _prepared(args, settings, token=token, folder=folder, state_dir=default_dir(),
                         offer_resume=True, stopper=stopper,
                         host_label=settings.host.login)
    try:
        outcome = await _go(args, *prepared)
    finally:
        from runbook.journal import drop_if_unwritten

        drop_if_unwritten(prepared.opening.new_journal)
        # The run --resume named, or the one the TUI offered (review).
        _where_it_stands(stopper, settings, earlier=prepared.continues,
                         headless=_headless(args))
    return outcome.exit_code


def _where_it_stands(stopper: Stopper, settings: Settings | None, *,
                     resume: str | None = None, earlier: Replay | None = None,
                     headless: bool = False, own_host: bool = False) -> None:
    """The exit lines of every run: what serves now and the command that goes
    on from here. Said even on a closed terminal's way out, where nobody may
    read them (so a write that fails is let go). `earlier`: the run --resume
    named, spoken of when the operator left before a run of this process
    wrote anything (the TUI's resume dialog: its new run has a journal of
    its own). `own_host`: the host is this process's rehearsal host, which
    stops with it."""
    from runbook.journal import JournalError, replay, unwritten
    from runbook.standing import (
        before_another_attempt,
        going_on,
        resume_command,
        rollback_command,
        service_state,
    )

    journal = _last_journal(stopper, earlier)
    if journal is None or unwritten(journal):
        return  # refused before anything ran (the refusal said why), or never written
    try:
        history = replay(journal)
    except (OSError, JournalError):
        return  # the journal's own error was said where it happened
    rollback = None
    if settings is not None and not settings.rehearsal:
        resume = resume or resume_command(settings.source, journal, headless=headless)
        rollback = rollback_command(settings.source, journal, headless=headless)
        if rollback == resume:  # the way back alone: it goes on as itself
            rollback = None
    elif resume is not None:
        rollback = _practised_way_back(history, resume)
    after = before_another_attempt(history.outcome)
    lines = [f"runbook: {service_state(history)}",
             *(f"runbook: {line}" for line in going_on(history, resume=resume,
                                                       rollback=rollback)),
             *([f"runbook: before another attempt: {after}"] if after else [])]
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


def _last_journal(stopper: Stopper, earlier: Replay | None) -> Path | None:
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


def _practised_way_back(history: Replay, resume: str) -> str | None:
    """A lasting rehearsal's way back from where its cutover stands: resumed,
    going back after the last cutover step it finished, as `runbook
    rollback` would from there. With none finished it can only go back
    after the first, which then runs again: said. None once its way back
    began: resumed, it goes on back by itself."""
    from runbook.model import Phase, StepState
    from steps import procedure, way_back

    if any(step.id in history.steps for step in way_back()):
        return None
    cutover = [step.id for step in procedure() if step.phase is Phase.CUTOVER]
    finished = [step for step in cutover
                if history.state(step) in (StepState.DONE, StepState.SKIPPED)]
    if finished:
        return f"{resume} --rollback-after {finished[-1]}"
    return (f"{resume} --rollback-after {cutover[0]} (it runs {cutover[0]} again first: "
            "no cutover step finished)")


async def _rollback(args: argparse.Namespace, stopper: Stopper) -> int:
    """The way back alone, continuing the journal of the cutover it undoes."""
    from dataclasses import replace

    from runbook import config as config_mod
    from runbook.config import ConfigError
    from runbook.journal import replay
    from runbook.session import host_state
    from runbook.standing import rollback_command, said_time
    from runbook.statedir import default_dir

    settings = config_mod.load(args.config)
    _refuse_a_config_this_machine_cannot_use(settings)
    if args.yes:  # journalled as _prepared does for run and rehearse (review)
        settings = replace(settings, unattended=True)
    state_dir = default_dir()
    host = host_state(settings, state_dir)
    under_way = host.cutover()
    journal = args.journal or (Path(under_way.journal) if under_way else None)
    if args.journal is not None and not args.journal.is_file():
        raise ConfigError(str(args.journal), "no such journal; give the journal of the "
                          "cutover to roll back")
    if under_way is not None and (journal is None or not journal.is_file()):
        raise ConfigError(settings.source, f"the cutover under way on this host since "
                          f"{said_time(under_way.began)} is journalled in {under_way.journal}, "
                          "which is not there: give a copy of it with --journal")
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
        raise ConfigError(str(journal), f"this host's record says that cutover (begun "
                          f"{said_time(history.cutover_started or '')}) ended: {how}; the way "
                          "back only undoes a cutover still under way")
    if under_way is not None and not under_way.journalled_in(journal):
        if Path(under_way.journal).is_file():
            raise ConfigError(str(journal), f"this host's cutover under way is journalled in "
                              f"{under_way.journal}: give that journal, or leave --journal out")
        # That journal is gone (a lost disk): a copy of it will do, no other run's.
        if history.cutover_started != under_way.began:
            raise ConfigError(str(journal), "this is not the journal of the cutover under way "
                              f"on this host, which began {said_time(under_way.began)} (its "
                              f"journal was {under_way.journal}): give a copy of that one")
    earlier = _cutover_to_undo(history, settings)
    _refuse_the_screen_without_a_terminal(args)
    token = config_mod.api_token(settings, prompt=config_mod.interactive_prompt())
    back = stopper.watch(session(settings, token=token, journal_path=journal,
                                 state_dir=state_dir, resume=earlier, only_back=True))
    print(f"journal: {journal}")
    try:
        if _headless(args):
            from runbook.headless import HeadlessFrontEnd

            outcome = await back.run(HeadlessFrontEnd(back.cards, assume_yes=args.yes,
                                                      earlier=earlier))
        else:
            from screens.tui import run_tui

            outcome = await run_tui(lambda _earlier: back,
                                    host_label=settings.host.login)
    finally:
        # As every run ends (operator trial: a way back that failed said
        # neither what serves nor how to go on); it goes on as itself.
        headless = _headless(args)
        _where_it_stands(stopper, settings, headless=headless,
                         resume=rollback_command(settings.source, journal, headless=headless))
    return outcome.exit_code


def _cutover_to_undo(earlier: Replay, settings: Settings) -> Replay:
    """The journal's run, if it is a cutover this host's way back can undo:
    refused (ConfigError) when it went against another host, never began a
    cutover, or ended (done, or rolled back already). Operator trial: the
    journal of a finished upgrade on another host was taken, its run said
    to be down, and a failed way back appended to it."""
    from runbook.config import ConfigError

    target = settings.host.target
    where = str(earlier.path)
    # Host names are not case-sensitive; the user may have changed.
    if earlier.host and earlier.host.rpartition("@")[2].lower() != \
            target.rpartition("@")[2].lower():
        raise ConfigError(where, f"its run went against {earlier.host}, not {target} as "
                          f"{settings.source} says: give this host's journal")
    if earlier.outcome == "rolled-back":
        raise ConfigError(where, "that run went back already: the old stream manager "
                          "serves again")
    if earlier.outcome == "done" or earlier.downtime_s is not None:
        raise ConfigError(where, "that upgrade's cutover is complete; the way back only "
                          "undoes a cutover still under way")
    if earlier.cutover_started is None:
        raise ConfigError(where, "its run never began a cutover: the live stream manager "
                          "was not changed and there is no way back to take")
    return earlier


def rehearsal_settings(host: RehearsalHost, **values: str) -> Settings:
    """The embedded rehearsal config filled in for a running rehearsal host."""
    from dataclasses import replace

    from runbook import config as config_mod
    from runbook.rehearsal.sandbox import write_private

    # The rehearsal's decisions are the operator's to edit in the editor: a
    # copy in the sandbox, never the file shipped inside the package.
    decisions = host.sandbox / OPERATOR_DIRNAME / "decisions.toml"
    if not decisions.exists():
        write_private(decisions, _sample("rehearsal-decisions.toml"))
    filled = {**rehearsal_values(host.config_values()), "decisions": str(decisions), **values}
    settings = config_mod.loads(rehearsal_config_text(), source="rehearsal.toml",
                                substitutions=filled)
    # The journal records it: a fast rehearsal's cutover time is no estimate
    # for a real one.
    return replace(settings, rehearsal_pace=host.pace)


def _boot_said(error: str, settings: Settings, state_dir: Path) -> str:
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


class _Rehearsal:
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
        self.new_journal: Path | None = None
        # A sandbox that outlives the run keeps its journals (resume works on
        # it); a throwaway one must not take them along when it is removed.
        self.lasting = bool(args.sandbox is not None or args.keep)

    async def start(self, stopper: Stopper, say: Callable[[str], None]) -> _Prepared:
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
        operator = host.sandbox / OPERATOR_DIRNAME
        runs = operator / "runs" if self.lasting else rehearsals_dir()
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
            say(_boot_said(host.boot_error, settings, operator))
        if host.kept_down:
            say("rehearsal host: its Red5 Pro service was down when the last rehearsal on "
                "this sandbox ended mid-cutover, and stays down, as on a real host that "
                "nobody rebooted")
        if self.asked:
            from runbook.rehearsal import faults

            self.switch = faults.FaultSwitch(host, self.asked, settings)
            await self.switch.at_start()
            say(f"rehearsing faults: {', '.join(map(str, self.asked))}")
        from runbook.config import ConfigError
        from runbook.hoststate import HostStateError
        from runbook.journal import JournalError

        try:
            prepared = _prepared(args, settings, token=host.api_token, folder=runs,
                                 state_dir=operator, offer_resume=self.lasting, isolated=True,
                                 stopper=stopper, host_label=f"sandbox {host.sandbox}",
                                 tap=self.switch.tapped if self.switch is not None else None,
                                 say=say)
        except (ConfigError, JournalError, HostStateError):
            # Refused: the service stays as it was found (operator trial: one
            # left running mid-cutover was adopted, then stopped on the way out).
            # Its database servers were started afresh with the host, as for
            # any resume, and stop with it.
            host.leave_service_running = host.adopted_service is not None
            raise
        self.earlier = prepared.continues
        self.new_journal = prepared.opening.new_journal
        return prepared

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


def _refuse_a_distribution_the_sandbox_cannot_hold(size: int, sandbox: Path | None) -> None:
    """The fake distribution is on the disk three times over (made, uploaded,
    unpacked): one the disk cannot hold fills it before the upload step ends."""
    import shutil
    import tempfile

    from runbook.config import ConfigError

    if size < 0:
        raise ConfigError("rehearse", f"--dist-size {size} is negative; give a size in bytes")
    # The nearest folder there is: a --sandbox that does not exist yet is made.
    where = Path(sandbox).resolve() if sandbox is not None else Path(tempfile.gettempdir())
    while not where.exists():
        where = where.parent
    free = shutil.disk_usage(where).free
    if 3 * size > free:
        raise ConfigError("rehearse", f"--dist-size {size} needs about {3 * size / 1e9:.1f} GB "
                          f"free in {where} (made, uploaded, unpacked), and it has "
                          f"{free / 1e9:.1f} GB; give a smaller size")


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


async def _rehearse(args: argparse.Namespace, stopper: Stopper) -> int:
    # Only what an option asks for is imported here: the TUI's first paint
    # waits for it, and the host and faults load after that paint (issue 12).
    from runbook.config import ConfigError

    asked: list[Requested] = []
    if args.fault:  # refused also beside --list-faults, which would seem to take it
        from runbook.rehearsal import faults
        from runbook.rehearsal.host import RehearsalHost

        try:
            # The host class says whether it can bring a fault about.
            asked = faults.parse(args.fault, RehearsalHost)
        except faults.FaultError as exc:
            raise ConfigError("rehearse", str(exc)) from None
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
            raise ConfigError("rehearse", f"--scenario {args.scenario} is not a rehearsal "
                              f"scenario; choose one of {', '.join(scenarios.SCENARIOS)}")
    if args.resume and args.sandbox is None:
        raise ConfigError("rehearse", "--resume needs the --sandbox of the run to continue")
    # Refused before a sandbox is made and a host started for nothing (operator
    # trial); the journal itself is read once the host is up.
    if args.journal is not None and args.journal.is_dir():
        raise ConfigError(str(args.journal), "is a folder; --journal names a journal file")
    if args.journal is not None and args.resume and not args.journal.is_file():
        raise ConfigError(str(args.journal), "no such journal to resume")
    if args.journal is not None and not args.resume:
        _refuse_a_journal_in_use(args.journal)  # a throwaway rehearsal's too (review)
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
    _refuse_faults_the_drill_never_reaches(_rollback_after(args), asked)
    _refuse_the_screen_without_a_terminal(args)
    rehearsal = _Rehearsal(args, asked)
    try:
        if _headless(args):
            outcome = await _go(args, *await rehearsal.start(stopper, print))
        else:
            from screens.tui import run_tui

            outcome = await run_tui(opening=rehearsal.opening(stopper),
                                    waiting="Starting the rehearsal host…")
    finally:
        from runbook.journal import drop_if_unwritten

        await rehearsal.stop()
        drop_if_unwritten(rehearsal.new_journal)
        host = rehearsal.host
        again = None
        if host is not None and rehearsal.lasting:
            again = f"runbook rehearse --resume --sandbox {shlex.quote(str(host.sandbox))}"
            if args.journal is not None:  # not in the sandbox's runs, where --resume looks
                # The run's own (a new run chosen in the resume dialog writes one
                # beside it), or the earlier one's if it never wrote a line.
                journal = _last_journal(stopper, rehearsal.earlier) or args.journal
                again += f" --journal {shlex.quote(os.path.abspath(journal))}"
            if _headless(args):  # as it was started (--yes is headless too)
                again += " --headless"
        _where_it_stands(stopper, None, resume=again, earlier=rehearsal.earlier,
                         own_host=True)
    from runbook.model import Outcome

    switch = rehearsal.switch
    if switch is not None:
        missed = [str(a) for a in asked if a not in switch.fired]
        if missed:
            print(f"faults that never came up (their step did not run): {', '.join(missed)}")
    if outcome in (Outcome.FAILED, Outcome.STOPPED) and again is None and stopper.sessions:
        # The state line above was the rehearsal host's as it stopped; that
        # host is gone now, and says so, lest it read as something to go on from.
        print("runbook: that was the rehearsal host as it stopped; it is removed now with "
              "its sandbox. Rehearse with --sandbox DIR to practise going on from a stop")
    if rehearsal.lasting and host is not None:
        print(f"sandbox: {host.sandbox}")
    return outcome.exit_code


# --- diff ------------------------------------------------------------------------


def _diff(args: argparse.Namespace) -> int:
    if args.out is not None:
        from runbook.journal import is_a_journal

        over = _read_by_the_review(args.out, args.old, args.new, args.decisions)
        if over is not None:
            # Operator trial: the merged file, secrets in clear, replaced the
            # decisions file meant to be shared, or the live copy; exit 0.
            print(f"runbook diff: --out {visible(str(args.out))} is {over}, which the review "
                  "reads; write the merged file to a path of its own", file=sys.stderr)
            return 2
        if is_a_journal(args.out):
            # Bad-input trial: a run's record became the merged file, in clear.
            print(f"runbook diff: --out {visible(str(args.out))} is a run's journal; write the "
                  "merged file to a path of its own", file=sys.stderr)
            return 2
    if _paints(args):  # the editor, unless --check or --json asks for text
        from screens.diff_app import run_diff_app

        said = _no_terminal_for_the_screen(args)
        if said is not None:
            print(f"runbook diff: {said}", file=sys.stderr)
            return 2

        return run_diff_app(args.old, args.new, sets=args.set, decisions=args.decisions,
                            out=args.out)
    from runbook.properties import diff_command

    try:
        code = diff_command(args.old, args.new, sets=args.set, decisions=args.decisions,
                            out=args.out, check=args.check, as_json=args.json)
        sys.stdout.flush()  # here, where a reader that went away can still be heard
    except BrokenPipeError:
        return _reader_gone()
    return code


def _read_by_the_review(out: Path, *read: Path | None) -> Path | None:
    """The file of `read` that `out` names too (through a symlink or another
    spelling), if one does."""
    for path in read:
        if path is None:
            continue
        with contextlib.suppress(OSError):
            if out.exists() and path.exists() and os.path.samefile(out, path):
                return path
        if os.path.realpath(out) == os.path.realpath(path):
            return path
    return None


def _reader_gone() -> int:
    """`runbook diff ... | head`: the reader has all it wanted; end as `cat` would."""
    from runbook.report import EXIT_CLOSED_PIPE
    from runbook.streams import silence

    # Python flushes stdout once more on the way out: let that go nowhere.
    silence(sys.stdout.fileno())
    return EXIT_CLOSED_PIPE


# --- report and log --------------------------------------------------------------


def _report(args: argparse.Namespace) -> int:
    from runbook.journal import is_a_journal
    from runbook.report import ReportError, build, emit, newest_journal, write_private
    from runbook.report_html import html
    from runbook.report_md import markdown
    from runbook.statedir import default_dir

    made = build(args.journal or _newest_said(newest_journal(default_dir())))
    text = html(made) if args.html else markdown(made)
    if args.out is not None:
        if args.out.resolve() == made.path.resolve():
            # Operator trial: it became its own report, the run's record gone.
            raise ReportError(f"--out {args.out} is {made.path}, the journal this reports "
                              "on; name another file for the report")
        if is_a_journal(args.out):
            # Safety review: a slip naming another run's journal lost that run
            # (one just claimed by a runbook holds no record yet, only its lock).
            raise ReportError(f"--out {args.out} is a run's journal; name another file for "
                              "the report")
        write_private(args.out, text)
        return 0
    return emit([text])


def _log(args: argparse.Namespace) -> int:
    from runbook.report import emit, log_lines, newest_journal
    from runbook.statedir import default_dir

    lines = log_lines(args.journal or _newest_said(newest_journal(default_dir())),
                      step=args.step, grep=args.grep)
    return emit(f"[{step}] {line}\n" for step, line in lines)


def _newest_said(journal: Path) -> Path:
    """The journal chosen for the operator, named on stderr: the newest in the
    state dir need not be the run they have in mind (operator trial: a
    sandbox's run keeps its journal in the sandbox)."""
    print(f"runbook: read the newest journal, {visible(str(journal))}", file=sys.stderr)
    return journal


if __name__ == "__main__":
    sys.exit(main())
