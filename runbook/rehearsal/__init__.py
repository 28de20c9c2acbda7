"""The rehearsal host: a fake Stream Manager machine on loopback (see host.py)."""

# The sandbox's folder of the rehearsal's own state: a sandbox has one.
STATE_DIRNAME = ".rehearsal"
# And of the operator's side of it: the downloads, the decisions file, the runs.
OPERATOR_DIRNAME = ".operator"


class RehearsalError(RuntimeError):
    """The rehearsal host cannot be set up as asked; one line for the operator."""
