"""``python -m radioexplore``: the command line, as the ``radioexplore`` script runs it."""

import sys

from radioexplore.cli import main

sys.exit(main())
