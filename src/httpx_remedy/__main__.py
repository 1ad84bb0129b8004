"""``python -m httpx_remedy``: the same as the ``httpx-remedy`` command."""

import sys

from ._cli import main

sys.exit(main())
