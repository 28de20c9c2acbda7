"""Append-only JSON Lines journal: what happened, in order, on disk before anywhere else.

Each record is one line, written before the front end hears of it, so after
a crash the journal says exactly which action was in flight. A record that
precedes a change (an action about to run, a step or the cutover ending) is
fsynced, and with it everything before it; the records between (output,
checks, answers) are synced with the next one: a kill -9 loses none of them,
and a power cut at worst the last lines of a step whose next action had not
started. Resume and the report read it back through runbook.journal_replay.

Records carry ``event`` plus event-specific fields; text is already redacted
by the caller (the executor passes everything through the run's redactor).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from runbook.statedir import (
    default_dir,
    lock_within,
    make_private,
    no_locks_here,
    unguarded,
    why_not,
)
from runbook.wholefile import special_file, sync_folder


class Record(StrEnum):
    """The ``event`` of a journal record: one spelling for the writer (the
    executor), the readers (resume, reports) and the tests. It lives here, not
    with the events, so that finding an unfinished run before the first paint
    does not load every event class (issue 12)."""

    RUN_START = "run-start"
    RUN_END = "run-end"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    # The reconnect waited out its limit: the connection stays lost.
    RECONNECT_GAVE_UP = "reconnect-gave-up"
    JOURNAL_REPAIRED = "journal-repaired"
    # The way back began: the report says what stands even if it did not finish.
    WAY_BACK = "way-back"
    CHECK = "check"
    CONFIRM = "confirm"
    STEP_START = "step-start"
    STEP_END = "step-end"
    ACTION_START = "action-start"
    ACTION_END = "action-end"
    OUTPUT = "output"
    NOTE = "note"
    FACTS = "facts"
    REVIEW_START = "review-start"
    REVIEW_END = "review-end"
    CUTOVER_START = "cutover-start"
    CUTOVER_END = "cutover-end"
    DETACHED = "detached"
    # The operator aborted the steps running: their commands were stopped.
    ABORTED = "aborted"


# Records that must be on disk before the run goes on (see the docstring).
# Anything else is synced with the next of these, or when the journal closes.
_SYNCED = frozenset({
    # WAY_BACK: the way back's first action may come minutes after the
    # operator chose it (a reconnect, the upgrade's jobs settling), and a run
    # resumed without it would go on forward (code review).
    Record.RUN_START, Record.RUN_END, Record.STEP_END, Record.ACTION_START, Record.WAY_BACK,
    Record.NOTE, Record.REVIEW_END, Record.CUTOVER_START, Record.CUTOVER_END,
    Record.DETACHED, Record.ABORTED, Record.JOURNAL_REPAIRED,
})


# A run-start record is a few hundred bytes; a first line longer than this is
# no journal's opening, and is not read on to its end to find out.
_FIRST_LINE_MAX = 1 << 20
# The records before a journal's first run-start: none, or a repair of a
# start torn by a crash (each start that tears adds one).
_OPENING_RECORDS = 4


# Journals hold hosts, paths and outputs: the operator's alone (their
# folders too: statedir.make_private).
_PRIVATE_FILE = 0o600


class JournalError(Exception):
    """A journal that cannot be written or read back; one line naming the file."""


class JournalWriteError(JournalError):
    """A record that did not reach the disk: the run cannot keep its account.
    `exit_code`: the run's own, where the record refused was its end and that
    end was kept (Journal._gone); None where the run failed for it."""

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Journal:
    def __init__(self, path: Path,
                 go_on: Callable[[Path], str | None] | None = None) -> None:
        """`go_on`: the command that goes on with the run in a journal at a
        path, as the exit lines give it, for a failure to name whole (trial
        60, F8); it gives None where nothing can go on (a throwaway
        rehearsal, whose host goes as it ends: F9). Not given: --resume."""
        self.path = path
        self._go_on = go_on
        # A one-line account of the torn end healed on opening, for the front end.
        self.repaired: str | None = None
        self._failure: str | None = None
        try:
            make_private(path.parent)
            made = not os.path.lexists(path)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, _PRIVATE_FILE)
            if made:
                sync_folder(path.parent)  # as claim does
        except OSError as exc:
            raise JournalError(f"{path}: cannot write the journal here "
                               f"({why_not(exc)})") from None
        # Two runs writing one journal would both act on the host. in_use's
        # look holds the lock for an instant: waited out, not taken for a run.
        # Where no lock can be had at all, refusing would stop every run: go
        # on, and say so (the host's lock, in the state folder, may stand).
        self.unlocked: str | None = None
        try:
            held_elsewhere = not lock_within(fd, _LOOKS_HOLD_S)
        except OSError as exc:
            if not no_locks_here(exc):
                os.close(fd)
                raise JournalError(f"{path}: cannot be locked ({exc.strerror or exc}), so "
                                   "a second runbook writing it could not be stopped; keep "
                                   "the journal on a local disk (--journal)") from None
            held_elsewhere = False
            self.unlocked = unguarded(path, exc, "a second runbook writing this journal")
        if held_elsewhere:
            os.close(fd)
            raise JournalError(f"{path}: {IN_USE}") from None
        # No buffered file object: a failed flush would leave half a record
        # queued to be written behind whatever comes next.
        self._fd: int | None = fd
        self._unsynced = False
        # The file this run writes: one removed or replaced at its path under
        # the run is checked for before each change (_gone).
        opened = os.fstat(fd)
        self._identity = (opened.st_dev, opened.st_ino)
        # A new run's journal, empty until its first record: one whose first
        # write fails holds nothing to go on with (--resume cannot help).
        self._began_empty = opened.st_size == 0
        self._written = False
        # Its contents as this run has them: what it found, and what it has
        # appended since. A file written over in place (the same inode:
        # `cp old.jsonl run.jsonl`, an editor's save) is told by its size and
        # its last bytes, and what the run recorded is kept from here (review
        # 60a, F3).
        self._data = bytearray(_contents(fd))
        # Where the run's records were kept, where another file took the
        # journal's place (its exit lines read this copy: review 60c, F4).
        self.kept_beside: Path | None = None
        # How the journal went, and where its records were kept, where it
        # went as the cutover ended: the run's last records go on there.
        self._ending: tuple[str, Path] | None = None
        try:
            self._heal(fd)
        except BaseException:
            self.close()
            raise

    def _heal(self, fd: int) -> None:
        """Cut a record torn by a crash mid-write off the end, before anything
        is appended to it and the damage ends up in the middle."""
        data = bytes(self._data)  # read as the journal opened
        keep = data.rfind(b"\n") + 1
        tail = data[keep:]
        if not tail:
            return
        line = data.count(b"\n", 0, keep) + 1
        whole = _record(tail) is not None
        try:
            if whole:
                self._append(b"\n")
            else:
                os.ftruncate(fd, keep)
                del self._data[keep:]
                os.fsync(fd)
        except OSError as exc:
            raise JournalError(f"{self.path}:{line}: cannot repair the torn end of the journal "
                               f"({exc.strerror or exc})") from None
        try:
            # What was cut off stays on record: which action was ending, say.
            self.write(Record.JOURNAL_REPAIRED, line=line, dropped_bytes=0 if whole else len(tail),
                       fragment="" if whole else tail.decode("utf-8", errors="replace"))
        except JournalWriteError as exc:
            # Still opening: nothing was done on the host, so not a failed run.
            raise JournalError(str(exc)) from None
        self.repaired = (
            f"{self.path}:{line}: the last record had lost its line end; added it" if whole
            else f"{self.path}:{line}: cut off a record torn as it was written (runbook "
                 f"killed, the machine stopped, or the disk filled; {len(tail)} bytes, kept in "
                 "a journal-repaired record)")

    @property
    def failure(self) -> str | None:
        """Why the journal stopped taking records, once a write failed."""
        return self._failure

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                  "mono": round(time.monotonic(), 3), "event": event, **fields}
        if self._failure is not None:
            # The last record may be half on disk: one more after it would
            # bury the tear in the middle, where reopening cannot heal it.
            raise JournalWriteError(self._failure)
        if self._ending is not None:
            return self._write_kept(record)
        line = _line(record)
        if event in _SYNCED and (gone := self._gone(record)) is not None:
            # Checked where a change follows, not for every line of output:
            # a stat is cheap beside the fsync these records get anyway.
            self._failure = gone
            # The run's end kept as the run ended it (_stopped_here): the
            # process ends with its code, not as a run that failed.
            code = record.get("exit_code") if event == Record.RUN_END else None
            raise JournalWriteError(gone, code if isinstance(code, int) else None)
        if self._ending is not None:
            return record  # the cutover's end, kept with the records before it (_gone)
        try:
            self._append(line, sync=event in _SYNCED)
        except OSError as exc:
            if self._began_empty and not self._written:
                self._failure = self._not_begun(exc)
                # Any part of that record goes: the file reads as a run that
                # never began (unwritten), not as one to go on with.
                if self._fd is not None:
                    with contextlib.suppress(OSError):
                        os.ftruncate(self._fd, 0)
            else:
                self._failure = (f"{self.path}: cannot write the journal "
                                 f"({exc.strerror or exc}); stopped rather than act unrecorded"
                                 + self._then("make room or fix the file", self.path, "--resume"))
            raise JournalWriteError(self._failure) from None
        self._written = True
        return record

    def _not_begun(self, exc: OSError) -> str:
        """A new run's first record refused: nothing was done, nothing to
        resume; where to make room (the state folder, named), then start again."""
        folder = self.path.parent
        said = why_not(exc, folder if folder == default_dir() else None)
        return (f"{self.path}: cannot write the journal ({said}). The run did not begin "
                "and changed nothing: start it again once the journal can be written")

    def _gone(self, refused: dict[str, Any]) -> str | None:
        """Why the journal's path no longer holds this run's records (the file
        removed or replaced while the run went on: operator trial 59, F9, went
        on into the cutover recording into a removed file), None while it does.
        What was recorded so far is written back, to its path where that is
        free, else beside it, for --resume and the way back to read, with the
        run's end: it stops here, before `refused` (_stopped_here). Where
        `refused` is the cutover's end, the run's work is over: that end is
        kept with the rest, and the run's last records follow it there
        (_write_kept), None said yet."""
        if self._fd is None:
            return None
        try:
            here = os.stat(self.path)
            at_path = (here.st_dev, here.st_ino) == self._identity
        except FileNotFoundError:
            here, at_path = None, False
        except OSError:
            return None  # cannot tell (a folder gone unreadable): the writes will say
        if at_path and os.fstat(self._fd).st_nlink > 0:
            if self._as_written():
                return None
            how = "written over in place (the same file, other contents)"
        else:
            how = "removed" if here is None else "replaced by another file"
        # The cutover's end is written only once the run's last step is over:
        # nothing acts after it, so the run ends as it really did, and the
        # host's record of the cutover closes as it would have (the run ended
        # failed and left that record open: the next run took the stream
        # manager as down).
        ending = refused.get("event") == Record.CUTOVER_END.value
        kept = self._keep(self.path if here is None else None,
                          _line(refused) if ending else _stopped_here(how, refused))
        if kept is not None and kept != self.path:
            self.kept_beside = kept
        if ending and kept is not None:
            self._ending = (how, kept)
            return None
        if _its_own_end(refused):
            # Nothing was left to act on: the run ended, and its end is kept
            # with the rest (review 61b, F5).
            return self._gone_as_it_ended(how, kept, refused)
        if kept is None:
            then = ": what the run had recorded could not be written back"
        elif kept == self.path:
            # Its path said once: the line is read at 80 columns (trial 60, F8).
            back = "what the run had recorded is back in its place"
            then = self._then(back, kept, f"--resume --journal {kept}", back)
        else:
            # The host's record of a cutover names the journal's path, not
            # the copy (review 59c M1: `--journal` with the copy was refused
            # and sent to the other file): the copy goes back to the path.
            then = self._then(f"what the run had recorded is in {kept}: move the file now at "
                              f"{self.path} aside, put {kept} in its place", self.path,
                              f"--resume --journal {self.path}",
                              f"what the run had recorded is in {kept}")
        # Its path an aside, which a screen short of room leaves out before
        # it cuts the command that goes on (trial 60, F8).
        return f"the journal was {how} during the run ({self.path}); stopped rather than " \
            f"act unrecorded{then}"

    def _gone_as_it_ended(self, how: str, kept: Path | None, end: dict[str, Any]) -> str:
        """What the run says of a journal that went as it ended, `end` the
        run-end it kept (where `kept`, if anywhere)."""
        ended = f"with its end ({end['outcome']}, exit {end.get('exit_code')})"
        if kept is None:
            then = "; what the run had recorded could not be written back"
        elif kept == self.path:
            then = f"; what the run had recorded, {ended}, is back in its place"
        else:
            then = (f"; what the run had recorded, {ended}, is in {kept}: move the file now "
                    f"at {self.path} aside and put {kept} in its place")
        return f"the journal was {how} as the run ended ({self.path}){then}"

    def _write_kept(self, record: dict[str, Any]) -> dict[str, Any]:
        """One of the run's last records, after its journal went as the
        cutover ended, added to the records kept (_gone). Its run-end, kept
        as the run ended, is refused as any end whose journal went is
        (JournalWriteError with the run's exit code), which says so."""
        assert self._ending is not None
        how, kept = self._ending
        end = record["event"] == Record.RUN_END
        if end:
            record = {**record, "journal_lost_at_end": how}
        try:
            fd = os.open(kept, os.O_WRONLY | os.O_APPEND)
            try:
                view = memoryview(_line(record))
                while view:
                    view = view[os.write(fd, view):]
                if end or record["event"] in _SYNCED:
                    os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            self._failure = (f"the journal was {how} as the run ended ({self.path}); its last "
                             f"records could not be added to what was kept in {kept} "
                             f"({exc.strerror or exc})")
            raise JournalWriteError(self._failure) from None
        if end and _its_own_end(record):
            self._failure = self._gone_as_it_ended(how, kept, record)
            code = record.get("exit_code")
            raise JournalWriteError(self._failure, code if isinstance(code, int) else None)
        return record

    def _then(self, first: str, journal: Path, plain: str, kept: str = "") -> str:
        """': {first}, then' the command that goes on with the run in
        `journal` (`plain` where none was given); where nothing can go on,
        where the records are (`kept`) and what to do instead."""
        command = self._go_on(journal) if self._go_on is not None else plain
        if command is None:
            return (f"{': ' + kept if kept else ''}. This rehearsal's sandbox is removed as it "
                    "ends, so nothing goes on from here; rehearse with --sandbox DIR to "
                    "practise going on from a stop")
        then = "then" if command == "--resume" else "then go on with"
        return f": {first}, {then} {command}"

    def _as_written(self) -> bool:
        """Whether the file holds what this run has it hold, as far as its size
        and last bytes tell; True where it cannot be read (the writes will say)."""
        assert self._fd is not None
        try:
            opened = os.fstat(self._fd)
            if not stat.S_ISREG(opened.st_mode):
                return True  # no size to go by (a device)
            if opened.st_size != len(self._data):
                return False
            tail = min(len(self._data), _TAIL_LOOKED_AT)
            return os.pread(self._fd, tail, len(self._data) - tail) == \
                self._data[len(self._data) - tail:]
        except OSError:
            return True

    def _keep(self, path: Path | None, ending: bytes = b"") -> Path | None:
        """The records written so far, then `ending`, in a new file at `path`
        (else beside the journal's), made only where nothing is; None where
        none could be."""
        assert self._fd is not None
        try:
            data = bytes(self._data) + ending
            if path is None:
                path = claim(self.path.parent, f"{self.path.stem}-kept")
                flags = os.O_WRONLY | os.O_APPEND
            else:
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            fd = os.open(path, flags, _PRIVATE_FILE)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            sync_folder(path.parent)
        except (OSError, JournalError):
            return None
        return path

    def _append(self, data: bytes, *, sync: bool = True) -> None:
        if self._fd is None:
            raise ValueError(f"{self.path}: the journal is closed")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            self._data += view[:written]
            view = view[written:]
        if sync:
            os.fsync(self._fd)
        self._unsynced = not sync

    @property
    def size(self) -> int:
        """How many bytes of records the file holds, as this run has them."""
        return len(self._data)

    def take_back(self, size: int) -> bool:
        """The records after the first `size` bytes taken back: those of a
        run that was refused before it changed anything (a claim refused at
        its first step: review 61b, F4), which leaves what a refusal at its
        start leaves. Only while the file is this run's, as written; whether
        it was done."""
        if self._fd is None or self._failure is not None or size > len(self._data):
            return False
        try:
            here = os.stat(self.path)
            if (here.st_dev, here.st_ino) != self._identity or not self._as_written():
                return False  # another file, or written over: not this run's to cut
            os.ftruncate(self._fd, size)
            os.fsync(self._fd)
        except OSError:
            return False
        del self._data[size:]
        self._unsynced = False
        return True

    def sync(self) -> None:
        """What was written, on disk now: a size measured after this is one a
        power cut leaves (the host's record of a cutover keeps it)."""
        if self._fd is not None and self._unsynced:
            os.fsync(self._fd)
            self._unsynced = False

    def close(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            if self._unsynced:
                os.fsync(fd)
            os.close(fd)


def _its_own_end(refused: dict[str, Any]) -> bool:
    """Whether the record refused is the run's own end, with an outcome."""
    return refused.get("event") == Record.RUN_END.value \
        and isinstance(refused.get("outcome"), str)


def _stopped_here(how: str, refused: dict[str, Any]) -> bytes:
    """The run's end, as the records kept of a journal that went under it
    end: failed (the executor ends such a run so, exit 1), because its journal
    was `how` ("removed", ...), before the `refused` record and what it
    begins. Without it the next session read no end and said the run was cut
    off by a kill, and the step whose next action never began in doubt
    (operator trial 60, F10). The run's own run-end cannot follow: every write
    after this one is refused. Where `refused` is that run-end, it is the
    end kept, as the run said it (done, stopped, rolled back: review 61b,
    F5), its journal's going noted apart from journal_lost, which says the
    run stopped for it."""
    from runbook.model import Outcome

    if _its_own_end(refused):
        return _line({**refused, "journal_lost_at_end": how})
    before = {key: refused[key] for key in ("event", "step", "n") if key in refused}
    return _line({"ts": refused["ts"], "mono": refused["mono"], "event": Record.RUN_END.value,
                  "outcome": Outcome.FAILED.value, "exit_code": Outcome.FAILED.exit_code,
                  "journal_lost": how, "before": before})


def _line(record: dict[str, Any]) -> bytes:
    """A record as its journal line. A lone surrogate (a path given in bytes
    that are not UTF-8, as Python decodes argv) goes in as its JSON escape:
    the line stays UTF-8 and reads back as given (review 57a, F4: it raised)."""
    return (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode(
        "utf-8", "backslashreplace")


# The last bytes of the journal compared with the run's own at each record
# before a change: a file written over with as many bytes is told by them.
_TAIL_LOOKED_AT = 4096


def _contents(fd: int) -> bytes:
    # Bounded by the size: a device (such as /dev/full) reads on forever.
    size = os.fstat(fd).st_size
    chunks: list[bytes] = []
    offset = 0
    while offset < size and (chunk := os.pread(fd, size - offset, offset)):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _record(line: bytes) -> dict[str, Any] | None:
    """The record on one line, or None if the line is not one."""
    try:
        record = json.loads(line)
    # Not JSON, not UTF-8 (a character torn in two), or nested past what the
    # parser recurses into (operator trial: a crash out of every command).
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("event"), str):
        return None
    return record if _well_formed(record) else None


# What the readers (resume, report, log) take each of these fields to be.
# A journal edited by hand or damaged on disk is a line-numbered error, never
# a traceback from deep in a reader (bad-input trial: "lines": -1, an attempt
# of {}, an elapsed_s of 1e308). None stands for a value not known.
_FIELDS: dict[str, tuple[type, ...]] = {
    "ts": (str,), "step": (str,), "attempt": (str, int), "n": (int,), "lines": (list,),
    "steps": (list,), "cutover": (list,), "leaves": (dict,), "facts": (dict,),
    "way_back_did": (dict,), "not_undone": (dict,),
    "elapsed_s": (int, float),
    "state": (str,), "detail": (str,), "text": (str,),
}
# Far past any count, size, time or duration a run records (a millisecond
# timestamp is 1.8e12): beyond it, sums and conversions overflow.
_LARGEST = 1e15


def _well_formed(record: dict[str, Any]) -> bool:
    if record["event"] == Record.CUTOVER_START and not _a_time(
            cutover_began(record, str(record.get("ts", "")))):
        return False  # the downtime counts from it (code review: a traceback)
    for name, value in record.items():
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and not abs(value) < _LARGEST:  # not, so that NaN fails too
            return False
        kinds = _FIELDS.get(name)
        if kinds is not None and value is not None and (
                not isinstance(value, kinds) or isinstance(value, bool)):
            return False
    # An output record's lines are [stream, text] pairs, as report and log
    # both read them (security trial: report failed on a third item with
    # Python's own words, and log passed the line over without a word).
    return record["event"] != Record.OUTPUT or all(
        isinstance(item, list) and len(item) == 2 and all(isinstance(part, str) for part in item)
        for item in record.get("lines") or [])


def claim(folder: Path, name: str) -> Path:
    """A new journal `name`.jsonl in `folder`, made now, empty and private; if
    that name is taken, `name`-2.jsonl and on. Made, not only named: of two
    runs choosing at once, each gets a name of its own (O_EXCL)."""
    try:
        make_private(folder)
    except OSError as exc:
        raise JournalError(f"{folder}: cannot make the journals' folder "
                           f"({exc.strerror or exc})") from None
    path, n = folder / f"{name}.jsonl", 2
    while True:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE))
            sync_folder(folder)  # the journal's name outlives a power cut, as its records do
            return path
        except FileExistsError:
            path, n = folder / f"{name}-{n}.jsonl", n + 1
        except OSError as exc:
            raise JournalError(f"{path}: cannot write the journal here "
                               f"({why_not(exc)})") from None


def kept_copy(journal: Path) -> Path | None:
    """The newest copy of `journal`'s records a run kept beside it as it
    stopped (Journal._keep: NAME-kept.jsonl, NAME-kept-2.jsonl, ...), if any."""
    copies = [path for path in journal.parent.glob(f"{glob.escape(journal.stem)}-kept*.jsonl")
              if path.is_file()]
    return max(copies, key=lambda path: path.stat().st_mtime, default=None)


def kept_later(journal: Path, elsewhere: Iterable[Path] = ()) -> Path | None:
    """The copy a run kept as its journal went under it (Journal._keep:
    NAME-kept.jsonl, NAME-kept-2.jsonl, ...) where that copy holds more of the
    run than `journal` does: its records begin with the journal's and go on.
    An older copy put in the journal's place, whose last steps and end the
    run recorded in the kept copy alone (operator trial 60, F10). Looked for
    beside `journal` and in the folders `elsewhere`, where the run's journal
    may have been (for a copy given from another folder: the way back's
    --journal, --resume --journal); by its records, not its name, which a
    copy need not keep. Of several, the one that holds the most."""
    try:
        ours = journal.read_bytes()
    except OSError:
        return None
    if not ours:
        return None  # nothing to tell one run's records by
    found, most = None, len(ours)
    for folder in dict.fromkeys([journal.parent, *elsewhere]):
        for path in sorted(folder.glob("*-kept*.jsonl")):
            try:
                if not path.is_file() or (size := path.stat().st_size) <= most \
                        or path.samefile(journal):
                    continue
                # Its beginning only: kept copies of long runs build up in
                # the folder, and each look read them whole (review 62b, L8).
                with path.open("rb") as kept:
                    begins = kept.read(len(ours))
            except OSError:
                continue
            if begins == ours:
                found, most = path, size
    return found


def unwritten(path: Path) -> bool:
    """No journal at `path`, or one claimed for a run that has written
    nothing yet (claim)."""
    try:
        return not path.is_file() or path.stat().st_size == 0
    except OSError:
        return True


def drop_if_unwritten(path: Path | None) -> None:
    """Remove a journal claimed for a new run that never began one: the
    operator continued the earlier run, or left before either."""
    if path is not None and unwritten(path):
        with contextlib.suppress(OSError):
            path.unlink()


def read(path: Path, *, torn: Callable[[int], None] | None = None
         ) -> Iterator[dict[str, Any]]:
    """Records of a journal. A torn LAST line (a crash mid-write, no line end
    after it) is dropped, and `torn` told its length; damage anywhere else is
    an error naming the line, because replaying around it would guess."""
    if special_file(path):
        raise JournalError(f"{path}: is not a regular file (a pipe or a device); give the "
                           "path of a run's journal")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise JournalError(f"{path}: cannot be read as a journal "
                           f"({exc.strerror or exc})") from None
    # Split on the line end only: JSON leaves U+2028 and friends unescaped,
    # and str.splitlines would cut a record at them.
    *lines, tail = data.split(b"\n")
    for number, line in enumerate(lines, start=1):
        record = _record(line)
        if record is None and number == 1:
            # Nothing of it a record: another file, not a run's journal gone bad
            # (operator trial: /etc/passwd was called damaged).
            raise JournalError(f"{path}: not a runbook journal (its first line is no journal "
                               "record); give the path of a run's journal")
        if record is None:
            raise JournalError(f"{path}:{number}: not a journal record; the file is damaged")
        yield record
    # A whole record that lost only its line end still happened.
    last = _record(tail) if tail else None
    if last is not None:
        yield last
    elif tail and torn is not None:
        torn(len(tail))


def text_of(value: Any) -> str:
    """A record's field as text: a journal written by hand or by an older
    runbook may hold a number or null where text is meant. One coercion for
    every reader of records (the report, the log)."""
    return value if isinstance(value, str) else "" if value is None else str(value)


def flags_of(record: dict[str, Any], name: str) -> dict[str, bool] | None:
    """A record's field that maps step ids to yes or no (not_undone); None
    where the record has none (an older runbook's)."""
    found = record.get(name)
    if not isinstance(found, dict):
        return None
    return {text_of(key): value is True for key, value in found.items()}


def texts_of(record: dict[str, Any], name: str) -> dict[str, str]:
    """A record's field that maps step ids to text (leaves, way_back_did), as
    text_of reads each; empty where the record has none."""
    found = record.get(name)
    if not isinstance(found, dict):
        return {}
    return {text_of(key): text_of(value) for key, value in found.items()}


def _a_time(value: object) -> bool:
    """Whether `value` is a time as the journal writes one (ISO 8601), that a
    clock can count from (year 1, naive, has no local time: second review)."""
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value).astimezone().timestamp()
    except (ValueError, OverflowError, OSError):
        return False
    return True


def cutover_began(record: dict[str, Any], ts: str) -> str:
    """When a cutover-start record says the cutover began: runbook's record of
    the moment for the host, or, in journals from before it (or a damaged
    field), `ts`, the record's own time. The replay and the report both count
    from it."""
    began = record.get("began")
    return began if isinstance(began, str) and began else ts


IN_USE = "another runbook is writing this journal; let it finish or stop it first"


# Far longer than in_use holds a journal's lock to ask (an open, a flock and
# a close), far shorter than anyone would notice.
_LOOKS_HOLD_S = 0.2


def in_use(path: Path) -> bool:
    """Whether another runbook holds `path` to write (its lock, see Journal).
    A pipe or a device is no journal: opened to look, a pipe would wait for a
    writer (code review: `runbook run` hung on one among the journals)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        # Shared: a look needs no more, and NFS gives a file opened only to
        # read no lock for writing (EBADF). Another look is no writer.
        return not lock_within(fd, _LOOKS_HOLD_S, shared=True)
    except OSError as exc:
        return not no_locks_here(exc)  # none to be had is none held; else cannot tell
    finally:
        os.close(fd)  # and with it the lock just taken


def is_a_journal(path: Path) -> bool:
    """Whether `path` is a run's journal: one with a run's start, or one another
    runbook has just claimed (its lock, no record yet). What writes a file
    the operator names (a report, a merged file) never writes over one."""
    return path.is_file() and (first_record(path) is not None or in_use(path))


def first_record(path: Path) -> dict[str, Any] | None:
    """A journal's first run-start, without reading the rest: the journals of
    long runs are big. A journal healed at its start opens with the
    journal-repaired record, so a few records are looked at, not one."""
    try:
        with path.open("rb") as file:
            for _ in range(_OPENING_RECORDS):
                record = _record(file.readline(_FIRST_LINE_MAX))
                if record is None or record.get("event") == Record.RUN_START:
                    return record
    except OSError:
        return None
    return None
