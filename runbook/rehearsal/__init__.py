"""The rehearsal host: a fake Stream Manager machine on loopback (see host.py)."""

# The sandbox's folder of the rehearsal's own state: a sandbox has one.
STATE_DIRNAME = ".rehearsal"
# And of the operator's side of it: the downloads, the decisions file, the runs.
OPERATOR_DIRNAME = ".operator"


# Every command on a rehearsal host runs with this set to its sandbox's folder
# (its SSH server puts it in each session's environment): what cleanup finds
# the host's processes by, and how a run that was not started as a rehearsal
# (`runbook run` against one) learns it is on one.
SANDBOX_ENV = "RUNBOOK_SANDBOX"
# The journal note of a run whose preflight found it is on a rehearsal host
# though it was not started as a rehearsal: its pace is not known, so its
# times are no estimate for any run (journal_replay reads it so).
ON_A_REHEARSAL_HOST = "rehearsal-host"


class RehearsalError(RuntimeError):
    """The rehearsal host cannot be set up as asked; one line for the operator."""
