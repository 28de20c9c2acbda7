"""What runbook keeps about a host between runs, beside (not inside) the journals.

A journal belongs to one run; some facts belong to the host and must outlive
any run that is killed, abandoned or started afresh:

* when its cutover began (the stream manager has been down since), and
* the fleet snapshots taken of it, with their time and API version: the
  nodegroups a cutover deletes are rebuilt from the one taken before the
  cutover began, whatever later runs find on the emptied system.

Everything here is the operator's alone: folders 0700, files 0600, written
whole (a temporary file, fsync, rename) so a crash never leaves half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.statedir import make_private, why_not
from runbook.wholefile import atomic_write, sync_folder

if TYPE_CHECKING:
    from collections.abc import Iterator

    from runbook.journal_replay import Replay


class HostStateError(Exception):
    """The host's state cannot be read or written; one line naming the file."""


# Node states of a node on its way out (FACTS-scenarios section 4, 6.2.0's
# STOPPING, TERMINATING, DISPOSED; the 4.0 docs name "terminating", FACTS.md
# section 2.4): not one a launch would wait for, nor one the fleet still has.
# Every other state, or none, counts as standing: a retry that launched again
# for a NULL or UNRESPONSIVE origin would leave more origins than there were
# (review). 5.1.1 has the same states but RESETTING (AM's commons-1.2.10
# NodeState, read with javap; facts audit 57b L1).
LEAVING = frozenset({"stopping", "terminating", "disposed"})


def standing_origins(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The origins among a nodegroup's nodes that are not on their way out:
    the ones a launch has to wait for rather than make again."""
    return [node for node in nodes if node.get("role") == "origin"
            and str(node.get("state") or "").lower() not in LEAVING]


def origins_to_rebuild(group: dict[str, Any]) -> int:
    """How many origins recreate launches (and waits for) in place of the
    saved nodegroup `group`: its standing origins, and at least one. One
    count for recreate, the fleet guard, export and the report (review 61,
    F3: recreate counted an origin on its way out at export, launched one
    more than the fleet had, and at the policy's origin limit never
    finished)."""
    return max(1, len(standing_origins(group.get("nodes") or [])))


@dataclass(frozen=True)
class Snapshot:
    """What export-config kept of the fleet before the cutover deleted the
    nodegroups: each nodegroup with its regions and origins, the launch
    configs and the scale policies."""
    path: Path
    taken: str  # ISO time, UTC
    api_version: str | None
    data: dict[str, Any]

    @property
    def nodegroups(self) -> list[dict[str, Any]]:
        return list(self.data.get("nodegroups", []))

    @property
    def origins(self) -> int:
        """Its origins the fleet has (standing_origins): those on their way
        out at export are none recreate rebuilds."""
        return sum(len(standing_origins(group.get("nodes") or []))
                   for group in self.nodegroups)

    def taken_by(self, journal: Path) -> bool:
        """Whether the run journalled in `journal` took it, however the path
        is spelt (snapshots from before kept it as given: read from here)."""
        recorded = self.data.get("journal")
        return isinstance(recorded, str) and bool(recorded) and \
            _same_file(Path(recorded), journal)

    def describe(self) -> str:
        return (f"the snapshot taken {self.taken} (API {self.api_version}; "
                f"{len(self.nodegroups)} nodegroup(s), {self.origins} origin(s)), {self.path}")


@dataclass(frozen=True)
class Cutover:
    """The host's record that a cutover began, and which journal began it."""
    began: str  # ISO time, UTC, of the first cutover action on the host
    journal: str  # absolute: a command run from another folder reads the same file
    # The snapshot the run that began it took, which its deletes went by, as
    # a path here (HostState.cutover finds the record's); empty in records
    # from before it was kept, or when that run took none.
    snapshot: str = ""
    # How long its journal was as the record was written, just before its
    # cutover-start: a journal shorter than that is an older copy, not one
    # cut off between the two (review 60a, F6). None in records from before
    # it was kept, or where the journal was not there yet.
    journal_bytes: int | None = None

    def journalled_in(self, path: Path) -> bool:
        """Whether `path` is this cutover's journal, however it is spelt."""
        return _same_file(Path(self.journal), path)


@dataclass(frozen=True)
class EndedCutover:
    """A cutover this host's record says ended: when it began, its journal,
    and how it ended ("upgraded", "rolled back")."""

    began: str
    journal: str
    how: str


def _same_file(one: Path, other: Path) -> bool:
    """The same file however spelt (links included); the same absolute path
    when either is not there to compare."""
    with contextlib.suppress(OSError, ValueError):  # ValueError: a NUL in a recorded path
        return os.path.samefile(one, other)
    try:
        return os.path.realpath(one) == os.path.realpath(other)
    except (OSError, ValueError):
        return False


def by_hand(snapshot: str, record: Path, remove_claim: str | None = None) -> str:
    """The way back where runbook has no journal to take it from: the README's,
    by hand, from the fleet in `snapshot` (where the record names one); then
    how to end this machine's `record` of the cutover and the host's claim,
    which would refuse every later run (review 60a, F4). The claim is root's,
    beside the install: `remove_claim`, the command that removes it, where
    the config is known (claim.Place.removal), else named by install.dir; an
    older runbook's in the SSH user's home goes too."""
    from runbook.claim import LEGACY, NAME

    fleet = f"; the fleet to rebuild is in {snapshot}" if snapshot else ""
    claim = remove_claim or (f"sudo rm -r INSTALL/{NAME} (INSTALL: the config's install.dir; "
                             "without sudo where the SSH user is root)")
    return (f"take the README's way back (\"The way back\") by hand{fleet}. Once the old "
            f"stream manager is back, remove {record} here, and on the host the claim "
            f"with {claim} (and {LEGACY} of the SSH user, if an older runbook "
            "left one): runbook then takes the cutover as ended")


def _older_than_the_cutover(found: Cutover, record: Path) -> str:
    """Why the journal at a cutover's path cannot be gone on with: it is an
    older copy, from before the cutover began; and what is left to do."""
    from runbook.journal import kept_copy
    from runbook.standing import said_time

    journal = Path(found.journal)
    kept = kept_copy(journal)
    if kept is not None:
        left = (f"What that run recorded is in {kept}, which runbook wrote: move "
                f"{journal} aside, put that file in its place, and run this again")
    else:
        left = ("Put back a copy written at or after the cutover began, if there is one; "
                f"if not, {by_hand(found.snapshot, record)}")
    return (f"{journal}: the journal put back is older than the cutover that began here at "
            f"{said_time(found.began)}, and it cannot tell what was done: the stream manager "
            f"may be down. Nothing was changed now. {left}")


def _seq(snapshot: Snapshot) -> int:
    """Its place in the order snapshots were written (0: from before it was kept)."""
    seq = snapshot.data.get("seq")
    return seq if isinstance(seq, int) else 0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _write_private(path: Path, data: dict[str, Any]) -> None:
    # Whole, under a temporary name of its own (two runs on one host never
    # share one), and the rename made durable: the snapshot may be the only
    # record of the nodegroups (safety review).
    try:
        atomic_write(path, json.dumps(data, indent=2).encode("utf-8"), private=True)
    except OSError as exc:
        raise HostStateError(f"{path}: cannot be written ({why_not(exc)})") from None


def _private_folder(folder: Path) -> Path:
    """`folder`, made if missing, for the owner alone."""
    try:
        make_private(folder)
    except OSError as exc:
        raise HostStateError(f"{folder}: cannot be created ({why_not(exc)})") from None
    return folder


def _read(path: Path, mend: str = "move it aside if it is damaged") -> dict[str, Any]:
    """The state file at `path`; HostStateError saying what is wrong and `mend`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise HostStateError(f"{path}: cannot be read ({exc}); {mend}") from None
    if not isinstance(data, dict):
        raise HostStateError(f"{path}: is not a runbook state file; {mend}")
    return data


# Where a host's folder is kept under the state dir, and its record of the
# cutover under way in that folder.
_HOSTS = "hosts"
_CUTOVER = "cutover.json"
# Its pointer to the last snapshot written (HostState._pointer).
_LAST_SNAPSHOT = "last-snapshot.json"


@dataclass(frozen=True)
class _Pointer:
    """The host's pointer to its last snapshot (last-snapshot.json), as read."""

    seq: int  # of the last snapshot written: the next one's is one more
    path: Path  # that snapshot
    journal: str  # the journal of the run that took it


def _snapshot_names(folder: Path) -> set[str]:
    """The names of the snapshots in `folder` (none where it is not there)."""
    try:
        return {name for name in os.listdir(folder) if name.endswith(".json")}
    except FileNotFoundError:
        return set()



def cutover_under_way_in(root: Path) -> bool:
    """Whether a cutover is recorded under way for a host kept under `root` (a
    rehearsal sandbox's own state dir holds its one host)."""
    return any((root / _HOSTS).glob(f"*/{_CUTOVER}"))


def keep_snapshots(source: Path, target: Path) -> None:
    """Every host's snapshots under the state dir `source`, written to the same
    place under `target`, as private as they were. A throwaway rehearsal's
    state dir goes with its sandbox, while its journal stays: the report of
    that journal finds its snapshot beside it."""
    for path in sorted((source / _HOSTS).glob("*/snapshots/*.json")):
        folder = _private_folder(target / path.relative_to(source).parent)
        _write_private(folder / path.name, _read(path))


def _shown_argv() -> list[str]:
    """This process's command line, as `runbook ...`, for the lock's holder line."""
    import sys

    return ["runbook", *sys.argv[1:]] if sys.argv else ["runbook"]


class HostState:
    """The state folder of one host (``ROOT/hosts/ADDRESS-PORT``)."""

    def __init__(self, root: Path, address: str, port: int) -> None:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{address}-{port}")
        self._root = root
        self.path = root / _HOSTS / name
        self.target = f"{address}:{port}"

    def _folder(self, *parts: str) -> Path:
        return _private_folder(self.path.joinpath(*parts))

    # --- one run at a time ------------------------------------------------------

    @contextlib.contextmanager
    def held(self) -> Iterator[str | None]:
        """This host, for one runbook of this machine at a time, from before a
        run asks anything (its token, the TUI's resume dialog) to its end: a
        journal is locked only once its run begins, and a second run started
        meanwhile went on beside the first (code review). The kernel lets go
        of it when the process ends, even killed outright. Where the state
        folder cannot be locked at all (some network filesystems), the run
        goes on, and the front end says so: what it yields is that note."""
        from runbook.statedir import lock_within, no_locks_here, unguarded

        self._folder()
        lock = self.path / "run.lock"
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise HostStateError(f"{lock}: cannot be opened ({why_not(exc, self._root)})") from None
        try:
            try:
                taken = lock_within(fd, 0)
            except OSError as exc:
                if no_locks_here(exc):
                    yield unguarded(lock, exc, "a second runbook against this host from "
                                    "this machine")
                    return
                raise HostStateError(f"{lock}: cannot be locked ({exc.strerror or exc}), so "
                                     "a second runbook against this host could not be "
                                     "stopped; keep runbook's state folder on a local disk "
                                     "(XDG_STATE_HOME)") from None
            if not taken:
                holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip()
                raise HostStateError(
                    f"{self.target}: another runbook on this machine is working on this host "
                    f"({holder or 'it holds ' + str(lock)}); let it finish, or stop it, "
                    "first") from None
            # Who holds it, for the refusal above; only the holder writes here.
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"pid {os.getpid()}: {' '.join(_shown_argv())}\n".encode(), 0)
            except OSError as exc:
                raise HostStateError(f"{lock}: cannot be written "
                                     f"({why_not(exc, self._root)})") from None
            yield None
        finally:
            os.close(fd)

    # --- cutover ----------------------------------------------------------------

    @property
    def cutover_record(self) -> Path:
        """This machine's record of the cutover under way (removed by hand
        only once the way back was taken by hand: see by_hand)."""
        return self.path / _CUTOVER

    def cutover(self) -> Cutover | None:
        """The cutover under way on this host, if one began and has not ended."""
        if not self.cutover_record.exists():
            return None
        # Not "move it aside": it is what keeps a new run off a stream manager
        # that is down (re-trial: moved, a new run began there).
        data = _read(self.cutover_record, mend=(
            "it records a cutover under way on this host: mend it (JSON with `began`, the "
            "time of the journal's cutover-start, and `journal`, that journal's path) rather "
            "than remove it, which would let a new run begin over a stream manager that is "
            "down"))
        began, journal = data.get("began"), str(data.get("journal", ""))
        try:
            datetime.fromisoformat(began)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            # Every run reckons the downtime from it (code review: a traceback).
            raise HostStateError(
                f"{self.cutover_record}: its start of the cutover under way, {began!r}, is not "
                "a time; write back when it began (as the `began` of the cutover-start record "
                f"in {journal or 'its journal'})") from None
        size = data.get("journal_bytes")
        return Cutover(str(began), journal, self._snapshot_named(str(data.get("snapshot") or "")),
                       size if isinstance(size, int) and not isinstance(size, bool) else None)

    def _snapshot_named(self, named: str) -> str:
        """The snapshot the cutover's record names, as a path here: where the
        record says, while it is there, else by its name in this host's
        snapshots folder (same name, same snapshot: names are unique per
        host's folder). Review 58a, L7: the state folder copied to another
        HOME mid-cutover, the recorded path found none though the file was
        here. The record keeps the absolute path, which any runbook reads."""
        if not named:
            return ""
        path = Path(named)
        here = self.path / "snapshots" / path.name
        return str(here) if not path.is_file() and here.is_file() else named

    def snapshot_missing(self) -> Path | None:
        """The snapshot the cutover under way names where it is not there:
        the file to put back, for the steps that cannot go on without it."""
        cutover = self.cutover()
        if cutover is None or not cutover.snapshot:
            return None
        named = Path(cutover.snapshot)
        # Where neither place has it: where this host keeps its snapshots.
        return None if named.is_file() else self.path / "snapshots" / named.name

    def begin_cutover(self, journal: Path, in_use: str | None = None,
                      at: str | None = None) -> Cutover:
        """Record the first cutover action; a cutover already under way keeps
        its start (a resumed or new run does not restart the clock). The
        snapshot named is the one the run deletes by (`in_use`, where it is
        there), else the last its journal took (run_snapshot): the rule the
        steps go by before the cutover (review 58a, M2: a re-export cut off
        before the facts named it, and the fleet back as the first export
        had it, made the record name another fleet than the delete's).
        `at`: when it begins, where the host's claim was marked so first."""
        found = self.cutover()
        if found is not None:
            return found
        self._folder()
        mine = self.run_snapshot(journal, in_use)
        try:
            size: int | None = journal.stat().st_size
        except OSError:
            size = None
        began = Cutover(at or _now(), str(journal.resolve()), str(mine) if mine else "", size)
        record: dict[str, Any] = {"began": began.began, "journal": began.journal,
                                  "snapshot": began.snapshot}
        if size is not None:
            record["journal_bytes"] = size
        _write_private(self.cutover_record, record)
        return began

    def drop_cutover_never_begun(self, known: Replay | None = None) -> Cutover | None:
        """The record of a cutover under way, removed (and returned) where its
        journal, there and readable, holds no cutover-start (review 58a, L1).
        The record is written just before the journal's cutover-start, and
        nothing is sent before both are: a run cut off between the two (killed,
        or its journal full) changed nothing, as its journal says. Left, the
        record told every later reader otherwise: a new run refused with the
        way back offered, which `runbook rollback` then refused; the stream
        manager down since then; a resumed run's fleet guard passed over, and
        its clock started at the old record. A journal not there, or that
        cannot be read, keeps the record: nothing then says nothing was sent.
        Nor does one shorter than it was as the record was written: an older
        copy put back, which cannot tell what the cutover did; that raises
        HostStateError saying so (review 60a, F6). The one rule for the runs,
        `runbook run`'s refusal and the way back.
        `known`: a journal read already (a resumed run's), not read again
        where the record names it."""
        found = self.cutover()
        if found is None:
            return None
        # Here, not at the top, and only with a record to check: the first
        # paint reads the host's record, and none of the journal's readers
        # (test_cli_imports).
        from runbook.journal import JournalError
        from runbook.journal_replay import replay

        try:
            history = known if known is not None and known.path is not None \
                and found.journalled_in(known.path) else replay(Path(found.journal))
        except (JournalError, OSError):
            return None
        if history.cutover_started is not None:
            return None
        if found.journal_bytes is not None:
            try:
                now = Path(found.journal).stat().st_size
            except OSError:
                return None
            if now < found.journal_bytes:
                raise HostStateError(_older_than_the_cutover(found, self.cutover_record))
        try:
            self.cutover_record.unlink(missing_ok=True)
        except OSError as exc:
            raise HostStateError(f"{self.cutover_record}: cannot be removed "
                                 f"({exc.strerror or exc})") from None
        sync_folder(self.path)
        return found

    def end_cutover(self, how: str) -> None:
        """The stream manager is whole again (upgraded or rolled back): the next
        upgrade of this host starts from a fresh snapshot."""
        found = self.cutover()
        if found is None:
            return
        done = self._ended_file(found.began)
        self._folder("cutovers")
        _write_private(done, {"began": found.began, "journal": found.journal, "ended": _now(),
                              "how": how})
        try:
            self.cutover_record.unlink(missing_ok=True)
        except OSError as exc:  # one line, as every error of this folder (second review)
            raise HostStateError(f"{self.cutover_record}: cannot be removed "
                                 f"({exc.strerror or exc})") from None
        sync_folder(self.path)  # else a power cut could bring the ended cutover back

    def ended(self, began: str) -> str | None:
        """How the cutover that began at `began` ended ("upgraded", "rolled
        back"), if this host's record says it did; None if it knows of no end."""
        try:
            datetime.fromisoformat(began)  # a name made of it stays in cutovers/
        except ValueError:
            return None
        path = self._ended_file(began)
        if not path.is_file():
            return None
        return str(_read(path).get("how") or "no word of how")

    def last_ended(self) -> EndedCutover | None:
        """The last cutover this host's record says ended, if any (trial 58,
        M2: rollback without --journal after a finished upgrade asked for a
        journal this record names)."""
        folder = self.path / "cutovers"
        names = sorted(folder.glob("*.json")) if folder.is_dir() else []
        if not names:
            return None
        data = _read(names[-1])  # names are the start times: the last is the newest
        return EndedCutover(str(data.get("began") or ""), str(data.get("journal") or ""),
                            str(data.get("how") or "no word of how"))

    def _ended_file(self, began: str) -> Path:
        return self.path / "cutovers" / f"{began.replace(':', '')}.json"

    # --- snapshots --------------------------------------------------------------

    def save_snapshot(self, data: dict[str, Any], *, journal: Path) -> Snapshot:
        taken = _now()
        folder = self._folder("snapshots")
        # Which was written last, whatever the clock said: a run's newest is
        # its highest (review 57c, M1: by time, a re-export after the clock
        # stepped back lost to the export before it).
        pointer = self._pointer()
        if pointer is not None:
            seq = 1 + pointer.seq
        else:
            seq = 1 + max((_seq(s) for s in self.snapshots()), default=0)
        # Named by the sequence too: two in one millisecond were one file
        # (review 58a, L6).
        path = folder / f"{taken.replace(':', '')}-{seq}.json"
        record = {**data, "taken": taken, "host": self.target, "seq": seq,
                  "journal": str(journal.resolve())}  # found again from any folder
        _write_private(path, record)
        # After the snapshot, never before: killed between the two (or not
        # written at all), the pointer does not know the new file, and is not
        # trusted (_pointer); the snapshot is what must not fail.
        with contextlib.suppress(HostStateError, OSError):
            _write_private(self._pointer_file, {
                "seq": seq, "snapshot": path.name, "journal": record["journal"],
                "names": sorted(_snapshot_names(folder) | {path.name})})
        return Snapshot(path, taken, data.get("api_version"), record)

    # The host's pointer to its last snapshot, so that saving one and beginning
    # the cutover (in the downtime) read one file, not every snapshot ever
    # taken of the host. Beside the snapshots, not among them: their folder
    # holds snapshots alone (keep_snapshots copies it whole).
    @property
    def _pointer_file(self) -> Path:
        return self.path / _LAST_SNAPSHOT

    def _pointer(self) -> _Pointer | None:
        """The pointer, where it can be trusted: it names every snapshot in the
        folder (a run killed after writing one and before the pointer left one
        it does not) and the one it calls the last is there. None where it is
        missing (state dirs from before it), unreadable or out of date: the
        snapshots are read instead."""
        try:
            data = json.loads(self._pointer_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        seq, name, journal, names = (data.get("seq"), data.get("snapshot"),
                                     data.get("journal"), data.get("names"))
        if not (isinstance(seq, int) and isinstance(name, str) and isinstance(journal, str)
                and isinstance(names, list)):
            return None
        path = self.path / "snapshots" / name
        try:
            if not _snapshot_names(path.parent) <= set(names) or not path.is_file():
                return None
        except OSError:
            return None
        return _Pointer(seq, path, journal)

    def run_snapshot(self, journal: Path | None, in_use: str | None) -> Path | None:
        """The snapshot a run goes by before its cutover: the one its facts
        name (`in_use`) while that file is there, else the same file (its
        name) beside the journal or in this host's snapshots folder, else the
        last its journal took. A colleague going on with a copy of the journal
        on another machine puts the snapshot beside that copy: the path the
        journal names is the first machine's (trial 62, F4)."""
        if in_use:
            for path in self._named_snapshot_places(journal, in_use):
                if path.is_file():
                    return path
        return self._last_of(journal) if journal is not None else None

    def _named_snapshot_places(self, journal: Path | None, in_use: str) -> list[Path]:
        """Where the snapshot a journal names is looked for, in order: where
        it names, beside the journal, in this host's snapshots folder (names
        are unique per host: the same name is the same snapshot)."""
        named = Path(in_use)
        # Absolute: the cutover's record keeps the path it is found at.
        beside = [Path(os.path.abspath(journal)).parent / named.name] \
            if journal is not None else []
        return [named, *beside, self.path / "snapshots" / named.name]

    def snapshot_not_here(self, journal: Path, in_use: str | None) -> str | None:
        """Where the snapshot a run rebuilds the fleet from is on no path
        here: the file, and where to put it; None where it is found, or where
        no snapshot is named (the steps say that in their words). The rule
        the steps go by: the cutover's record first (snapshot_missing), else
        the snapshot the run's journal names (run_snapshot)."""
        if self.cutover() is not None:
            missing = self.snapshot_missing()
            return None if missing is None else \
                f"the cutover's record names {missing}; put that file back there"
        if not in_use or self.run_snapshot(journal, in_use) is not None:
            return None
        beside = Path(os.path.abspath(journal)).parent / Path(in_use).name
        return (f"the journal names {in_use}, which is not on this machine: export-config "
                "saved it in runbook's state folder on the machine that ran it. Copy that "
                f"file beside the journal, as {beside}")

    def _last_of(self, journal: Path) -> Path | None:
        """The last snapshot the run journalled in `journal` took."""
        pointer = self._pointer()
        if pointer is not None and _same_file(Path(pointer.journal), journal):
            return pointer.path
        # Another run's was the last (or no pointer to go by): every one is read.
        mine = max((taken for taken in self.snapshots() if taken.taken_by(journal)),
                   key=lambda taken: (_seq(taken), taken.taken), default=None)
        return mine.path if mine else None

    def snapshots(self) -> list[Snapshot]:
        """Every snapshot of this host, oldest first."""
        folder = self.path / "snapshots"
        if not folder.is_dir():
            return []
        found = []
        for path in sorted(folder.glob("*.json")):
            data = _read(path)
            found.append(Snapshot(path, str(data.get("taken", "")), data.get("api_version"),
                                  data))
        return sorted(found, key=lambda s: (s.taken, _seq(s)))

    def load(self, path: Path) -> Snapshot:
        data = _read(path)
        return Snapshot(path, str(data.get("taken", "")), data.get("api_version"), data)

    def before_cutover(self) -> Snapshot | None:
        """The snapshot every run rebuilds from once a cutover began: the one
        its record names (the run that began it took it), else the newest one
        taken before its first action. Not by the clock where the record says:
        stepped back between the export and the first DELETE, the clock chose
        an earlier attempt's snapshot, another fleet (review 57a, F2)."""
        cutover = self.cutover()
        if cutover is None:
            return None
        if cutover.snapshot:
            # Named but gone: none, rather than another fleet found by the clock.
            named = Path(cutover.snapshot)
            return self.load(named) if named.is_file() else None
        earlier = [s for s in self.snapshots() if s.taken < cutover.began]
        return earlier[-1] if earlier else None

    def latest(self) -> Snapshot | None:
        found = self.snapshots()
        return found[-1] if found else None


def down_since(host: HostState, previous: Replay | None) -> float | None:
    """When the stream manager went down, if it is down now: the host's own
    record first (it outlives a lost or restarted journal, and the executor
    counts from it too), else the unfinished earlier run's cutover-start.
    What every front end says at the start of a run that continues a cutover."""
    with contextlib.suppress(HostStateError, ValueError, OSError):
        under_way = host.cutover()
        if under_way is not None:
            return datetime.fromisoformat(under_way.began).timestamp()
    if previous is not None and previous.cutover_started and previous.downtime_s is None:
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(previous.cutover_started).timestamp()
    return None
