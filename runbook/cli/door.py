"""The command line's door: the commands and their options, the one line a
refusal ends with, and the exit codes (0 every step done, 1 a step failed,
2 bad input or configuration: nothing on the host was changed, 3 stopped by
the operator).

Only what parsing the command line needs is imported here: `--help`, `diff`
and the first paint of the TUI must not wait for SSH, HTTP or Textual they
have not used yet (issue 12; tests/test_cli_imports.py keeps it so). Each
command's module is imported when it is chosen, and imports what it uses
when it runs.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from runbook.cli.terminal import paints
from runbook.collector import held_for_start_up, start_up_over
from runbook.streams import make_ready
from runbook.visible import visible

EXIT_BAD_INPUT = 2


class _BadValue(Exception):
    """An option's value its type refused: said by `parser` in one line, not
    in argparse's words (bad-input trial: "argument --dist-size: invalid int
    value: 'abc'"). Neither TypeError nor ValueError, so argparse lets it by."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser


def _bytes(parser: argparse.ArgumentParser, option: str) -> Any:
    """An option's value as a whole number of bytes (a negative one is the
    command's to refuse, with what it can hold)."""

    def whole(text: str) -> int:
        if not text:
            raise _BadValue(parser, f"{option} is given empty; give a whole number of bytes")
        # ASCII digits only (review: int() takes other scripts' digits, spaces
        # and underscores); a negative one is refused by the command.
        if not re.fullmatch(r"-?[0-9]+", text):
            shown = visible(text)
            if shown.strip() != shown:
                shown = f"'{shown}'"
            raise _BadValue(parser, f"{option} takes a whole number of bytes, not {shown}")
        return int(text)

    return whole


# What a command's argument is, for the line that says it was not given:
# (what is missing, what to give). An argument not here is said by its name.
_NEEDED = {
    "config": ("config file", "the path of your runbook config, as in runbook {command} "
                              "sm1.toml"),
    "old": ("properties files", "the live red5-web.properties, then the new release's, as "
                                "in runbook diff OLD NEW"),
    "new": ("new properties file", "the live red5-web.properties, then the new release's, "
                                   "as in runbook diff OLD NEW"),
}


class _Once(argparse._StoreAction):
    """An option's one value: given twice, argparse kept the last without a
    word (operator trial: `--journal A --journal B` wrote B, A meant)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        given: set[str] = namespace.__dict__.setdefault("_given_once", set())
        if option_string is not None and self.dest in given:
            parser.error(f"{option_string} is given twice; give it once")
        given.add(self.dest)
        super().__call__(parser, namespace, values, option_string)


class _Version(argparse.Action):
    """`--version`: looked up only when asked for, so the other commands do
    not pay for reading the package's metadata as they start."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        from importlib.metadata import version

        print(f"runbook {version('runbook')}")
        parser.exit(0)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # No option is taken from its first letters: `--ye` for `--yes` would
        # make a typo answer yes to every step.
        kwargs.setdefault("allow_abbrev", False)
        # argparse's own refusals come to parse_known_args, to be said in ours.
        kwargs.setdefault("exit_on_error", False)
        super().__init__(*args, **kwargs)
        # The positionals a command cannot go without: argparse would refuse
        # their absence in its own words ("the following arguments are
        # required"); main says it in ours (_missing).
        self.needed: list[argparse.Action] = []
        for name in (None, "store"):  # None: an option given no action
            self.register("action", name, _Once)
        # Each command's own parser, by name (set by command_line).
        self.commands: Mapping[str, argparse.ArgumentParser] = {}

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        if not action.option_strings and action.required and action.nargs is None:
            action.required = False  # left None when not given: main says so
            self.needed.append(action)
        return action

    def parse_known_args(  # type: ignore[override]
            self, args: Sequence[str] | None = None,
            namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        given = list(sys.argv[1:] if args is None else args)
        try:
            return super().parse_known_args(given, namespace)
        except argparse.ArgumentError as refused:
            self.error(_in_our_words(self, refused, given))

    def error(self, message: str) -> NoReturn:
        # One line, not a usage dump: what is wrong and where to look.
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def command_line(only: str | None = None) -> _Parser:
    """runbook's command line; with `only`, a command's name, the parser of
    that command alone: the others (an argparse parser each, with its options'
    help formatted and checked as they are added) cost `runbook run` about
    7 M instructions (callgrind, ~1 ms) before its first paint (issue 12).
    main builds them all where it lists them or refuses a command line."""
    parser = _Parser(prog="runbook", description=(
        "Upgrade a Red5 Pro Stream Manager onto a new database, one confirmed step at a time."))
    parser.add_argument("--version", action=_Version, help="print runbook's version and exit")
    # Not required here: main says a missing or unknown command in our words.
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    parser.commands = commands.choices
    for name, (said, epilog, options) in _COMMANDS.items():
        if only is None or name == only:
            options(commands.add_parser(name, help=said, epilog=epilog))
    return parser


def _plan(plan: argparse.ArgumentParser) -> None:
    plan.add_argument("config", nargs="?", type=Path,
                      help="config file (default: the rehearsal config)")
    plan.add_argument("--json", action="store_true", help="machine-readable plan")


def _run(run: argparse.ArgumentParser) -> None:
    run.add_argument("config", type=Path)
    _run_options(run)


def _rehearse(rehearse: argparse.ArgumentParser) -> None:
    _run_options(rehearse)
    rehearse.add_argument("--sandbox", type=Path, metavar="DIR",
                          help="keep the fake host's state in DIR (reused if it exists)")
    rehearse.add_argument("--keep", action="store_true",
                          help="keep the sandbox afterwards and print its path last")
    rehearse.add_argument("--dist-size", type=_bytes(rehearse, "--dist-size"), metavar="BYTES",
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
    rehearse.add_argument("--host-only", action="store_true",
                          help="only keep the --sandbox's fake host up, until ctrl+c: it runs "
                               "no step and claims nothing, for runbook run, plan or rollback "
                               "to use")


def _rollback(rollback: argparse.ArgumentParser) -> None:
    rollback.add_argument("config", type=Path)
    rollback.add_argument("--headless", action="store_true",
                          help="plain prompts instead of the TUI")
    rollback.add_argument("--yes", action="store_true", help="answer 'run' to every step")
    _take_over(rollback)
    rollback.add_argument("--journal", type=Path, metavar="PATH",
                          help="the cutover's journal (default: the one the host's state names)")


def _diff(diff: argparse.ArgumentParser) -> None:
    diff.add_argument("old", type=Path)
    diff.add_argument("new", type=Path)
    diff.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="decide a key's value (repeatable)")
    diff.add_argument("--decisions", type=Path, metavar="FILE",
                      help="TOML decisions file to apply and update")
    diff.add_argument("--out", type=Path, metavar="FILE", help="write the merged file here")
    diff.add_argument("--contexts", type=Path, nargs=2, metavar=("LIVE_XML", "NEW_XML"),
                      help="the live and the new applicationContext.xml: the merge must set "
                           "every key the new release's cloud-controller bean reads")
    # One or the other: both printed JSON unsaid (operator trial).
    as_text = diff.add_mutually_exclusive_group()
    as_text.add_argument("--check", action="store_true", help="plain review; exit 1 if undecided")
    as_text.add_argument("--json", action="store_true", help="JSON review; exit 1 if undecided")


def _report(report: argparse.ArgumentParser) -> None:
    report.add_argument("journal", nargs="?", type=Path,
                        help="journal file (default: the newest in the user's state dir)")
    report.add_argument("--html", action="store_true", help="one self-contained HTML file")
    report.add_argument("--out", type=Path, metavar="FILE",
                        help="write the report here, not to stdout")


def _log(log: argparse.ArgumentParser) -> None:
    log.add_argument("journal", nargs="?", type=Path,
                     help="journal file (default: the newest in the user's state dir)")
    log.add_argument("--step", metavar="ID", help="only this step's lines")
    log.add_argument("--grep", metavar="TEXT", help="only lines holding TEXT (any case)")


# Each command, in the order runbook's help lists them: its line there, the
# last words of its own help, and what adds its arguments.
_COMMANDS: dict[str, tuple[str, str | None, Callable[[argparse.ArgumentParser], None]]] = {
    "plan": ("print every step's commands and API calls; connects to nothing", None, _plan),
    "run": ("run the upgrade against the host in CONFIG", None, _run),
    "rehearse": ("run the whole upgrade against a local fake stream manager host",
                 "The fake cloud's pace comes from RUNBOOK_REHEARSAL_PACE: fast (the default: a "
                 "boot of two minutes, the docs' most, takes three seconds), real (the documented "
                 "times), or a number the real times are multiplied by (0.5 is twice as fast).",
                 _rehearse),
    "rollback": ("back to the old stream manager on the old database, from any point of the "
                 "cutover", None, _rollback),
    "diff": ("review old vs new red5-web.properties key by key", None, _diff),
    "report": ("the run in a journal as Markdown (or HTML) for the change ticket", None, _report),
    "log": ("every line the run showed, with its step", None, _log),
}


def _take_over(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--take-over-host", action="store_true",
                     help="replace the claim another runbook left on the host (.runbook-claim "
                          "in install.dir there): only once that run is surely gone. A claim kept "
                          "for a cutover under way is replaced only by a run that goes on "
                          "with that cutover")


def _run_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--headless", action="store_true", help="plain prompts instead of the TUI")
    sub.add_argument("--yes", action="store_true", help="answer 'run' to every step")
    sub.add_argument("--journal", type=Path, metavar="PATH",
                     help="journal file (default: the user's state dir)")
    # One or the other: which run the operator means, said once.
    which = sub.add_mutually_exclusive_group()
    which.add_argument("--resume", action="store_true",
                       help="continue the newest unfinished run (or the one in --journal)")
    which.add_argument("--new-run", action="store_true",
                       help="start a new run even where one is unfinished, leaving that one "
                            "as it is (headless refuses to without it)")
    _take_over(sub)
    sub.add_argument("--rollback-after", metavar="STEP",
                     help="once STEP is done, take the way back (to rehearse it)")


# What may come before any command: runbook's own help and version.
_ASIDE = ("-h", "--help", "--version")


def main(argv: Sequence[str] | None = None) -> int:
    if make_ready():
        print("runbook: stdout is closed, so what the command says would be lost; give it a "
              "file to write to, or >/dev/null to drop it", file=sys.stderr)
        return EXIT_BAD_INPUT
    with held_for_start_up():
        given = list(sys.argv[1:] if argv is None else argv)
        # A command's own parser alone where one is named first; every one
        # where runbook's help lists them or a refusal may name them.
        parser = command_line(given[0] if given and given[0] in _COMMANDS else None)
        if given and given[0].startswith("-") and given[0] not in _ASIDE:
            # argparse says a command is missing, or that the option is not
            # known, never where it went wrong: each option is the command's.
            _option_before_the_command(parser, given)
        if not given or (given[0] not in parser.commands and given[0] not in _ASIDE):
            parser.error(_not_a_command(parser, given[0] if given else None))
        try:
            args, extra = parser.parse_known_args(given)
        except _BadValue as bad:
            bad.parser.error(str(bad))
        _missing(parser.commands[args.command], args)
        if extra:
            # Said by the command's own parser, so the line points at its help
            # page, not the one that lists the commands (operator trial).
            _more_than_it_takes(parser.commands[args.command], args.command, extra)
        stdout = sys.stdout
        try:
            return _command(args)
        finally:
            sys.stdout = stdout
            _say_an_unkept_tag_key()


def _say_an_unkept_tag_key() -> None:
    """Once, as the command ends: tags made with a key that could not be kept
    match no others (operator trial 59, F4: they changed from one review to
    the next, unsaid). Only where a secret was tagged (redact loaded)."""
    redact = sys.modules.get("runbook.redact")
    said = getattr(redact, "key_not_kept", None)
    if said and redact is not None:
        import contextlib

        # Said for this command alone (tests run many in one process); the
        # module is looked up, not imported, as only a tagged secret loads it.
        setattr(redact, "key_not_kept", None)  # noqa: B010

        with contextlib.suppress(OSError, ValueError):  # a closed stderr hears nothing
            print(f"runbook: note: {said}", file=sys.stderr)


def _option_before_the_command(parser: _Parser, given: list[str]) -> NoReturn:
    """Refuse `given`, which begins with an option: where it goes, in the
    command line as it should be typed when a command follows (operator
    trial: a rule and an example of another command read as the opposite),
    or, for an option the command does not have, that it is not one (README
    walkthrough: `runbook --verbose plan` was sent to `runbook plan
    --verbose`, which failed too)."""
    option = given[0].partition("=")[0]
    if _has(parser, option):  # runbook's own flag, given a value: --version=1
        parser.error(f"{option} takes no value; give it alone, not {visible(given[0])}")
    at = next((i for i, word in enumerate(given) if word in parser.commands), None)
    if at is None:
        if any(_has(command, option) for command in parser.commands.values()):
            parser.error(f"{visible(given[0])} comes before any command; give the command first")
        parser.error(_not_an_option(parser, option))
    command = parser.commands[given[at]]
    if not _has(command, option):
        command.error(_not_an_option(command, option))
    typed = shlex.join(["runbook", given[at], *given[:at], *given[at + 1:]])
    parser.error(f"{visible(given[0])} goes after the command: {visible(typed)}")


def _not_a_command(parser: _Parser, word: str | None) -> str:
    """No command given, or `word`, which is none: the one it is closest to,
    as an unknown option is said, or else every command there is."""
    from difflib import get_close_matches

    names = list(parser.commands)
    every = f"{', '.join(names[:-1])} and {names[-1]}"
    if word is None:
        return f"no command given; give one of {every}"
    # In any case (review: `runbook RUN` was not matched to run).
    near = get_close_matches(word.lower(), names, n=1, cutoff=0.6)
    said = f"{visible(word)} is not a command"
    return f"{said}; did you mean {near[0]}?" if near else f"{said}; the commands are {every}"


def _missing(command: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse a command given without an argument it cannot go without: what
    is missing and what to give, in our words, not argparse's."""
    needed = command.needed if isinstance(command, _Parser) else []
    gone = [action for action in needed if getattr(args, action.dest) is None]
    if gone:
        what, give = _NEEDED.get(gone[0].dest, (gone[0].dest, gone[0].dest.upper()))
        command.error(f"no {what} given; give {give.format(command=args.command)}")


def _options(parser: argparse.ArgumentParser) -> Mapping[str, argparse.Action]:
    """Every option string `parser` takes, and its action: argparse keeps them
    in a private table and offers no public way to ask (the one place that
    reads it)."""
    return parser._option_string_actions


def _in_our_words(parser: argparse.ArgumentParser, refused: argparse.ArgumentError,
                  given: list[str]) -> str:
    """What argparse refused in `given`, in the product's words (review:
    `runbook log --step` said "argument --step: expected one argument", and
    `diff A B --check --json` "argument --json: not allowed with argument
    --check"); argparse's own, for a refusal not named here."""
    name = (refused.argument_name or "").split("/")[-1]
    action = _options(parser).get(name)
    if action is None:
        return str(refused)
    words = {word.partition("=")[0] for word in given}
    for group in parser._mutually_exclusive_groups:
        if action in group._group_actions:
            # The one given first: argparse refuses the second it meets.
            other = next((o.option_strings[-1] for o in group._group_actions
                          if o is not action and words & set(o.option_strings)), None)
            if other is not None:
                return (f"{other} and {name} cannot be given together; give one or the "
                        "other")
    if action.nargs == 0:
        typed = next((word for word in given if word.partition("=")[0] == name
                      and "=" in word), name)
        return f"{name} takes no value; give it alone, not {visible(typed)}"
    if isinstance(action.nargs, int) and isinstance(action.metavar, tuple):
        # Given fewer (diff --contexts LIVE_XML NEW_XML).
        return (f"{name} takes {action.nargs} values; give them, as in {name} "
                f"{' '.join(action.metavar)}")
    if action.nargs is None:
        after = next((given[i + 1] for i, word in enumerate(given[:-1]) if word == name), None)
        if after is not None and after.startswith("-") and \
                after.partition("=")[0] not in _options(parser):
            # Review: `log --grep -Xmx` was said to have no value; argparse
            # took the value for an option, as it would any word with a '-'.
            return (f"{name}'s value {visible(after)} begins with '-', so it reads as an "
                    f"option; give it as {visible(shlex.quote(f'{name}={after}'))}")
        return f"{name} is given no value; give one, as in {name} {action.metavar}"
    return str(refused)


def _has(parser: argparse.ArgumentParser, option: str) -> bool:
    return option in _options(parser)


def _more_than_it_takes(command: argparse.ArgumentParser, name: str,
                        extra: list[str]) -> NoReturn:
    """Refuse what `command` did not take, in the words of the line that
    refuses an option before the command (README walkthrough: `runbook plan
    --bogus` said argparse's "unrecognized arguments: --bogus")."""
    options = [word.partition("=")[0] for word in extra if word.startswith("-") and word != "-"]
    if options:
        if len(options) == 1:
            command.error(_not_an_option(command, options[0]))
        command.error(f"{', '.join(map(visible, options))} are not options")
    words = ", ".join(map(visible, extra))
    command.error(f"{words} {'is' if len(extra) == 1 else 'are'} more than {name} takes")


def _not_an_option(parser: argparse.ArgumentParser, option: str) -> str:
    """`option` is not one of `parser`'s, with the one it is closest to, as a
    config's unknown name is said (a cut-short `--ye` is refused, never
    taken: it would answer yes to every step)."""
    from difflib import get_close_matches

    said = f"{visible(option)} is not an option"
    near = get_close_matches(option, [known for known in _options(parser)
                                      if known.startswith("--")], n=1, cutoff=0.75)
    return f"{said}; did you mean {near[0]}?" if near else said


# The commands that write a journal; the others (diff, plan, report, log)
# only read, and stop on ctrl+c with the shell's 128 + SIGINT.
_JOURNALLED = ("run", "rehearse", "rollback")
_INTERRUPTED = 130


def _command(args: argparse.Namespace) -> int:
    try:
        return _dispatch(args)
    except KeyboardInterrupt as interrupted:
        from runbook.config import TokenNotGiven

        if isinstance(interrupted, TokenNotGiven):
            # No journal claimed, nothing run: nothing to go on from, so not
            # "stopped by the operator" (3), which a resume follows.
            if sys.stderr.isatty():
                print(file=sys.stderr)  # off the prompt's line: ctrl+c there echoes nothing
            print("runbook: interrupted at the token prompt; nothing was run", file=sys.stderr)
            return _INTERRUPTED
        if getattr(args, "host_only", False):
            # rehearse --host-only ends so: nothing ran, nothing to go on from.
            print("runbook: the rehearsal host is stopped", file=sys.stderr)
            return 0
        if args.command not in _JOURNALLED:
            # No run to stop: as an interrupted shell command ends (review).
            print("runbook: interrupted", file=sys.stderr)
            return _INTERRUPTED
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
    # Each command's module is imported as it is chosen: `--help` and `diff`
    # load nothing of the runs.
    if not paints(args):
        start_up_over()  # only a first paint is worth holding the collector for
    if args.command in ("report", "log"):
        from runbook.cli import records

        return records.report(args) if args.command == "report" else records.log(args)
    if args.command == "diff":
        from runbook.cli import review

        return review.review_properties(args)
    import asyncio

    from runbook.stopping import Stopper

    if args.command == "plan":
        from runbook.cli import plan

        return asyncio.run(plan.print_plan(args))
    stopper = Stopper()
    # A run's work matters more than its lines: a reader that goes away
    # (`| head`) must not stop it half-way.
    sys.stdout = _GoesOn(sys.stdout)
    if args.command == "run":
        from runbook.cli import run

        return asyncio.run(stopper.run(run.run_upgrade(args, stopper)))
    if args.command == "rehearse":
        from runbook.cli import rehearse

        return asyncio.run(stopper.run(rehearse.rehearse(args, stopper)))
    from runbook.cli import rollback

    return asyncio.run(stopper.run(rollback.roll_back(args, stopper)))


def _refusal(exc: Exception) -> int | None:
    """The exit code of a failure that ends a command with one line, said
    here (refusals.py raises most of them); None for anything else (a bug,
    shown whole)."""
    from runbook.config import CommandRefused, ConfigError, SecretUnavailable
    from runbook.hoststate import HostStateError
    from runbook.journal import JournalError, JournalWriteError
    from runbook.model import Outcome
    from runbook.rehearsal import RehearsalError

    if isinstance(exc, JournalWriteError):
        # Mid-run: the host may have been changed, so not bad input; a run
        # that cannot keep its record has failed.
        print(f"runbook: {visible(str(exc))}", file=sys.stderr)
        # Refused as it ended, its end kept: the run's own exit (review 61b, F5).
        return Outcome.FAILED.exit_code if exc.exit_code is None else exc.exit_code
    from runbook.properties.decisions import DecisionsError

    if isinstance(exc, CommandRefused):
        # As the door says its own: "runbook rehearse: ...".
        print(f"runbook {exc.command}: {visible(exc.said)} (see runbook {exc.command} --help)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(exc, ConfigError | SecretUnavailable | JournalError | RehearsalError |
                  HostStateError | DecisionsError):
        # A rehearsal host that could not be set up (its sandbox is busy,
        # say) ran nothing either: bad input, like a config error. So does a
        # damaged record of the host's, read before anything runs. A claim's
        # refusal the exit lines said first is not said again (trial 62, F6).
        if not getattr(exc, "told", False):
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


def _reader_gone() -> int:
    """A reader that went away (`runbook plan | head`) has all it wanted: end as
    `cat` would."""
    from runbook.report import EXIT_CLOSED_PIPE
    from runbook.streams import silence

    # Python flushes stdout once more on the way out: let that go nowhere.
    silence(sys.stdout.fileno())
    return EXIT_CLOSED_PIPE
