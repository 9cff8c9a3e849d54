"""`python -m bots` is the `relaydesk` command."""

import sys

from bots.cli import main

sys.exit(main())
