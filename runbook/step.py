"""What a step is, and what it may do while it runs.

A step says what it will do (``plan``, pure, no I/O), whether its outcome is
already in place (``check``: used to skip, and to decide about an in-doubt
step before anything reruns), how to do it (``run``) and how to prove it
worked (``verify``). Steps touch the host and the API only through the
:class:`StepContext`, which journals every action before it starts and after
it ends; that pairing is what lets a later run find an action "in doubt".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from runbook.config import Settings
from runbook.facts import Facts
from runbook.hoststate import HostState
from runbook.model import (
    UNDONE_DID,
    UNDONE_WORD,
    Action,
    ApiCall,
    Check,
    EditFile,
    Leaves,
    Phase,
    StepCard,
)
from runbook.shell import CommandResult, Uploaded

if TYPE_CHECKING:
    from runbook.properties import Review
    from runbook.smapi import StreamManagerAPI

T = TypeVar("T")
F = TypeVar("F", bound=Facts)


class StepFailed(Exception):
    """The step could not do its job; the message says why and what to do."""


class CommandFailed(StepFailed):
    """A command a step ran (StepContext.sh, checked) ended with a failing
    exit status: the message says so, and `exit_status` is the status, for a
    step that knows what a tool's status means (unzip's 50: a full disk)."""

    def __init__(self, message: str, exit_status: int | None) -> None:
        super().__init__(message)
        self.exit_status = exit_status


class NotInThisRun(StepFailed):
    """Refused before it changed anything, for a cause this run cannot mend
    (a snapshot only a resumed run takes again): its message names the way on,
    and no "try the step again" is added to it."""


class ReviewLeftOpen(Exception):
    """The operator left the step's review with keys still open: a pause,
    not a failure. Nothing was changed on the host; the step needs review,
    and its question's stop is the operator's (exit 3). Trying it again, or
    a resumed run, takes the review up. The message says what is open and
    what is kept (trial 55: read as a failure everywhere, exit 1)."""


class CurlRenderer(Protocol):
    def __call__(self, method: str, path: str, body: dict[str, Any] | None = None, *,
                 version: str | None = None) -> str:
        """`version`: the API version the call will reach when it is not the one
        spoken now (start-service waits on the release it starts)."""


@dataclass
class PlanContext(Generic[F]):
    """Everything a plan may look at: settings and facts learnt so far, no I/O."""

    settings: Settings
    curl: CurlRenderer
    facts: F
    # What runbook keeps about the host between runs (its snapshots); None
    # where no host is in view (`runbook plan` of an example config).
    host_state: HostState | None = None
    journal_path: Path | None = None

    def api_call(self, method: str, path: str, body: dict[str, Any] | None = None, *,
                 why: str = "", version: str | None = None) -> ApiCall:
        """The call as a plan shows it: its curl line names the same method and
        path, written once."""
        return ApiCall(method, path, self.curl(method, path, body, version=version), why)


class StepContext(Protocol[F]):
    """The services a running step gets from the executor."""

    settings: Settings
    facts: F
    journal_path: Path
    host_state: HostState
    # This run continues an earlier one's journal.
    resumed: bool

    @property
    def cutover_under_way(self) -> bool:
        """A cutover began on the host (in this run or an earlier one) and has not ended."""

    @property
    def skipped(self) -> Mapping[str, str]:
        """Steps skipped in this run (or kept skipped from the one it continues): why."""

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
        """Run a journalled command; `detach` for a long one that must outlive
        a lost connection (no input; its output comes as one stream)."""

    async def probe(self, command: str, *, timeout: float | None = None,
                    input: str | None = None) -> CommandResult: ...

    async def upload(self, local: Path, remote: str) -> Uploaded:
        """Copy `local` to `remote`; the sha256 of the bytes sent, for the
        caller to check the host's copy against, and the host's own, read as
        the file landed (None when it could not say)."""

    async def write_file(self, edit: EditFile, content: str | bytes) -> None:
        """Replace the file `edit` names with `content` (text as UTF-8, bytes
        as they are), whole or not at all; `edit` is the action the plan showed."""

    async def act(self, action: Action, operation: Callable[[], Awaitable[T]]) -> T: ...

    async def api(self, *, fresh: bool = False, old: bool = False,
                  expecting: str | None = None) -> StreamManagerAPI:
        """The Stream Manager API client; `fresh` opens a new one (after cutover
        another install answers), at the new release's configured or detected
        version, or with `old` at the live release's (the way back); a version
        looked for is looked for from `expecting`, the one it should speak."""

    def token_is(self, value: str) -> bool:
        """Whether ``value`` is the API token runbook was given: compared in
        constant time, without a request and without showing either."""

    async def review(self, subject: Review, *, decisions_path: Path | None) -> bool: ...

    def info(self, text: str) -> None: ...

    def warn(self, text: str) -> None:
        """An info line that is a warning: the front ends mark the step, and
        the report lists it among the run's warnings."""

    def note(self, kind: str, text: str, *, warning: bool = False, **data: Any) -> None: ...

    def no_estimate(self, why: str) -> None:
        """This run's times stand for no other run's, nor another's for it:
        the front ends drop the downtime estimate they had."""

    def progress(self, done: float, total: float | None, label: str, *,
                 of_limit: bool = False) -> None: ...

    def add_secret(self, value: str, *, name: str = "") -> None: ...

    def plan_context(self) -> PlanContext[F]: ...


class Step(ABC, Generic[F]):
    id: ClassVar[str]
    title: ClassVar[str]
    phase: ClassVar[Phase]
    # Destructive steps delete or move things; a front end asks harder for them.
    destructive: ClassVar[bool] = False
    # Read-only steps change nothing; a resumed run runs them again because
    # later steps rely on what they learn (versions, secrets to mask).
    read_only: ClassVar[bool] = False
    # Steps whose findings every later step relies on cannot be skipped.
    can_skip: ClassVar[bool] = True
    # A step whose outcome can be undone behind the runbook's back (a service
    # that dies) is checked again by a resumed run even when it was done.
    recheck_when_resumed: ClassVar[bool] = False
    # A prepare step made from the live install, which can change before the
    # window (a file merged from a live one), is checked again by a resumed run
    # until its cutover begins; from then on the live install is set aside.
    recheck_until_cutover: ClassVar[bool] = False
    summary: ClassVar[str]
    caution: ClassVar[str] = ""
    # What the step leaves on the host, once begun, that the way back does not
    # undo, and what to do about it before another attempt: said at the end of
    # a run that went back after beginning it, and only then.
    after_the_way_back: ClassVar[str] = ""
    # What the way back did with the step's work, where it puts it back: in a
    # word for the step's row, and said after "then" in a summary and a report.
    # A step whose work it makes anew, rather than puts back as it was, says so.
    the_way_back_word: ClassVar[str] = UNDONE_WORD
    the_way_back_did: ClassVar[str] = UNDONE_DID
    # Where the way back could not touch its work (untouched_by_the_way_back),
    # what to see to at once, in a few words a front end's last hint can hold.
    the_way_back_could_not: ClassVar[str] = ""

    def leaves(self, settings: Settings, facts: F) -> Leaves | None:
        """What the step leaves after the way back, as this run's settings and
        what its steps have learnt so far name it (after_the_way_back, to which
        a step may add what to do); None where it leaves nothing. Journalled
        as the run starts, and again whenever what the steps learnt changes it."""
        return Leaves(self.after_the_way_back) if self.after_the_way_back else None

    def untouched_by_the_way_back(self, facts: F) -> bool:
        """Whether the way back could not undo any of this step's work, as
        what the steps have learnt says (recreate's nodegroups the way back
        could not delete): "not undone", where a step with
        after_the_way_back is otherwise partly undone. Journalled beside
        `leaves`, as data (review 56b, F6)."""
        return False

    @property
    def skippable(self) -> bool:
        """Cutover is never skipped: with the stream manager down, a step whose
        outcome is not in place leaves it half-upgraded (a step whose outcome is
        in place is found done by its check, without asking)."""
        return self.can_skip and self.phase is Phase.PREPARE

    def card(self, number: int) -> StepCard:
        """What every front end shows about this step before it runs."""
        return StepCard(number=number, id=self.id, title=self.title, phase=self.phase,
                        summary=self.summary, caution=self.caution,
                        destructive=self.destructive, skippable=self.skippable,
                        looks_again=self.read_only or self.recheck_when_resumed,
                        looks_again_until_cutover=self.recheck_until_cutover,
                        the_way_back_undoes=not self.after_the_way_back,
                        the_way_back_word=self.the_way_back_word,
                        the_way_back_did=self.the_way_back_did,
                        the_way_back_could_not=self.the_way_back_could_not)

    def destructive_now(self, p: PlanContext[F]) -> bool:
        """Whether the plan as it stands deletes something, where the step
        usually does not: the front ends then ask for its id typed."""
        return False

    @abstractmethod
    def plan(self, p: PlanContext[F]) -> list[Action]:
        """The exact commands, API calls and edits this step will make."""

    async def check(self, ctx: StepContext[F]) -> Check:
        """Is the outcome already in place? Read-only."""
        return Check(False)

    @abstractmethod
    async def run(self, ctx: StepContext[F]) -> None:
        """Do it. Raise StepFailed with an operator-facing reason on failure."""

    async def verify(self, ctx: StepContext[F]) -> Check:
        """Prove the outcome; by default the same question as check."""
        return await self.check(ctx)


def cards(steps: Sequence[Step[Any]], *, start: int = 1) -> list[StepCard]:
    return [step.card(number) for number, step in enumerate(steps, start=start)]


class Procedure(Generic[F]):
    """What a session runs: its steps, the way back's (`rollback`) and the
    facts they learn; `upgrade`, the upgrade's steps where the run has none of
    them (runbook rollback), for their numbers and what they leave."""

    def __init__(self, steps: Sequence[Step[F]], facts: F, *,
                 rollback: Sequence[Step[F]] = (),
                 upgrade: Sequence[Step[F]] | None = None) -> None:
        self.steps = list(steps)
        self.facts = facts
        self.rollback = list(rollback)
        self.upgrade = list(upgrade) if upgrade is not None else None

    def cards(self) -> list[StepCard]:
        """Every step's card, numbered as every front end and the report show
        them: the way back after the upgrade's steps, under `runbook rollback`
        too (whose run has none of them): 18 to 24 everywhere, as the README
        has them (trial 58 L2)."""
        upgrade = self.upgrade if self.upgrade is not None else self.steps
        return [*cards(self.steps), *cards(self.rollback, start=len(upgrade) + 1)]
