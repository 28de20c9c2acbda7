"""The runs in a folder of journals: the unfinished one an operator would pick
up again, one another runbook is writing now for the same host, and the last
finished cutover that times this one's downtime.

Each journal is read through runbook.journal (its records, its writer's lock)
and replayed whole only where a run's first record does not settle it.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import TYPE_CHECKING

from runbook.journal import JournalError, Record, first_record, in_use, read

# The replay of a journal (its dataclasses) loads with the first journal there
# is to replay: a run with none beside it paints first (issue 12).
if TYPE_CHECKING:
    from runbook.journal_replay import Replay


def unfinished(folder: Path, *, config: str | None = None,
               host: str | None = None) -> Replay | None:
    """The newest journal in `folder` whose run did not end with every step done,
    of `host` (user@address:port) if given and the journal says its host, else
    of `config` if given.

    That is the run an operator would want to pick up again: stopped, failed,
    in doubt, or cut off without a run-end at all; not one older than a run of
    the same host that finished (upgraded, or rolled back), which says where
    the host stands now. A run that began no step (began_no_step) is passed
    over for an older unfinished one that did, and is the one only where
    there is none (trial 55: a headless try stopped at its first question
    became the run --resume continued, in place of one 10 steps in). A
    damaged journal newer than that run is a JournalError naming its file
    and line, unless what it still shows is another host's (or config's) run."""
    def another(found_config: str | None, found_host: str | None) -> bool:
        return _another_run(found_config, found_host, config=config, host=host)

    if not folder.is_dir():
        return None
    journals = journals_in(folder)
    if not journals:
        return None
    from runbook.journal_replay import replay

    # The newest unfinished run that began no step, if no older one did.
    passed_over: Replay | None = None
    for path in journals:
        try:
            history = replay(path)
        except JournalError as exc:
            before = _run_before_damage(path)
            if before is not None and another(*before):
                continue  # another host's run: not the one to pick up here
            # It may be the very run to resume; going past it would pick an
            # older one, or none, and say nothing of why.
            raise JournalError(f"{exc}. It may hold the run to resume: repair it, move it "
                               "aside to look past it, or pass --journal to resume another") \
                from None
        if another(history.config, history.host):
            continue
        # Rolled back is an end too: the old stream manager is whole again, and
        # the next attempt starts afresh from a new snapshot.
        if history.ended_as is None:
            if began_no_step(path):
                passed_over = passed_over or history
                continue
            return history
        # ... and where the host stands: a run older than it is superseded
        # (trial 54, F24: one that failed at schema was offered, focused on
        # "Continue it", after a later run had upgraded the host; its preflight
        # then looked for the old release's java in the new install).
        return passed_over
    return passed_over


def last_ended(folder: Path, *, config: str | None = None,
               host: str | None = None) -> tuple[Replay, str | None] | None:
    """The newest run in `folder` of `host` (or `config`, as for unfinished)
    that ended, upgraded or rolled back, with the time of its journal's last
    record (None if that says none): where the host stands when there is no
    unfinished run to resume (trial 56b F4). A journal that cannot be read is
    passed over: this only says why there is nothing to resume."""
    from runbook.journal_replay import replay

    if not folder.is_dir():
        return None
    for path in journals_in(folder):
        try:
            history = replay(path)
            if _another_run(history.config, history.host, config=config, host=host):
                continue
            if history.ended_as is None:
                continue
            ts = None
            for record in read(path):
                ts = record.get("ts", ts)
        except (OSError, JournalError):
            continue
        return history, ts if isinstance(ts, str) else None
    return None


# What a run that got somewhere has on record: a step begun (its actions
# too), a cutover or a way back begun.
_BEGUN = frozenset({Record.STEP_START, Record.ACTION_START, Record.CUTOVER_START,
                    Record.WAY_BACK})


def began_no_step(path: Path) -> bool:
    """Whether the run in the journal at `path` (and every run resumed in it)
    began no step and settled none: stopped at its first question, or its
    first look failed (a connection refused). Such a run changed nothing and
    has nothing to go on from, so it never stands in for a run of the same
    host that got somewhere. Read only up to the first step begun; a journal
    that cannot be read is not passed over for it (its damage is said where
    it is read)."""
    try:
        for record in read(path):
            event = record.get("event")
            if event in _BEGUN or (event == Record.STEP_END
                                   and record.get("state") in ("done", "skipped")):
                return False
    except (OSError, JournalError):
        return False
    return True


def got_somewhere_before(newest: Path) -> Path | None:
    """Where the run in `newest` began no step: the newest journal beside it,
    last written before it, of a run of the same host (or config) that began
    one, which `report` and `log` read instead (trial 55: the report of a
    headless try stopped at its first question stood in for the prepare run
    10 steps in). None where `newest` began a step, or no such run is there."""
    start = first_record(newest)
    if start is None or not began_no_step(newest):
        return None
    for path in journals_in(newest.parent):
        if path == newest:
            continue
        try:
            if path.stat().st_mtime > newest.stat().st_mtime:
                continue
        except OSError:
            continue
        theirs = first_record(path)
        if theirs is None or _another_run(theirs.get("config"), theirs.get("host"),
                                          config=start.get("config"), host=start.get("host")):
            continue
        if not began_no_step(path):
            return path
    return None


def journals_in(folder: Path) -> list[Path]:
    """The journals in `folder`, newest first: its regular `*.jsonl` files. A
    pipe or a device named so is none, and one removed as it is listed
    (another runbook dropping the journal it claimed) is left out."""
    return [path for _, path in _journals_written(folder)]


def _journals_written(folder: Path) -> list[tuple[float, Path]]:
    """journals_in, each with when it was last written (one stat each)."""
    found: list[tuple[float, Path]] = []
    for path in folder.glob("*.jsonl"):
        try:
            status = path.stat()
        except OSError:
            continue
        if stat.S_ISREG(status.st_mode):
            found.append((status.st_mtime, path))
    return sorted(found, reverse=True)


def _another_run(found_config: str | None, found_host: str | None, *, config: str | None,
                 host: str | None) -> bool:
    """Whether a journal's run is another host's (or, when either does not
    say its host, another config's)."""
    if host is not None and found_host is not None:
        return found_host != host
    return config is not None and found_config != config


RUNNING_BESIDE = ("another runbook is running against this host now, writing this journal; "
                  "two runs would both act on the host: let that one finish, or stop it, first")


def running_beside(folder: Path, *, config: str | None = None,
                   host: str | None = None) -> Path | None:
    """The journal in `folder` that another runbook is writing now for the
    same host (or config), if any: a new run beside it would act on the host
    too (safety review: only a note said so)."""
    if not folder.is_dir():
        return None
    for path in journals_in(folder):
        if not in_use(path):
            continue
        start = first_record(path)
        if start is not None and not _another_run(start.get("config"), start.get("host"),
                                                  config=config, host=host):
            return path
    return None


def _run_before_damage(path: Path) -> tuple[str | None, str | None] | None:
    """The config and host of the last run a damaged journal records before
    the damage; None if it records none."""
    run = None
    try:
        for record in read(path):
            if record["event"] == Record.RUN_START:
                run = record.get("config"), record.get("host")
    except JournalError:
        pass
    return run


def same_path(mine: str | None, theirs: str | None, *, theirs_rehearsed: bool) -> bool:
    """Whether another run's cutover can time a run along the path `mine`:
    a production run names none and takes any; a production run stands for
    any rehearsal; a rehearsal only for one of its own path, which one
    journalled before the path was cannot say (review), as for the pace."""
    return mine is None or not theirs_rehearsed or mine == theirs


def last_downtime(folder: Path, *, besides: Path, pace: float | None,
                  unattended: bool | None = False, scenario: str | None = None,
                  before: float | None = None,
                  look_at: int = 10) -> tuple[float, Path] | None:
    """The downtime of the newest finished cutover among the journals in
    `folder` (other than `besides`, and last written before `before` when
    given) of runs at `pace` (see same_pace), answered the same way (by an
    operator, or `unattended` by --yes: a scripted cutover holds none of an
    operator's pauses): what the last comparable rehearsal or run took, as the
    estimate for this one. A run of unknown pace has none. A way back's time
    is not a cutover's, nor is one with a fault rehearsed in it, nor a
    rehearsal of another upgrade path than `scenario` (operator trial);
    another run's damaged journal is skipped.

    At most `look_at` journals are read whole. A run at another pace is passed
    over on its first line alone, without counting: a morning of fast
    rehearsals must not hide the last production run."""
    from runbook.journal_replay import journal_scenario, replay, run_pace, same_pace

    if pace is None or unattended is None or not folder.is_dir():
        return None

    def stands_for(their_pace: float | None, their_unattended: bool | None, faulted: bool,
                   their_scenario: str | None, rehearsed: bool) -> bool:
        """Whether a run so made can time this one: asked of a journal's
        first record, then of the whole run (a resume can change each)."""
        return (same_pace(pace, their_pace) and their_unattended is unattended
                and not faulted
                and same_path(scenario, their_scenario, theirs_rehearsed=rehearsed))

    journals = [p for written, p in _journals_written(folder) if p != besides
                and (before is None or written < before)]
    read_whole = 0
    for path in journals:
        if read_whole >= look_at:
            break
        opening = first_record(path)
        if opening is None or not stands_for(
                run_pace(opening), opening.get("unattended") is True,
                bool(opening.get("faults")), journal_scenario([opening]),
                opening.get("rehearsal") is not False):
            continue
        read_whole += 1
        try:
            earlier = replay(path)
        except (OSError, ValueError, KeyError, JournalError):
            continue
        if not stands_for(earlier.pace, earlier.unattended, earlier.faulted, earlier.scenario,
                          earlier.rehearsal is not False):
            continue  # resumed at another pace, answered otherwise, or with a fault
        if earlier.downtime_s is not None and earlier.outcome != "rolled-back":
            return float(earlier.downtime_s), path
    return None
