"""What a running step sees and acts through: its settings and facts, and
every command, upload, file write and API call it makes, journalled before
the front end hears of them and masked by the run's redactor.

The executor (runbook.executor) decides which step runs and what happens
when one fails; a step does its work through the RunContext it is handed.
What the context asks of the executor is the Engine below, so this module
never names the executor (lint-imports keeps it so).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from runbook.events import NoEstimate, Output, Progress
from runbook.facts import Facts
from runbook.jobs import job_name
from runbook.journal import Journal, JournalWriteError, Record
from runbook.model import Action, EditFile, Phase, Shell, Upload
from runbook.redact import SHORT_SECRET, Redactor, too_short_to_mask
from runbook.shell import CommandResult, CommandTimeout, OutcomeUnknown, RemoteError, Uploaded
from runbook.step import CommandFailed, PlanContext, Step

if TYPE_CHECKING:
    from runbook.config import Settings
    from runbook.events import Event
    from runbook.hoststate import HostState
    from runbook.journal_replay import Replay
    from runbook.properties import Review
    from runbook.remote import Remote
    from runbook.smapi import StreamManagerAPI

T = TypeVar("T")
F = TypeVar("F", bound=Facts)


def redact_action(action: Action, redactor: Redactor) -> Action:
    """The action with every string field masked: what the operator is shown."""
    changes: dict[str, Any] = {
        f.name: redactor(getattr(action, f.name))
        for f in dataclasses.fields(action)
        if isinstance(getattr(action, f.name), str)
    }
    masked: Action = dataclasses.replace(action, **changes)
    return masked


# How long a line may wait in the buffer for others to join it.
_BATCH_S = 0.5


class _OutputBuffer:
    """Output reaches the front end line by line but the journal in batches:
    an fsync per line would make a chatty command crawl. A batch is written
    within _BATCH_S of its first line, whether more come or not: the line
    before minutes of silence is often the one that says why (code review:
    a kill -9 lost it)."""

    def __init__(self, journal: Journal, step_id: str) -> None:
        self.journal = journal
        self.step_id = step_id
        self.lines: list[tuple[str, str]] = []
        self.last_flush = time.monotonic()
        self._later: asyncio.TimerHandle | None = None

    def add(self, stream: str, line: str) -> None:
        self.lines.append((stream, line))
        if len(self.lines) >= 500 or time.monotonic() - self.last_flush > _BATCH_S:
            self.flush()
        elif self._later is None:
            self._later = asyncio.get_running_loop().call_later(_BATCH_S, self._flush_later)

    def _flush_later(self) -> None:
        self._later = None
        # A journal that fails says so at the run's next record, not here.
        with contextlib.suppress(JournalWriteError):
            self.flush()

    def flush(self) -> None:
        if self._later is not None:
            self._later.cancel()
            self._later = None
        if self.lines:
            self.journal.write(Record.OUTPUT, step=self.step_id,
                               lines=[[stream, line] for stream, line in self.lines])
            self.lines.clear()
        self.last_flush = time.monotonic()


# How often a step that only looks (preflight) runs in all when connections
# keep dropping under it, before the operator is asked.
READ_ONLY_RERUNS = 3


def outcome_unknown(exc: BaseException) -> bool:
    """A command or API call whose end never came back (a lost connection):
    what it did on the host is not known, which is neither success nor failure."""
    from runbook.smapi import SMApiOutcomeUnknown

    return isinstance(exc, OutcomeUnknown | SMApiOutcomeUnknown)


def cut_off(exc: BaseException) -> bool:
    """An end never heard because the connection went (worth looking again
    once it is back), not a command the host's own timeout ended, which would
    only outlive its limit again (review: a hung look was sent nine times)."""
    return outcome_unknown(exc) and not isinstance(exc, CommandTimeout)


async def looked_at_again(look: Callable[[], Awaitable[T]], say: Callable[[str], None]) -> T:
    """A read-only look (a check, a probe), looked at again once reconnected
    when a lost connection cut it off: it changed nothing, so looking again
    is safe. Any other failure, or a last look cut off too, is the caller's."""
    for _ in range(READ_ONLY_RERUNS - 1):
        try:
            return await look()
        except Exception as exc:
            if not cut_off(exc):
                raise
            say(f"{str(exc).rstrip('.')}; looking again once reconnected")
    return await look()


class ApiFactory(Protocol):
    def __call__(self, fresh: bool = False, old: bool = False, expecting: str | None = None
                 ) -> Awaitable[StreamManagerAPI]: ...

    def token_is(self, value: str) -> bool: ...


class StepFront(Protocol):
    """The part of the front end (runbook.executor.FrontEnd) a running step
    reaches: it tells, and hands over a review."""

    def tell(self, event: Event) -> None:
        """Something happened (already journalled)."""

    async def review(self, step_id: str, review: Review, *,
                     decisions_path: Path | None) -> bool:
        """Let the operator decide open properties keys; False where this
        front end cannot (the step then relies on the decisions file)."""


class Engine(Protocol[F]):
    """What a RunContext asks of the engine that runs its step: the
    Executor (runbook.executor), named here only by what it offers."""

    @property
    def settings(self) -> Settings: ...
    @property
    def facts(self) -> F: ...
    @property
    def journal(self) -> Journal: ...
    @property
    def host_state(self) -> HostState: ...
    @property
    def resume(self) -> Replay | None: ...
    @property
    def cutover_began(self) -> float | None: ...
    @property
    def skipped(self) -> Mapping[str, str]: ...
    @property
    def front(self) -> StepFront: ...
    @property
    def redactor(self) -> Redactor: ...
    @property
    def remote(self) -> Remote: ...
    @property
    def api_factory(self) -> ApiFactory: ...

    def begin_cutover(self, step: Step[F]) -> None: ...
    async def claim_host(self, step: Step[F]) -> None: ...
    def keep_facts(self, *, always: bool = False) -> None: ...
    def info(self, step: Step[F], text: str, *, warning: bool = False) -> None: ...
    def plan_context(self) -> PlanContext[F]: ...


class RunContext(Generic[F]):
    """The StepContext the executor hands to the running step."""

    def __init__(self, executor: Engine[F], step: Step[F]) -> None:
        self._x = executor
        self._step = step
        self._action_no = 0
        # Tells this attempt's actions (and their jobs on the host) from an
        # earlier attempt's, which numbered theirs from 1 as well.
        self._attempt = secrets.token_hex(4)
        # Commands of this attempt whose end was never heard (a lost
        # connection): they may still run on the host.
        self.jobs_in_doubt: list[str] = []
        self.settings = executor.settings
        self.facts = executor.facts
        self.journal_path = executor.journal.path
        self.host_state = executor.host_state
        self.resumed = executor.resume is not None

    @property
    def cutover_under_way(self) -> bool:
        return self._x.cutover_began is not None

    @property
    def skipped(self) -> Mapping[str, str]:
        return self._x.skipped

    # -- journalled actions --------------------------------------------------

    def _say(self, stream: str, line: str, *, warning: bool = False) -> None:
        self._x.front.tell(Output(self._step.id, stream, line, warning))

    def _start(self, action: Action, job: str | None = None) -> int:
        self._x.begin_cutover(self._step)
        self._x.keep_facts()
        self._action_no += 1
        shown = redact_action(action, self._x.redactor)
        extra = {"job": job} if job else {}
        self._x.journal.write(Record.ACTION_START, step=self._step.id, attempt=self._attempt,
                              n=self._action_no, kind=type(action).__name__.lower(),
                              text=shown.render(), **extra)
        command, detail = shown.render(), ""
        if isinstance(shown, EditFile):
            # The edit is the command; its diff is runbook's account of it, and
            # shown as commands its lines read as ones that ran.
            command, _, detail = command.partition("\n")
        self._say("cmd", command)
        if detail:
            self._say("info", detail)
        return self._action_no

    def _job(self) -> str:
        """The name the next action's command runs under on the host."""
        return job_name(self._step.id, self._attempt, self._action_no + 1)

    def _end(self, n: int, status: str, **fields: Any) -> None:
        self._x.journal.write(Record.ACTION_END, step=self._step.id, attempt=self._attempt,
                              n=n, status=status, **fields)

    async def act(self, action: Action, operation: Callable[[], Awaitable[T]]) -> T:
        # Not one action without this run's claim on the host (runbook.claim).
        await self._x.claim_host(self._step)
        n = self._start(action)
        try:
            result = await operation()
        except Exception as exc:
            status = "unknown" if outcome_unknown(exc) else "failed"
            self._end(n, status, error=self._x.redactor(str(exc)))
            raise
        self._end(n, "ok")
        return result

    async def sh(
        self,
        command: str,
        *,
        why: str = "",
        timeout: float | None = None,
        check: bool = True,
        input: str | None = None,
        quiet: bool = False,
        detach: bool = False,
    ) -> CommandResult:
        await self._x.claim_host(self._step)
        job = self._job()
        n = self._start(Shell(command, why), job)
        buffer = _OutputBuffer(self._x.journal, self._step.id)
        redact = self._x.redactor

        def on_output(stream: str, line: str) -> None:
            line = redact(line)
            if self._x.journal.failure is None:
                # A failing journal must not cut the command off mid-way (it
                # would run on, unwatched): it fails the step once it ended.
                with contextlib.suppress(JournalWriteError):
                    buffer.add(stream, line)
            if not quiet:
                self._say(stream, line)

        limit = timeout or self.settings.timeouts.command
        try:
            if detach:
                assert input is None, "a detached command reads no input"
                result = await self._x.remote.run_detached(command, timeout=limit, job=job,
                                                           on_output=on_output)
            else:
                result = await self._x.remote.run(command, timeout=limit, on_output=on_output,
                                                  input=input, job=job)
        except OutcomeUnknown as exc:
            buffer.flush()
            self._end(n, "unknown", error=redact(str(exc)))
            self.jobs_in_doubt.append(job)
            raise
        except asyncio.CancelledError:
            # Stopped (or the run cancelled): what it printed is kept, and its
            # job counts as perhaps still running, since the stop sent to the
            # host may not have reached it (review): a retry waits for it. Its
            # action stays open; the ABORTED record says what ended it.
            with contextlib.suppress(JournalWriteError):
                buffer.flush()
            self.jobs_in_doubt.append(job)
            raise
        except RemoteError as exc:
            buffer.flush()
            self._end(n, "failed", error=redact(str(exc)))
            if not exc.launched:
                exc.unsent = command  # not OutcomeUnknown: it never reached the host
            raise
        except Exception:
            # Whatever else ends it: what it printed is kept, and no batch is
            # left to be written after the step's later records.
            with contextlib.suppress(JournalWriteError):
                buffer.flush()
            raise
        buffer.flush()
        self._end(n, "ok" if result.ok else "failed", exit=result.exit_status)
        if check and not result.ok:
            raise CommandFailed(redact(self._failed(command, result)), result.exit_status)
        return result

    def _failed(self, command: str, result: CommandResult) -> str:
        """Why a command failed; a refusal by sudo says that nothing ran."""
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        said = lines[-1].strip() if lines else f"exit status {result.exit_status}"
        if not said.startswith("sudo: "):
            return f"`{command}` failed: {said}"
        going = "the way back" if self._step.phase is Phase.ROLLBACK else "the upgrade"
        if self._step.phase is Phase.ROLLBACK:
            back = ""  # on the way back already: its question offers going on with it
        elif self.cutover_under_way:
            back = ", or take the way back, which needs that sudo too"
        else:
            back = "; nothing of the live system was changed by it"
        return (f"sudo refused to run `{command}` ({said.removeprefix('sudo: ')}), so nothing "
                f"ran. The SSH user needs password-less sudo on the host for {going}: once "
                f"it has it again, try the step again{back}")

    async def probe(self, command: str, *, timeout: float | None = None,
                    input: str | None = None) -> CommandResult:
        """A read-only look at the host (checks, verifies): not an action, not journalled
        as one, but its result still only ever counts when the exit status came back.
        A look cut off by a lost connection changed nothing: it looks again."""
        def look() -> Awaitable[CommandResult]:
            return self._x.remote.run(
                command, timeout=timeout or self.settings.timeouts.command, input=input)

        return await looked_at_again(look, self.info)

    async def upload(self, local: Path, remote: str) -> Uploaded:
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if done == total or now - last[0] > 0.1:
                last[0] = now
                self.progress(done, total, f"uploading {local.name}")

        sent = await self.act(Upload(str(local), remote), lambda: self._x.remote.upload(
            local, remote, timeout=self.settings.timeouts.upload, progress=progress,
            host_hash=True))
        if sent.kept:
            # (Operator trial: a retry went on from 1.3 GB, and nothing said so.)
            self.info(f"went on from the {sent.kept / (1 << 20):.0f} MiB of {local.name} an "
                      "earlier attempt had left on the host (their sha256 matched ours)")
        return sent

    async def write_file(self, edit: EditFile, content: str | bytes) -> None:
        """Replace a file on the host whole or not at all, keeping its owner and
        mode (or taking `edit.private_as`'s) and, the first time, a
        `.runbook-bak` of it (Remote.replace_file).
        Text is written as UTF-8; bytes as they are.

        One journalled action, the one the plan showed: a connection lost on
        the way leaves it in doubt. The content goes over SFTP, so it never
        appears in a command line, the journal or the process list."""
        timeouts = self.settings.timeouts
        data = content.encode() if isinstance(content, str) else content
        await self.act(edit, lambda: self._x.remote.replace_file(
            edit.path, data, staging_dir=self.settings.upload_dir,
            timeout=timeouts.command, upload_timeout=timeouts.upload,
            private_as=edit.private_as or None))

    async def api(self, *, fresh: bool = False, old: bool = False,
                  expecting: str | None = None) -> StreamManagerAPI:
        return await self._x.api_factory(fresh, old, expecting)

    def token_is(self, value: str) -> bool:
        return self._x.api_factory.token_is(value)

    async def review(self, subject: Review, *, decisions_path: Path | None) -> bool:
        """Hand an interactive review (the properties diff editor) to the front end."""
        self._x.journal.write(Record.REVIEW_START, step=self._step.id)
        finished = await self._x.front.review(self._step.id, subject,
                                              decisions_path=decisions_path)
        self._x.journal.write(Record.REVIEW_END, step=self._step.id, finished=finished)
        return finished

    # -- telling the operator ------------------------------------------------

    def info(self, text: str) -> None:
        self._x.info(self._step, text)

    def warn(self, text: str) -> None:
        self._x.info(self._step, text, warning=True)

    def note(self, kind: str, text: str, *, warning: bool = False, **data: Any) -> None:
        """A fact worth keeping for the report (journalled as its own record);
        `warning`, one the report lists among the run's warnings, and the
        front ends mark the step for. Journalled either way: a record without
        it is an older runbook's (journal_replay.said_as_warning)."""
        redact = self._x.redactor
        text = redact(text)

        def masked(value: Any) -> Any:
            # Its data's text too (strings, lists of them), not by each
            # caller's care (review); other kinds are names and counts.
            if isinstance(value, list):
                return [masked(item) for item in value]
            return redact(value) if isinstance(value, str) else value

        data = {key: masked(value) for key, value in data.items()}
        self._x.journal.write(Record.NOTE, step=self._step.id, kind=kind, text=text,
                              warning=warning, **data)
        self._say("info", text, warning=warning)

    def no_estimate(self, why: str) -> None:
        self._x.front.tell(NoEstimate(why))

    def progress(self, done: float, total: float | None, label: str, *,
                 of_limit: bool = False) -> None:
        self._x.front.tell(Progress(self._step.id, done, total, label, of_limit))

    def add_secret(self, value: str, *, name: str = "") -> None:
        """Mask `value` from now on; `name`, what holds it, is what the run
        says if it is too short to be masked in free text (review 55 L5)."""
        self._x.redactor.add(value, name=name)
        for untold in self._x.redactor.untold_short():
            self.note(SHORT_SECRET, too_short_to_mask(untold), warning=True)

    def plan_context(self) -> PlanContext[F]:
        return self._x.plan_context()
