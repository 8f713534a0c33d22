"""``python -m conformance._cli``."""

import sys

from . import main

sys.exit(main())
