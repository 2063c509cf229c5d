import sys

from radioexplore.cli import main

sys.exit(main())
