"""``python -m jaxmeta ...`` == the ``jaxmeta`` console script (see jaxmeta.cli)."""

import sys

from jaxmeta.cli import main

sys.exit(main())
