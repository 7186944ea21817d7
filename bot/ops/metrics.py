"""Prometheus metrics (`prometheus_client`, in a registry of the bot's own, not the library's global one).

`Metrics` is a `Recorder`: the answer path reports through it and never touches Prometheus. Gauges that are
states rather than events (answers in flight and queued, journal size) are read when `/metrics` is scraped,
from callbacks `watch` is given. Every name starts with `slackbot_`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TOKEN_KINDS = {"input_tokens": "input", "output_tokens": "output", "cache_read_tokens": "cache_read",
               "cache_write_tokens": "cache_write"}
WRITE_METHODS = ("chat.postMessage", "chat.update", "chat.delete", "conversations.replies")
STAGES = {"t_placeholder": "placeholder", "t_first_text": "first_text", "t_final": "final"}


class Metrics:
    """Counters and histograms of answers, Slack calls, Bedrock calls, tokens and cost."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.answers = Counter("slackbot_answers", "Answers ended, by trigger and outcome",
                               ["trigger", "outcome"], registry=r)
        self.latency = Histogram("slackbot_answer_latency_seconds",
                                 "From the event to the placeholder, the first text and the final text in Slack",
                                 ["stage"], buckets=LATENCY_BUCKETS, registry=r)
        self.slack_calls = Counter("slackbot_slack_calls", "Slack Web API calls, by method and result "
                                   "(ok, ratelimited, error, network)", ["method", "result"], registry=r)
        self.slack_429 = Counter("slackbot_slack_rate_limited", "Slack 429 responses, by method", ["method"],
                                 registry=r)
        for method in WRITE_METHODS:  # shown at 0 from the start: "no 429s" is a figure too
            self.slack_429.labels(method)
        self.bedrock_calls = Counter("slackbot_bedrock_calls", "Bedrock calls opened (ok) or refused before "
                                     "streaming (the error code)", ["operation", "result"], registry=r)
        self.tokens = Counter("slackbot_bedrock_tokens", "Tokens billed by Bedrock, by kind "
                              "(input, output, cache_read, cache_write)", ["kind"], registry=r)
        self.cost = Counter("slackbot_estimated_cost_usd", "Estimated cost of the answers in USD (answers of a "
                            "model without a known price are not counted)", registry=r)
        self.unpriced = Counter("slackbot_answers_without_cost_estimate", "Answers whose model has no known price",
                                registry=r)
        self.guardrail = Counter("slackbot_guardrail_interventions", "Answers a Bedrock guardrail stopped",
                                 registry=r)
        self.in_flight = Gauge("slackbot_answers_in_flight", "Answers being written now", registry=r)
        self.queued = Gauge("slackbot_answers_queued", "Answers waiting for a worker", registry=r)
        self.journal = Gauge("slackbot_journal_jobs", "Jobs in the journal (accepted, not yet complete)",
                             registry=r)

    # -- the Recorder interface -------------------------------------------------------------------------
    def answer(self, fields: Mapping[str, Any]) -> None:
        self.answers.labels(str(fields.get("trigger") or "unknown"), str(fields.get("outcome") or "unknown")).inc()
        for key, stage in STAGES.items():
            value = fields.get(key)
            if isinstance(value, int | float) and value >= 0:
                self.latency.labels(stage).observe(value)
        for key, kind in TOKEN_KINDS.items():
            value = fields.get(key)
            if isinstance(value, int) and value > 0:
                self.tokens.labels(kind).inc(value)
        cost = fields.get("cost_usd")
        if isinstance(cost, int | float):
            self.cost.inc(cost)
        elif fields.get("bedrock_calls"):
            self.unpriced.inc()
        if fields.get("stop_reason") == "guardrail_intervened":
            self.guardrail.inc()

    def slack_call(self, method: str, result: str) -> None:
        self.slack_calls.labels(method, result).inc()
        if result == "ratelimited":
            self.slack_429.labels(method).inc()

    def bedrock_call(self, operation: str, result: str) -> None:
        self.bedrock_calls.labels(operation, result).inc()

    # -- states, read at scrape time ------------------------------------------------------------------------
    def watch(self, counts: Callable[[], tuple[int, int]], journal: Callable[[], int]) -> None:
        """`counts()` gives (answers running, answers waiting); `journal()` the number of journaled jobs."""
        self.in_flight.set_function(lambda: float(counts()[0]))
        self.queued.set_function(lambda: float(counts()[1]))
        self.journal.set_function(lambda: _safely(journal))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _safely(read: Callable[[], int]) -> float:
    """A gauge read from the store: NaN (not a false zero) when the store cannot be read right now."""
    try:
        return float(read())
    except Exception:  # noqa: BLE001 - a scrape must never fail because the store is briefly unreachable
        return math.nan
