"""`python -m bot` starts the Slack bot."""

import sys

from bot.app import main

sys.exit(main())
