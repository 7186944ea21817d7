"""The `python -m bot` command line: no argument runs the bot, `check` checks the setup, `ask` asks the model."""

from __future__ import annotations

import os
import sys

USAGE = """usage: python -m bot            run the Slack bot
       python -m bot check      check the configuration, Slack, AWS and the state store (exit 0, 1 or 2)
       python -m bot ask [Q]    ask the model from the terminal (no Q: one question per line on stdin)"""


def dispatch(argv: list[str]) -> int:
    if not argv:
        from bot.app import main

        return main()
    command, rest = argv[0], argv[1:]
    if command in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if command not in ("check", "ask") or (command == "check" and rest):
        print(USAGE, file=sys.stderr)
        return 2
    from dotenv import find_dotenv, load_dotenv

    load_dotenv(find_dotenv(usecwd=True), override=False)  # as `python -m bot` does: the environment wins
    if command == "check":
        from bot.ops import check

        return check.run(os.environ)
    from bot.ops import ask

    return ask.run(" ".join(rest).strip() or None, os.environ)
