"""Measure what rendering costs while an answer streams (not a test; prints figures).

    python -m tests.render_probe            # every input
    python -m tests.render_probe long refs  # only the named inputs

Each input is fed to `AnswerLayout` (the real `SlackRenderer`) in deltas, and after every delta the layout
is asked for an interim snapshot, as the writer does when it is free to send (the worst case: in the bot,
snapshots are throttled by the update interval). A final snapshot follows. It prints, per input, the
process CPU seconds in total, the slowest single delta, the number of messages, and whether the parts join
back to the input and every text fits the limit. The target is no input above 3 s in total.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from bot.render.layout import LIMIT, AnswerLayout
from bot.render.renderer import SlackRenderer
from tests.e2e.test_long_answers import markdown_answer


def _table(size: int) -> str:
    rows = []
    i = 0
    while sum(len(r) for r in rows) < size:
        rows.append(f"| row {i} | *{i}* | some words in a cell |\n")
        i += 1
    return "| name | value | note |\n|---|---|---|\n" + "".join(rows)


def _nested_list(size: int) -> str:
    lines = []
    i = 0
    while sum(len(line) for line in lines) < size:
        lines.append("    " * (i % 4) + f"- item {i} with **bold** words and `code`\n")
        i += 1
    return "".join(lines)


INPUTS: dict[str, tuple[Callable[[], str], int]] = {
    # name: (text, delta size)
    "long": (lambda: markdown_answer(50_000), 25),
    "refs": (lambda: "".join(f"[ref{i}]: https://example.com/{i}\n" for i in range(2_500)), 25),
    "refs_then_text": (
        lambda: "".join(f"[r{i}]: https://e.com/{i}\n" for i in range(1_500))
        + "\n"
        + "".join(f"See [r{i}] and [text][r{i}]. " for i in range(1_500)),
        25,
    ),
    "spaces": (lambda: "word " * 1000 + " " * 9000, 25),
    "tilde_paragraph": (lambda: ("abc " * 974 + "~~~ " + "def " * 576).strip(), 25),
    "table": (lambda: _table(8_600), 25),
    "nested_list": (lambda: _nested_list(30_000), 25),
    "escapes": (lambda: "\\* " * 10_000, 25),
    "asterisks": (lambda: "*a " * 10_000, 25),
    "one_fence": (lambda: "```\n" + "x = 1  # code\n" * 3_000 + "```\n", 25),
    "one_word": (lambda: "x" * 30_000, 25),
    "cjk": (lambda: "日本語の文章" * 5_000, 25),
    "brackets": (lambda: "[" * 20_000, 25),
    "brackets_closed": (lambda: "[" * 20_000 + "]", 25),
    "links": (lambda: "".join(f"[link {i}](https://example.com/{i}) and [ref{i}] " for i in range(1_000)), 25),
    "quotes": (lambda: "> " * 5_000 + "deep\n", 25),
    "long_url": (lambda: "see https://example.com/" + "a/" * 10_000 + " end", 25),
}


def stream(text: str, delta: int) -> tuple[float, float, int, bool]:
    """(CPU seconds in total, slowest delta in seconds, messages, parts join back and fit the limit)."""
    renderer = SlackRenderer()
    layout = AnswerLayout(renderer)
    slowest = 0.0
    start = time.process_time()
    for i in range(0, len(text), delta):
        before = time.process_time()
        layout.append(text[i : i + delta])
        layout.snapshot(final=False)
        slowest = max(slowest, time.process_time() - before)
    before = time.process_time()
    parts = layout.snapshot(final=True)
    slowest = max(slowest, time.process_time() - before)
    total = time.process_time() - start
    ok = renderer.join([p.md for p in parts]) == text and all(
        0 < renderer.length(p.text) <= LIMIT for p in parts
    )
    return total, slowest, len(parts), ok


def main(names: list[str]) -> None:
    print(f"{'input':16} {'chars':>7} {'delta':>5} {'CPU s':>7} {'worst delta ms':>15} {'messages':>8}  exact")
    for name in names or list(INPUTS):
        make, delta = INPUTS[name]
        text = make()
        total, slowest, messages, ok = stream(text, delta)
        print(f"{name:16} {len(text):7} {delta:5} {total:7.2f} {1000 * slowest:15.1f} {messages:8}  {ok}")


if __name__ == "__main__":
    main(sys.argv[1:])
