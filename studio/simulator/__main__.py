"""`python -m studio.simulator`: the simulator's command line (see cli.py)."""

import sys

from .cli import main

sys.exit(main())
