"""What a run refuses on this machine before anything connects or changes,
and the looks behind those refusals: each refusal a ConfigError, which the
door says in one line (exit 2; door._refusal)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runbook.config import Settings
    from runbook.hoststate import HostState
    from runbook.journal_replay import Replay


def refuse_a_config_this_machine_cannot_use(settings: Settings) -> None:
    """What this machine alone can refuse of a production config, refused
    before a token is typed (review): `run` and `rollback` alike."""
    refuse_what_this_procedure_cannot_do(settings)
    _refuse_a_rehearsals_config(settings)
    _refuse_ssh_files_it_cannot_use(settings)


def refuse_what_this_procedure_cannot_do(settings: Settings) -> None:
    """Checked on this machine before anything connects: a distribution this
    procedure cannot install is bad input, and nothing on the host changes."""
    from runbook.config import ConfigError
    from steps import red5

    if settings.distribution.is_file():
        refused = red5.not_for_this_procedure(settings.distribution)
        if refused:
            raise ConfigError(settings.source, refused, key="artifacts.distribution")


def refuse_sets_the_template_refuses(settings: Settings, earlier: Replay | None) -> str | None:
    """The config's [properties] set against the template the distribution
    ships: a word for a true/false key, a unit on a number, found now rather
    than by the properties step in the window (review, operator trial). The
    live file, read only on the host, is the step's to check. As for the
    decisions file, not for a run going on from a cutover, whose properties
    step is trusted from then on, nor for the way back, which never merges
    (second review: rollback was refused over it). What it returns says why
    the values were not checked, for `plan` to say (README walkthrough: a
    plan without the zip here passed them in silence); None when they were,
    or when there is nothing to check."""
    from runbook.config import ConfigError
    from steps import red5

    if not settings.property_overrides:
        return None
    if earlier is not None and earlier.cutover_started is not None:
        return None
    if not settings.distribution.is_file():
        return f"the distribution {settings.distribution} is not there"
    shipped = red5.shipped_template(settings.distribution)
    if shipped is None:
        return f"no red5-web.properties can be read here in {settings.distribution}"
    from runbook.properties import PropertiesError, against_the_template, decode_properties

    data, name = shipped
    try:
        said = against_the_template(decode_properties(data, name), name,
                                    settings.property_overrides)
    except PropertiesError:
        # unpack and the properties step say what is wrong with it
        return f"its red5-web.properties cannot be read here ({settings.distribution})"
    if said:
        raise ConfigError(settings.source, f"{'; '.join(said)} (in {name})",
                          key="properties.set")
    return None


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


def refuse_artifacts_not_here(settings: Settings) -> None:
    """The distribution zip and the cloud-controller jar the config names, on
    this machine, looked at before anything connects as the SSH files are
    (trial 55, F7: a mistyped path was found by preflight, after connecting,
    exit 1, in words that named no setting); the jar a zip. Not for `rollback`, which
    uploads nothing, nor for `plan`, which may be made on a machine that does
    not hold them and says so in a note."""
    from runbook.config import ConfigError

    for key, path, what in (
            ("artifacts.distribution", settings.distribution, "the Red5 Pro server zip"),
            ("artifacts.cloud_controller", settings.cloud_controller,
             "the cloud controller jar")):
        if not path.is_file():
            raise ConfigError(settings.source, f"{path} is not on this machine (or is not a "
                              f"file): download {what} to it first, or correct the path",
                              key=key)
        try:
            path.open("rb").close()
        except OSError as exc:
            raise ConfigError(settings.source, f"{path} cannot be read "
                              f"({exc.strerror or exc}); give runbook read access to it",
                              key=key) from None
    # A jar is a zip: one that does not open as one is no jar (trial 57, F10).
    # Which class it must hold is the live install's to say, at preflight.
    from steps import red5

    # No bean to compare yet: the check refuses or says nothing.
    found = red5.jar_check(settings.cloud_controller, None, None)
    if found is not None:
        raise ConfigError(settings.source, found.text, key="artifacts.cloud_controller")


@contextmanager
def holding_the_host(state: HostState, say: Callable[[str], None] | None = None
                     ) -> Iterator[None]:
    """The host, for this runbook alone while it works (HostState.held, which
    refuses when another holds it). Where no lock can be had at all, the run
    goes on and says so before anything is asked: to `say` (the TUI's notes,
    which it shows on its screen), else on stderr."""
    from runbook.visible import visible

    with state.held() as unguarded:
        if unguarded and say is not None:
            say(f"note: {unguarded}")
        elif unguarded:
            print(f"runbook: {visible(unguarded)}", file=sys.stderr)
        yield


@contextmanager
def said_if_refused(notes: list[str]) -> Iterator[None]:
    """The notes gathered for the TUI's screen, printed if what follows is
    refused before the screen opens: no screen will say them then."""
    try:
        yield
    except BaseException:
        for note in notes:
            print(note)
        raise


def refuse_a_second_cutover(state: HostState, continuing: Path | None,
                            resume_command: Callable[[str], str],
                            way_back: Callable[[str], str | None], *,
                            remove_claim: Callable[[], str] | None = None) -> None:
    """A cutover under way on the host belongs to the run that began it: a new
    run would re-export the emptied system and work from the wrong snapshot.
    The refusal names the commands that go on with it (`resume_command`,
    given its journal) and that take the way back (`way_back`; operator
    trial: after a kill -9 it named only going on), and the moment the
    cutover began as the operator's clock shows it. `remove_claim` gives the
    command that removes the host's claim, asked only where the refusal names
    it: every run passes here before its first paint, and what works it out
    (runbook.claim) is not loaded for a host with no cutover (issue 12)."""
    # Its run cut off before its journal said the cutover began: nothing was
    # sent, and the live stream manager serves as before (review 58a, L1).
    state.drop_cutover_never_begun()
    under_way = state.cutover()
    if under_way is None:
        return
    if (how := _ended_in_its_journal(under_way.journal)) is not None:
        # Its run ended it, and could not write so here (a full disk): the
        # journal is the word on it (code review); also when that run is the
        # one continued, else the front ends' clocks (down_since) say the
        # stream manager is down while the new one serves.
        state.end_cutover(how)
        return
    if continuing is not None and under_way.journalled_in(continuing):
        return
    from runbook.config import ConfigError
    from runbook.standing import said_time

    if not Path(under_way.journal).is_file():
        # Trial 59, F9: both commands below failed on the missing journal.
        raise ConfigError(state.target, journal_gone(
            said_time(under_way.began), under_way.journal, under_way.snapshot,
            way_back(under_way.journal) or resume_command(under_way.journal),
            state.cutover_record, remove_claim() if remove_claim is not None else None))
    raise ConfigError(state.target, _cutover_under_way(
        said_time(under_way.began), resume_command(under_way.journal),
        way_back(under_way.journal), going_back=_going_back_in_its_journal(under_way.journal)))


def journal_gone(began_at: str, journal: str, snapshot: str, command: str,
                 record: Path, remove_claim: str | None = None) -> str:
    """What is left to do for a cutover under way whose journal, `journal`, is
    gone: a copy put back lets `command` (the way back, or on) work; without
    one, the way back by hand, from the fleet in `snapshot`. Only a copy from
    the cutover on knows what it did (review 60a, F6: an older one was read
    as a cutover that never began)."""
    return (f"a cutover began here at {began_at} and has not ended, so the stream manager "
            f"may be down, and its journal, {journal}, is gone: if there is a copy of it "
            "written at or after the cutover began (or the -kept copy runbook wrote beside "
            f"it), put it back there and run {command}; if not, "
            f"{by_hand(snapshot, record, remove_claim)}")


def by_hand(snapshot: str, record: Path, remove_claim: str | None = None) -> str:
    """The way back by hand, and how to end the cutover for runbook after it
    (runbook.hoststate.by_hand: the record's refusal of an older copy says it too)."""
    from runbook.hoststate import by_hand as said

    return said(snapshot, record, remove_claim)


def _cutover_under_way(began_at: str, resume: str, back: str | None, *,
                       going_back: bool) -> str:
    """Why a new run is refused while a cutover is under way, and the commands
    that go on with it (`resume`) and back (`back`)."""
    began = f"a cutover began here at {began_at} and has not ended"
    if going_back:
        # Both commands go on back: the way back's first, said as what it is
        # (operator trial 54: "go on with it" read as going on with the upgrade).
        return (f"{began}, and the way back to the old stream manager is under way: go on "
                f"back with {back}; or resume that run, which goes on back too: {resume}"
                if back else
                f"{began}, and the way back to the old stream manager is under way: go on "
                f"back with {resume}")
    return f"{began}; go on with it: {resume}" + (
        f"; or go back to the old stream manager: {back}" if back else "")


def refuse_a_new_run_over_an_unfinished_one(
        earlier: Replay | None, *, headless: bool, new_run: bool,
        resume_command: Callable[[str], str], way_back: Callable[[str], str | None],
        start_anew: str) -> None:
    """A new run beside `earlier`, the host's unfinished run (earlier_runs.
    unfinished), where nobody chose one over it: headless, with no dialog to
    ask in (trial 55: a note, and a new run whose empty journal --resume and
    report then followed), unless --new-run (`new_run`) asked for it. The
    refusal names the command that goes on with it (`resume_command`, given
    its journal) and `start_anew`, which starts a new run on purpose. While
    its cutover is under way by its journal, a new run is refused either way,
    as the TUI's dialog offers none: that run's cutover is its own; the
    refusal names the way back (`way_back`) instead."""
    from runbook.config import ConfigError
    from runbook.standing import said_time, service_state

    if earlier is None or earlier.path is None:
        return
    journal = str(earlier.path)
    began = earlier.cutover_started
    if began is not None and earlier.downtime_s is None:
        if headless or new_run:
            raise ConfigError(journal, "holds this host's unfinished run: " + _cutover_under_way(
                said_time(began), resume_command(journal), way_back(journal),
                going_back=earlier.way_back_taken))
        return
    if headless and not new_run:
        raise ConfigError(journal, f"holds this host's unfinished run; {service_state(earlier)}. "
                          "Headless, there is no dialog to ask which run to go on with, so no "
                          f"new run starts beside it: go on with it: {resume_command(journal)}; "
                          f"or start a new run on purpose, leaving it as it is: {start_anew}")


def _going_back_in_its_journal(journal: str) -> bool:
    """Whether the run in `journal` took the way back (its record of it, or
    one of its steps); False if it cannot be read."""
    from runbook.journal import JournalError
    from runbook.journal_replay import replay

    try:
        return replay(Path(journal)).way_back_taken
    except (JournalError, OSError):
        return False


def _ended_in_its_journal(journal: str) -> str | None:
    """How the run in `journal` ended its cutover ("upgraded", "rolled back"),
    when its journal says it did; None if it did not, or cannot be read."""
    from runbook.journal import JournalError
    from runbook.journal_replay import replay
    from runbook.model import Outcome

    try:
        run = replay(Path(journal))
    except (JournalError, OSError):
        return None
    if run.downtime_s is None:  # no cutover-end that says it completed
        return None
    # Its run-end cut off as it was written, too (trial 54: closed as
    # "upgraded"): once the way back began, only its end ends the cutover.
    went_back = run.outcome == Outcome.ROLLED_BACK.value or run.way_back_taken
    return "rolled back" if went_back else "upgraded"


def refuse_a_run_beside(folder: Path, settings: Settings) -> None:
    """A new run beside another runbook writing a journal for the same host
    in `folder` would act on the host too (safety review)."""
    from runbook.config import ConfigError
    from runbook.earlier_runs import RUNNING_BESIDE, running_beside

    beside = running_beside(folder, **runs_of(settings))
    if beside is not None:
        raise ConfigError(str(beside), RUNNING_BESIDE)


def runs_of(settings: Settings) -> dict[str, str]:
    """How this config's runs are told from others' in a journal folder: a
    host's by the host, whatever path its config was given by (operator
    trial: the command a run printed to go on, with the config's absolute
    path, was refused for a run started with a relative one); a rehearsal's
    by its sandbox's config, as its port can change from one start to the next.
    (A journal that does not say its host is told by its config.)"""
    return {"config": settings.source} if settings.rehearsal else \
        {"host": settings.host.target, "config": settings.source}


def refuse_decisions_the_run_cannot_use(settings: Settings, earlier: Replay | None) -> None:
    """The properties step reads the decisions file, eight steps in: a path
    that leads nowhere, a file it cannot read, and a secret it names whose
    variable is not set are said before the run begins (operator trials). Not
    for a run going on from a cutover (review: a mid-cutover resume from
    another machine; the step is trusted from then on) or from a skip of the
    step, nor for `plan`, which may come before `runbook diff` writes it, nor
    for the way back, which never reads it."""
    from runbook.config import ConfigError
    from runbook.model import StepState

    if settings.decisions is None:
        return
    # A run resumed before its cutover checks properties again, done or not.
    if earlier is not None and (earlier.cutover_started is not None or earlier.state(
            "properties") is StepState.SKIPPED):
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


def refuse_a_journal_in_use(path: Path, *, continues: str = "--resume continues it") -> None:
    """A new run writes a journal of its own. Appended to one that holds a run,
    it read afterwards as that run resumed: in the report, the log and the
    lookups of the way back (operator trial). `continues`: what goes on with
    an unfinished run there, as this command is given."""
    from runbook.config import ConfigError
    from runbook.journal import JournalError
    from runbook.journal_replay import replay
    from runbook.wholefile import special_file

    if path.is_dir():
        raise ConfigError(str(path), "is a folder; --journal names a journal file")
    if special_file(path):
        # Bad-input trial: /dev/null was taken, and failed as a disk out of room.
        raise ConfigError(str(path), "is not a regular file (a pipe or a device); give "
                          "--journal a file that does not exist yet")
    try:
        if not path.is_file() or path.stat().st_size == 0:
            return  # none yet, or one made empty for this run
        earlier = replay(path)
    except (OSError, JournalError):
        raise ConfigError(str(path), "holds something runbook cannot read as a journal; "
                          "give --journal a file that does not exist yet") from None
    if earlier.ended_as is not None:
        ended = "finished" if earlier.ended_as == "done" else "rolled back"
        raise ConfigError(str(path), f"holds a run that {ended}; give --journal a file "
                          "that does not exist yet")
    raise ConfigError(str(path), f"holds an unfinished run; {continues}, or give "
                      "--journal a file that does not exist yet for a new run")


def drill_step(args: argparse.Namespace) -> str | None:
    """The --rollback-after step, when it names one the way back can follow."""
    after: str | None = getattr(args, "rollback_after", None)
    if after is None:
        return None  # before the procedure is imported: the first paint waits for this
    from runbook.config import CommandRefused
    from runbook.model import Phase
    from steps import procedure, way_back

    command = getattr(args, "command", None) or "run"
    # Only a cutover step has something to go back from: before the first
    # one the live stream manager has not changed.
    cutover = [step.id for step in procedure() if step.phase is Phase.CUTOVER]
    choose = f"choose a cutover step: {', '.join(cutover)}"
    if after in {step.id for step in way_back()}:
        raise CommandRefused(command, f"--rollback-after {after} is a step of the way back, "
                             "not of the cutover; it names the cutover step after which "
                             f"the way back begins: {choose}")
    if after not in {step.id for step in procedure()}:
        raise CommandRefused(command, f"--rollback-after {after} is no step of the procedure; "
                             f"{choose}")
    if after not in cutover:
        raise CommandRefused(command, f"--rollback-after {after} comes before the cutover, "
                             "when nothing of the live stream manager has changed and there "
                             f"is no way back to take; {choose}")
    return after
