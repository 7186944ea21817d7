"""The Markdown → Slack mechanism the layout uses: mrkdwn conversion, splitting, length as Slack counts it.

Why mrkdwn in `text` rather than Slack's `markdown_text` / `markdown` block: `chat.update` is only known to
accept `text` (4,000 characters), `markdown_text` is not confirmed to lift that limit on updates, and its
rendering of tables and code differs between Slack's own docs. Converting ourselves works on every Slack
client today and is testable here; see README, "Formatting".
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.render.mrkdwn import Growing, render_growing, to_mrkdwn
from bot.render.splitting import join_parts, slack_length, split_markdown


def _render_closed(markdown: str) -> str:
    return to_mrkdwn(markdown)


class SlackRenderer:
    """Implements `bot.render.layout.Renderer` with `bot.render.mrkdwn` and `bot.render.splitting`."""

    def render(self, markdown: str, *, streaming: bool) -> str:
        return to_mrkdwn(markdown, streaming=streaming)

    def render_growing(
        self, markdown: str, state: object | None, *, streaming: bool, lazy: bool
    ) -> tuple[str, int, object]:
        growing = state if isinstance(state, Growing) else None
        return render_growing(markdown, growing, streaming=streaming, lazy=lazy)

    def split(self, markdown: str, limit: int, *, reserve: int, max_source: int | None = None) -> tuple[str, str]:
        return split_markdown(markdown, limit, render=_render_closed, reserve=reserve, max_source=max_source)

    def length(self, text: str) -> int:
        return slack_length(text)

    def join(self, parts: Sequence[str]) -> str:
        """The model's Markdown from the parts of an answer (the splitter's inserted fence lines removed)."""
        return join_parts(parts)
