"""One run: the journal, the host's SSH connection, the Stream Manager API and
the executor, built from settings and a sequence of steps.

runbook.cli builds a session and hands it to a front end (headless or the TUI);
tests build one over fake steps. A session does nothing until ``run``: it can
be built just to show each step's card and its plan as far as it is known.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

from runbook.config import Settings
from runbook.hoststate import HostState
from runbook.model import Action, StepCard
from runbook.redact import Redactor

# The executor and the journal (with every event's dataclass) load when a plan
# is previewed or the run starts, after a front end's first paint (issue 12);
# so do what a step is (runbook.step), what the steps learn (runbook.facts)
# and the curl lines of their plans: five dataclasses, each compiled as it is
# defined, that the first screen has no use for.
if TYPE_CHECKING:
    from runbook.executor import Executor, FrontEnd, Outcome
    from runbook.facts import Facts
    from runbook.journal_replay import Replay
    from runbook.remote import Remote
    from runbook.smapi import StreamManagerAPI
    from runbook.step import PlanContext, Procedure, Step

F = TypeVar("F", bound="Facts")


class ApiClients:
    """Hands steps the Stream Manager API client; `fresh` starts over after
    cutover, because the new install may speak another API version."""

    def __init__(self, settings: Settings, token: str) -> None:
        self.settings = settings
        self.token = token
        self.current: StreamManagerAPI | None = None

    def token_is(self, value: str) -> bool:
        """Whether ``value`` is the token runbook was given (constant time),
        asked before any request carries it anywhere."""
        from runbook.smapi import token_equals

        return token_equals(self.token, value)

    @property
    def version(self) -> str | None:
        """The version calls go out with now, for plans' curl lines."""
        if self.current is not None:
            return self.current.version
        return self.settings.api_version

    async def __call__(self, fresh: bool = False, old: bool = False,
                       expecting: str | None = None) -> StreamManagerAPI:
        from runbook.smapi import DEFAULT_VERSIONS, StreamManagerAPI

        if self.current is not None and not fresh:
            return self.current
        version = self.settings.new_api_version if fresh and not old \
            else self.settings.api_version
        api = StreamManagerAPI(self.settings.api_base_url, self.token, version,
                               token_hint=f"${self.settings.token_env}",
                               rehearsal=self.settings.sandboxed)
        try:
            if api.version is None:
                # The version the server should speak, asked first: a server
                # up and failing answers an error at every version, and the
                # first settled it (operator trial: /api/4.0 quoted from a
                # 6.2.0, which serves 3.1 alone).
                await api.detect_version(tuple(dict.fromkeys(
                    ([expecting] if expecting else []) + list(DEFAULT_VERSIONS))))
        except BaseException:
            await api.aclose()
            raise
        if self.current is not None:
            await self.current.aclose()
        self.current = api
        return api

    async def aclose(self) -> None:
        if self.current is not None:
            await self.current.aclose()
            self.current = None


def host_state(settings: Settings, state_dir: Path) -> HostState:
    return HostState(state_dir, settings.host.address, settings.host.port)


class Session(Generic[F]):
    def __init__(
        self,
        settings: Settings,
        steps: Sequence[Step[F]],
        facts: F,
        *,
        token: str,
        journal_path: Path,
        state_dir: Path,
        isolated: bool = False,
        resume: Replay | None = None,
        rollback: Sequence[Step[F]] = (),
        rollback_after: str | None = None,
        upgrade: Sequence[Step[F]] | None = None,
    ) -> None:
        from runbook.step import Procedure

        given = Procedure(steps, facts, rollback=rollback, upgrade=upgrade)
        self._set_up(settings, given.cards(), lambda: given, token=token,
                     journal_path=journal_path, state_dir=state_dir, isolated=isolated,
                     resume=resume, rollback_after=rollback_after)
        self._take(given)

    @classmethod
    def deferred(cls, settings: Settings, cards: Sequence[StepCard],
                 load: Callable[[], Procedure[F]], *, token: str, journal_path: Path,
                 state_dir: Path, isolated: bool = False, resume: Replay | None = None,
                 rollback_after: str | None = None) -> Session[F]:
        """A session whose steps are loaded (`load`) the first time they are
        needed, a plan previewed or the run begun, not as it is built: a front
        end draws their cards, given here, first. `runbook run` loaded the
        procedure's modules for its cards alone, about a tenth of its first
        paint (issue 12)."""
        session = cls.__new__(cls)
        session._set_up(settings, cards, load, token=token, journal_path=journal_path,
                        state_dir=state_dir, isolated=isolated, resume=resume,
                        rollback_after=rollback_after)
        return session

    def _set_up(self, settings: Settings, cards: Sequence[StepCard],
                load: Callable[[], Procedure[F]], *, token: str, journal_path: Path,
                state_dir: Path, isolated: bool, resume: Replay | None,
                rollback_after: str | None) -> None:
        self.settings = settings
        self._load = load
        self._procedure: Procedure[F] | None = None
        self.rollback_after = rollback_after
        self.journal_path = journal_path
        # Where the run's records went when another file took the journal's
        # place (Journal.kept_beside), once the run has ended.
        self.kept_beside: Path | None = None
        self.isolated = isolated
        self.resume = resume
        self.host_state = host_state(settings, state_dir)
        self.cards: list[StepCard] = list(cards)
        self.redactor = Redactor()
        self.redactor.add(token, name=settings.token_env)
        self.api = ApiClients(settings, token)
        self._executor: Executor[F] | None = None
        # The command that goes on with the run in a journal at a path, for
        # a journal that fails mid-run to name whole; it gives None where
        # nothing can go on (a throwaway rehearsal). Set by the CLI.
        self.go_on: Callable[[Path], str | None] | None = None

    def _take(self, procedure: Procedure[F]) -> None:
        if self.resume is not None:
            procedure.facts.load(self.resume.facts)
        self._procedure = procedure

    @property
    def procedure(self) -> Procedure[F]:
        """The steps themselves, loaded the first time they are needed."""
        if self._procedure is None:
            self._take(self._load())
            assert self._procedure is not None
        return self._procedure

    @property
    def steps(self) -> list[Step[F]]:
        return self.procedure.steps

    @property
    def rollback(self) -> list[Step[F]]:
        return self.procedure.rollback

    @property
    def upgrade(self) -> list[Step[F]] | None:
        """The upgrade's steps where the run has none of them (Executor.upgrade)."""
        return self.procedure.upgrade

    @property
    def facts(self) -> F:
        return self.procedure.facts

    @property
    def opening_warnings(self) -> list[tuple[str, str]]:
        """Said once as the run begins, kept among its warnings: (kind, text)."""
        from runbook.curl import ENCODE_TOKEN, token_needs_encoding, token_to_encode

        if token_needs_encoding(self.api.token):
            return [(ENCODE_TOKEN, token_to_encode(self.settings.token_env))]
        return []

    def curl(self, method: str, path: str, body: dict[str, Any] | None = None, *,
             version: str | None = None) -> str:
        """Plans name the API version once it is known."""
        from runbook.curl import ApiTarget, curl_line

        target = ApiTarget(self.settings.api_base_url, version or self.api.version,
                           f"${self.settings.token_env}")
        return curl_line(target, method, path, body)

    def plan_context(self) -> PlanContext[F]:
        from runbook.step import PlanContext

        return PlanContext(self.settings, self.curl, self.facts, self.host_state,
                           self.journal_path)

    def preview(self) -> dict[str, list[Action] | None]:
        """Each step's plan as far as it can be told before the run (None where
        it needs what an earlier step learns); secrets masked."""
        from runbook.run_context import redact_action

        plans: dict[str, list[Action] | None] = {}
        for step in [*self.steps, *self.rollback]:
            try:
                plans[step.id] = [redact_action(a, self.redactor)
                                  for a in step.plan(self.plan_context())]
            except Exception:  # a plan that needs run facts waits for them
                plans[step.id] = None
        return plans

    def downtime_estimate(self) -> tuple[float, Path] | None:
        """The last comparable cutover's downtime and the journal that says it
        (runbook.report.downtime_estimate): what this run's cutover may take.
        A continued run goes on in its journal at this run's pace, answered as
        this run answers (--yes or not); a journal begun otherwise has no
        estimate, as the report takes it."""
        from runbook.journal_replay import same_pace
        from runbook.report import downtime_estimate

        pace: float | None = self.settings.pace
        unattended: bool | None = self.settings.unattended
        if self.resume is not None:
            if not same_pace(self.resume.pace, pace):
                pace = None
            if self.resume.unattended is not unattended:
                unattended = None
        return downtime_estimate(self.journal_path, pace=pace, unattended=unattended,
                                 scenario=self.settings.rehearsal_scenario)

    async def run(self, front: FrontEnd) -> Outcome:
        """Run the steps in order against the host, telling `front`.

        A resumed session continues the earlier run's journal: finished steps
        stay finished, and every other step's check decides again."""
        # Here, not at the top: asyncssh takes a quarter of a second to load,
        # and a front end should be drawn before the host is reached.
        from runbook.executor import Executor
        from runbook.journal import Journal

        journal = Journal(self.journal_path, go_on=self.go_on)
        try:
            self._still_the_run_it_continues()
        except BaseException:
            journal.close()
            raise
        remote = self.remote()
        try:
            self._executor = Executor(
                self.steps, settings=self.settings, facts=self.facts, remote=remote,
                api_factory=self.api, curl=self.curl, journal=journal, front=front,
                redactor=self.redactor, host_state=self.host_state, resume=self.resume,
                rollback=self.rollback, rollback_after=self.rollback_after,
                upgrade=self.upgrade, opening_warnings=self.opening_warnings)
            return await self._executor.run()
        finally:
            self._executor = None
            await self.api.aclose()
            await remote.close()
            journal.close()
            self.kept_beside = journal.kept_beside

    def remote(self) -> Remote:
        """The host's one connection, not opened yet (tests whose steps touch
        no host hand the executor one that claims the host without it)."""
        from runbook.remote import Remote

        host = self.settings.host
        remote = Remote(host, isolated=self.isolated)
        if self.settings.rehearsal and host.known_hosts is not None:
            # A rehearsal host keeps its keys beside the known_hosts it writes.
            remote.host_key_dir = str(host.known_hosts.parent)
        return remote

    def _still_the_run_it_continues(self) -> None:
        """Once this process holds the journal: it still says what it said when
        it was read (the TUI's resume dialog can wait long), else nothing runs
        (trial: `runbook rollback` took the way back meanwhile, and "continue"
        went on with the upgrade from the run as it was read)."""
        from runbook.journal import JournalError
        from runbook.journal_replay import replay

        if self.resume is None or self.resume.path is None:
            return
        if replay(self.resume.path) != self.resume:
            raise JournalError(f"{self.resume.path}: another runbook wrote to it after this "
                               "one read it, so the run it read is not the run there now. "
                               "Nothing was run; start runbook again to go on from where "
                               "that run stands")

    def abort(self) -> None:
        """Quit stopping the running command (see Executor.abort)."""
        if self._executor is not None:
            self._executor.abort()

    def stop_step(self, step_id: str) -> bool:
        """Stop `step_id`, running now; the run goes on to its question (see
        Executor.stop_step). False when it does not run."""
        return self._executor is not None and self._executor.stop_step(step_id)

    def detach(self, *, exit_code: int | None = None) -> bool:
        """Quit leaving the running command on the host (see Executor.detach)."""
        if self._executor is None:
            return False
        self._executor.detach(exit_code=exit_code)
        return True


# A string, so that Replay (the journal) is not needed to define it.
SessionFactory: TypeAlias = "Callable[[Replay | None], Session[Any]]"
