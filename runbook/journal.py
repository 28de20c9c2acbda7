"""Append-only JSON Lines journal: what happened, in order, on disk before anywhere else.

Each record is one line, written before the front end hears of it, so after
a crash the journal says exactly which action was in flight. A record that
precedes a change (an action about to run, a step or the cutover ending) is
fsynced, and with it everything before it; the records between (output,
checks, answers) are synced with the next one: a kill -9 loses none of them,
and a power cut at worst the last lines of a step whose next action had not
started. Resume and the report read it back through :func:`replay`.

Records carry ``event`` plus event-specific fields; text is already redacted
by the caller (the executor passes everything through the run's redactor).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from runbook.model import REAL_PACE, StepState
from runbook.statedir import lock_within, make_private, no_locks_here, unguarded
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
    """A record that did not reach the disk: the run cannot keep its account."""


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
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
                               f"({exc.strerror or exc})") from None
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
        try:
            self._heal(fd)
        except BaseException:
            self.close()
            raise

    def _heal(self, fd: int) -> None:
        """Cut a record torn by a crash mid-write off the end, before anything
        is appended to it and the damage ends up in the middle."""
        data = _contents(fd)
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
            else f"{self.path}:{line}: cut off a record torn by a crash mid-write "
                 f"({len(tail)} bytes; kept in a journal-repaired record)")

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
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        try:
            self._append(line.encode("utf-8"), sync=event in _SYNCED)
        except OSError as exc:
            self._failure = (f"{self.path}: cannot write the journal ({exc.strerror or exc}); "
                             "stopped rather than act unrecorded: make room or fix the file, "
                             "then --resume")
            raise JournalWriteError(self._failure) from None
        return record

    def _append(self, data: bytes, *, sync: bool = True) -> None:
        if self._fd is None:
            raise ValueError(f"{self.path}: the journal is closed")
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]
        if sync:
            os.fsync(self._fd)
        self._unsynced = not sync

    def close(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            if self._unsynced:
                os.fsync(fd)
            os.close(fd)


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
    "way_back_did": (dict,),
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
                               f"({exc.strerror or exc})") from None


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


@dataclass
class StepHistory:
    """What the journal says of one step: where it got to, and what is in doubt."""
    state: StepState = StepState.PENDING
    detail: str = ""
    skip_reason: str = ""
    # Actions started without a recorded end: their outcome is unknown.
    in_flight: list[str] = field(default_factory=list)
    # Their jobs on the host (runbook.jobs), to look for before a retry.
    in_flight_jobs: list[str] = field(default_factory=list)
    # Its last attempt was aborted by the operator (its commands stopped), not
    # cut off by a crash or a lost connection.
    aborted: bool = False
    # Some attempt of it started a change on the host (its reads are not
    # journalled): what it leaves is only there once it has.
    acted: bool = False
    # How long the attempt that got it to its state ran; one that only found
    # it so ran nothing, and leaves the time as it was.
    elapsed_s: float | None = None


@dataclass
class Replay:
    """What a journal says about a run, step by step."""

    path: Path | None = None
    config: str | None = None
    host: str | None = None
    # Whether the run was a rehearsal; None when no run-start says.
    rehearsal: bool | None = None
    # Whether the journal held any record at all.
    empty: bool = True
    steps: dict[str, StepHistory] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    # What the steps had learnt (versions, snapshot path...), as last recorded.
    facts: dict[str, Any] = field(default_factory=dict)
    cutover_started: str | None = None
    downtime_s: float | None = None
    # The pace the run went at (journal_pace): None when unknown.
    pace: float | None = None
    # Whether --yes answered every step (journal_unattended): None when a
    # resume changed it.
    unattended: bool | None = False
    # Whether its last run was --headless: the commands that go on from it
    # are named so, as its exit lines name them.
    headless: bool = False
    # A rehearsal's upgrade path (journal_scenario), and whether any of its
    # runs rehearsed a fault: either makes its cutover no estimate for another.
    scenario: str | None = None
    faulted: bool = False
    # The steps of the run, in order, as its latest start that listed any did.
    step_ids: list[str] = field(default_factory=list)
    finished: bool = False
    outcome: str | None = None
    # The exit code its last run ended with (128 + a signal's number when one ended it).
    exit_code: int | None = None
    # The steps of the way back that began, in order: empty until it is taken.
    way_back: list[str] = field(default_factory=list)
    way_back_taken: bool = False
    # What each step leaves that the way back does not undo (Step.after_the_way_back).
    leaves: dict[str, str] = field(default_factory=dict)

    def state(self, step_id: str) -> StepState:
        return self.steps.get(step_id, StepHistory()).state

    def way_back_chosen(self, way_back: Iterable[str]) -> bool:
        """The operator chose the way back: its record, written as they chose
        it, before the first of its steps (`way_back`, their ids) looked at
        the host; in journals older than that record, a record of one of
        them. The one rule for the executor, the exit lines and the resume
        dialog (review: they had drifted apart)."""
        return self.way_back_taken or any(step in self.steps for step in way_back)

    def left_by_the_way_back(self) -> list[str]:
        """What the steps that changed something leave that the way back does
        not undo (left_behind)."""
        return left_behind(self.leaves, lambda step: step in self.steps
                           and self.steps[step].acted)


def left_behind(leaves: Mapping[str, str], acted: Callable[[str], bool]) -> list[str]:
    """What each step that `acted` (an action on record) leaves that the way
    back does not undo, from the run-start's `leaves`: one rule for the
    replay and the report. A step that changed nothing leaves nothing
    (operator trial: a recreate that failed on its first read was said to
    leave nodegroups in the new database)."""
    return [text for step, text in leaves.items() if acted(step)]


def text_of(value: Any) -> str:
    """A record's field as text: a journal written by hand or by an older
    runbook may hold a number or null where text is meant. One coercion for
    every reader of records (the report, the log)."""
    return value if isinstance(value, str) else "" if value is None else str(value)


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


def replay(path: Path) -> Replay:
    result = Replay(path=path)
    # Keyed by attempt too: a resumed step numbers its actions from 1 again.
    open_actions: dict[tuple[str, str, int], tuple[str, str | None]] = {}
    starts: list[dict[str, Any]] = []
    for record in read(path):
        result.empty = False
        event = record.get("event")
        step = record.get("step", "")
        history = result.steps.setdefault(step, StepHistory()) if step else None
        if event == Record.RUN_START:
            starts.append(record)
            # A resumed run appends to the same journal: it reopens the story.
            result.config = record.get("config")
            result.host = record.get("host")
            rehearsal = record.get("rehearsal")
            result.rehearsal = rehearsal if isinstance(rehearsal, bool) else None
            # The way back alone (`runbook rollback`) lists no upgrade steps:
            # the upgrade's are still the run's (operator trial: its exit
            # line counted every step held, the way back's too).
            result.step_ids = [str(s) for s in record.get("steps") or []] or result.step_ids
            result.headless = record.get("headless") is True
            leaves = record.get("leaves")
            if isinstance(leaves, dict):
                result.leaves.update({str(k): str(v) for k, v in leaves.items()})
            result.finished = False
            result.outcome = None
        elif event == Record.WAY_BACK:
            result.way_back_taken = True
        elif event == Record.STEP_START and history is not None:
            history.state = StepState.RUNNING
            # A new attempt: the run that began it settled the earlier ones
            # first (review: their commands read as in flight on a step done since).
            history.in_flight_jobs.clear()
            for key in [key for key in open_actions if key[0] == step]:
                del open_actions[key]
            history.aborted = False
        elif event == Record.ABORTED:
            for aborted in record.get("steps") or []:
                if isinstance(aborted, str) and aborted in result.steps:
                    result.steps[aborted].aborted = True
        elif event == Record.ACTION_START:
            if history is not None:
                history.acted = True
            key = (step, record.get("attempt", ""), record.get("n", 0))
            open_actions[key] = (record.get("text", ""), record.get("job"))
        elif event == Record.ACTION_END:
            ended = open_actions.pop((step, record.get("attempt", ""), record.get("n", 0)), None)
            if ended is not None and ended[1] and record.get("status") == "unknown" \
                    and history is not None:
                # Its end never came back: the command may still run on the host.
                history.in_flight_jobs.append(ended[1])
        elif event == Record.STEP_END and history is not None:
            try:
                state = StepState(str(record.get("state")))
            except ValueError:
                raise JournalError(f"{path}: unknown step state {record.get('state')!r}") \
                    from None
            elapsed = record.get("elapsed_s")
            if isinstance(elapsed, int | float) and not isinstance(elapsed, bool):
                history.elapsed_s = float(elapsed)
            elif state is not history.state:
                # Found so without running: no time of its own, and the last
                # one was another attempt's (second review: a failure's time
                # beside a later "done").
                history.elapsed_s = None
            history.state = state
            history.detail = record.get("detail", "")
            history.skip_reason = record.get("reason", "")
        elif event == Record.NOTE:
            result.notes.append(record)
        elif event == Record.FACTS:
            result.facts.update(record.get("facts", {}))
            leaves = record.get("leaves")
            if isinstance(leaves, dict):
                result.leaves.update({str(k): str(v) for k, v in leaves.items()})
        elif event == Record.CUTOVER_START:
            result.cutover_started = result.cutover_started or cutover_began(
                record, str(record.get("ts", "")))
        elif event == Record.CUTOVER_END and record.get("complete", True):
            result.downtime_s = record.get("downtime_s")
        elif event == Record.RUN_END:
            result.finished = True
            result.outcome = record.get("outcome")
            code = record.get("exit_code")
            result.exit_code = code if isinstance(code, int) else None
    if result.way_back_taken:
        result.way_back = [step for step in result.steps if step not in result.step_ids]
    for (step, _attempt, _n), (text, job) in open_actions.items():
        history = result.steps.setdefault(step, StepHistory())
        history.in_flight.append(text)
        if job:
            history.in_flight_jobs.append(job)
        if history.state in (StepState.RUNNING, StepState.PENDING):
            history.state = StepState.IN_DOUBT
    for history in result.steps.values():
        # A step that started and never ended was cut off mid-way.
        if history.state is StepState.RUNNING:
            history.state = StepState.IN_DOUBT
    result.pace = journal_pace(starts)
    result.unattended = journal_unattended(starts)
    result.scenario = journal_scenario(starts)
    result.faulted = any(start.get("faults") for start in starts)
    return result


def run_pace(start: dict[str, Any]) -> float | None:
    """The pace a run-start record says its run went at: REAL_PACE for a run
    on a real host, a rehearsal's own as recorded. None when the record does
    not say: a rehearsal journalled before the pace was, whose fake cloud may
    have run at any pace."""
    rehearsal = start.get("rehearsal")
    if rehearsal is False:
        return REAL_PACE
    pace = start.get("pace")
    if rehearsal is not True or isinstance(pace, bool) or not isinstance(pace, int | float):
        return None
    try:
        value = float(pace)
    except OverflowError:  # an int of hundreds of digits: a damaged journal's
        return None
    return value if math.isfinite(value) and value >= 0 else None


def journal_pace(starts: Iterable[dict[str, Any]]) -> float | None:
    """The pace of the run in a journal, from its run-start records: None when
    one of them does not say, or a resume went at another pace than the start
    (its cutover may have run partly at each)."""
    paces = [run_pace(start) for start in starts]
    if not paces or not all(same_pace(paces[0], pace) for pace in paces):
        return None
    return paces[0]


def journal_unattended(starts: Iterable[dict[str, Any]]) -> bool | None:
    """Whether --yes answered every step of the run in a journal (its
    run-starts say `unattended`); None when a resume answered otherwise than
    the start: its times hold some of an operator's pauses, not all."""
    answered = {start.get("unattended") is True for start in starts}
    return answered.pop() if len(answered) == 1 else None if answered else False


def journal_scenario(starts: Iterable[dict[str, Any]]) -> str | None:
    """The upgrade path a rehearsal's run-starts name (a sandbox keeps its
    scenario across resumes); None for a production run or an older journal."""
    named = {str(start["scenario"]) for start in starts if start.get("scenario")}
    return named.pop() if len(named) == 1 else None


def same_pace(mine: float | None, theirs: float | None) -> bool:
    """Whether one run's times can stand for another's: both paces known, and
    equal (a production run and a real-pace rehearsal go at the same)."""
    return mine is not None and theirs is not None and math.isclose(mine, theirs)


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
