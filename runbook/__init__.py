"""runbook: the engine that walks a Stream Manager upgrade (no Textual here)."""

import warnings

# cryptography 51 deprecates DSA, and asyncssh (2.24, the newest) names its DSA
# classes as it is imported: every command that loads asyncssh printed that
# warning (a UserWarning, shown by default) above its own output, and a
# refusal was no longer one line. runbook offers no DSA key of its own, so it
# is nothing the operator can act on. `warnings` is loaded at interpreter
# start: this costs the start-up nothing.
warnings.filterwarnings("ignore", message="DSA is deprecated", module="asyncssh")
