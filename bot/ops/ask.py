"""`python -m bot ask "question"` (one answer) and `python -m bot ask` (a small loop on stdin): the model from a
terminal, without Slack, for trying prompts and the AWS setup.

The answer goes through the bot's own generation path (`bot.model.generation.Generation`: the same system
prompt, settings, guardrail, retries, continuations past `max_tokens`, resumption of a broken stream, notes)
and is printed as it streams, Markdown as the model writes it. Notes follow the answer in italics; waits
("the model is busy; retrying…") and log lines go to stderr. In the loop, each answer is part of the
conversation that follows; an empty line is skipped, `exit`, `quit` or end of input ends it.

Exit status: 0, or 1 when the (last) answer ended with an error; 2 for a configuration error.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

from bot.config import Settings
from bot.errors import ConfigError, ModelError
from bot.model.bedrock import make_client
from bot.model.generation import Generation, ModelCapabilities, ModelRequest, Policy
from bot.ops.logs import configure_logging
from bot.state.memory import MemoryStore

SLACK_TOKENS = frozenset({"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"})


class Terminal:
    """One conversation with the model, printed to `out`."""

    def __init__(self, settings: Settings, client: Any, out: TextIO, err: TextIO) -> None:
        from bot.app import guardrail_config
        from bot.responder import BASE_PROMPT, inference_config

        self._settings = settings
        self._client = client
        self._out = out
        self._err = err
        self._caps = ModelCapabilities(MemoryStore())  # learned for this run only (no lock on the bot's store)
        self._policy = Policy(max_continuations=settings.max_continuations,
                              max_attempts=settings.bedrock_max_attempts,
                              stream_retries=settings.bedrock_stream_retries,
                              max_output_tokens=settings.max_answer_output_tokens,
                              guardrail=guardrail_config(settings))
        prompt = "\n\n".join(p for p in (BASE_PROMPT, settings.system_prompt) if p)
        self._system = [{"text": prompt}]
        self._inference = inference_config(settings)
        self.messages: list[dict[str, Any]] = []

    def ask(self, question: str) -> bool:
        """Stream the answer to `question`; True if it ended without an error."""
        self.messages.append({"role": "user", "content": [{"text": question}]})
        request = ModelRequest(model_id=self._settings.bedrock_model_id, messages=list(self.messages),
                               system=self._system, inference_config=dict(self._inference), cache=True)
        generation = Generation(self._client, request, self._caps, self._policy,
                                on_wait=lambda status: print(f"[{status}]", file=self._err, flush=True))
        for piece in generation:
            self._out.write(piece)
            self._out.flush()
        outcome = generation.outcome
        if outcome.note:
            self._out.write(f"\n\n_{outcome.note}_")
        self._out.write("\n")
        self._out.flush()
        if generation.text.strip():
            self.messages.append({"role": "assistant", "content": [{"text": generation.text.rstrip()}]})
        else:  # nothing to keep: the next question must not follow a user turn with another one
            self.messages.pop()
        return outcome.error is None

    def loop(self, source: TextIO) -> bool:
        """Questions from `source`, one a line, until end of input or `exit`."""
        ok = True
        interactive = source.isatty()
        while True:
            if interactive:
                print("> ", end="", file=self._err, flush=True)
            line = source.readline()
            if not line:
                return ok
            question = line.strip()
            if question in ("exit", "quit"):
                return ok
            if question:
                ok = self.ask(question)
                if interactive:
                    self._out.write("\n")


def run(question: str | None, env: Mapping[str, str], *, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout,
        err: TextIO = sys.stderr) -> int:
    try:
        settings = Settings.from_env(env, optional=SLACK_TOKENS)
    except ConfigError as error:
        print(f"config error: {error}", file=err)
        return 2
    configure_logging(settings.log_level, settings.log_format, err)
    try:
        client = make_client(region=settings.aws_region, read_timeout=settings.bedrock_read_timeout_seconds,
                             max_pool_connections=4)
    except ModelError:
        print("config error: no AWS Region is configured: set AWS_REGION (for example us-east-1)", file=err)
        return 2
    terminal = Terminal(settings, client, out, err)
    try:
        ok = terminal.ask(question) if question else terminal.loop(stdin)
    except KeyboardInterrupt:
        print("", file=out)
        return 130
    return 0 if ok else 1
