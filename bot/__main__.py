"""`python -m bot` starts the Slack bot; `python -m bot check` checks the setup; `python -m bot ask [QUESTION]`
asks the model from the terminal (see README, Operating it)."""

import sys

from bot.ops.cli import dispatch

sys.exit(dispatch(sys.argv[1:]))
