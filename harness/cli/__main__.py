"""``python -m harness.cli``: the ``cps-harness`` command."""

import sys

from harness.cli.main import main

sys.exit(main())
