"""Operating the bot: `python -m bot check` and `ask`, health and metrics, cost estimates, log formats.

Nothing here runs unless the composition root (`bot.app`) or `bot.__main__` asks for it; the answer path only
sees the small `Recorder` interface (`bot.ops.recorder`), whose default does nothing.
"""
