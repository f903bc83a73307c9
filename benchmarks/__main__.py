"""``python -m benchmarks`` from a source checkout: the same as ``yieldloop bench``."""

import sys

from .driver import main

sys.exit(main())
