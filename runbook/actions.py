"""What a step's plan is made of: each action exactly as the operator is
shown it and as it runs (a command, an upload, an API call, a file edit, a
wait, a note). Plain data, rendered by the engine, masked before anything
shows it.

Apart from runbook.model, whose step cards and states the front ends draw
first: these load with the first plan (issue 12: their six frozen dataclasses
were compiled before runbook run's first paint, which shows no plan)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shell:
    """A command run on the stream manager host, exactly as shown."""

    command: str
    why: str = ""

    def render(self) -> str:
        return f"$ {self.command}"


@dataclass(frozen=True)
class Upload:
    """A file copied from the operator's machine to the host over SFTP."""

    local: str
    remote: str
    why: str = ""

    def render(self) -> str:
        return f"sftp put {self.local} -> {self.remote}"


@dataclass(frozen=True)
class ApiCall:
    """A Stream Manager REST call; ``curl`` is a copyable line, token masked."""

    method: str
    path: str
    curl: str
    why: str = ""

    def render(self) -> str:
        return self.curl


@dataclass(frozen=True)
class EditFile:
    """A file changed in place on the host; ``detail`` is a diff or summary.
    It keeps its owner and mode, or takes those of ``private_as`` (a file
    whose secrets it now carries)."""

    path: str
    summary: str
    detail: str = ""
    private_as: str = ""

    def render(self) -> str:
        text = f"edit {self.path}: {self.summary}"
        if self.private_as:
            text += f"; owner and mode as {self.private_as}"
        return f"{text}\n{self.detail}" if self.detail else text


@dataclass(frozen=True)
class Wait:
    """A bounded wait for something the step cannot make happen faster."""

    what: str
    timeout_s: float

    def render(self) -> str:
        return f"wait up to {self.timeout_s:g}s: {self.what}"


@dataclass(frozen=True)
class Note:
    """Something the operator should know that is not itself an action."""

    text: str

    def render(self) -> str:
        return f"note: {self.text}"


Action = Shell | Upload | ApiCall | EditFile | Wait | Note


def when_and_why(action: Action) -> str:
    """What a command or API call is for, and when it runs if not always
    ("only if ..."): the words a plan shows above it."""
    return action.why if isinstance(action, (Shell, ApiCall)) else ""
