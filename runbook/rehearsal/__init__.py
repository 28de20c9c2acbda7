"""The rehearsal host: a fake Stream Manager machine on loopback (see host.py)."""


class RehearsalError(RuntimeError):
    """The rehearsal host cannot be set up as asked; one line for the operator."""
