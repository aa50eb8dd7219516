"""`python -m snnbench` is the `snnbench` command."""

import sys

from .cli import main

sys.exit(main())
