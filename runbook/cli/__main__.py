"""`python -m runbook.cli`, as the `runbook` script."""

import sys

from runbook.cli.door import main

if __name__ == "__main__":
    sys.exit(main())
