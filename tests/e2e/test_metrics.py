"""Health and metrics: `python -m bot` with METRICS_PORT, scraped over HTTP; probes of a bot whose parts stop."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_bot
from bot.config import Settings
from bot.ops.health import Health, OpsServer, bot_probes
from bot.ops.metrics import Metrics
from bot.ops.prices import estimate
from tests.conftest import AWS_ENV, MODEL, bot_env, output
from tests.e2e.helpers import final_state
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape_until(url: str, done: Callable[[dict[Any, float]], bool], timeout: float = 10.0) -> dict[Any, float]:
    """The metrics once `done` holds (an answer is counted just after its final text reached Slack)."""
    deadline = time.monotonic() + timeout
    while True:
        status, text = get(url)
        assert status == 200
        got = samples(text)
        if done(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_metrics_count_answers_slack_calls_429s_tokens_and_cost(spawn: Any, slack: FakeSlack,
                                                                 bedrock: FakeBedrock) -> None:
    port = free_port()
    proc = spawn({**bot_env(slack), **AWS_ENV, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
                  "METRICS_PORT": str(port)})
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
    base = f"http://127.0.0.1:{port}"
    assert get(f"{base}/healthz") == (200, "ok\n")
    assert get(f"{base}/readyz") == (200, "ok\n")
    bedrock.enqueue(Stream(["Use IAM", " and rotate."]))
    bedrock.enqueue(Stream(["Blocked"], stop_reason="guardrail_intervened"))
    slack.fail_next("chat.update", 1, status=429, retry_after=1)
    first = slack.user_says("C1", "U1", "<@UBOT> how do I rotate keys?")
    final_state(slack, "C1", first)
    second = slack.user_says("C1", "U1", "<@UBOT> something else")
    final_state(slack, "C1", second)
    got = scrape_until(f"{base}/metrics", lambda m: sum(v for (name, _), v in m.items()
                                                        if name == "slackbot_answers_total") == 2)
    assert got[("slackbot_answers_total", (("outcome", "complete"), ("trigger", "mention")))] == 1
    assert got[("slackbot_answers_total", (("outcome", "complete_with_note"), ("trigger", "mention")))] == 1
    assert got[("slackbot_guardrail_interventions_total", ())] == 1
    assert got[("slackbot_slack_rate_limited_total", (("method", "chat.update"),))] == 1
    assert got[("slackbot_slack_calls_total", (("method", "chat.update"), ("result", "ratelimited")))] == 1
    posts = [c for c in slack.calls_for("chat.postMessage") if c.ok]
    assert got[("slackbot_slack_calls_total", (("method", "chat.postMessage"), ("result", "ok")))] == len(posts)
    assert got[("slackbot_bedrock_calls_total", (("operation", "ConverseStream"), ("result", "ok")))] == 2
    usage = bedrock.usage_totals
    for kind, key in (("input", "inputTokens"), ("output", "outputTokens"), ("cache_read", "cacheReadInputTokens"),
                      ("cache_write", "cacheWriteInputTokens")):
        assert got.get(("slackbot_bedrock_tokens_total", (("kind", kind),)), 0) == usage[key], kind
    cost = got[("slackbot_estimated_cost_usd_total", ())]
    assert cost == pytest.approx(estimate(MODEL, usage), abs=2e-6)  # each answer rounded to a millionth
    assert got[("slackbot_answer_latency_seconds_count", (("stage", "final"),))] == 2
    assert got[("slackbot_answers_in_flight", ())] == 0
    assert got[("slackbot_journal_jobs", ())] == 0
    assert '"cost_usd": ' in output(proc) and '"guardrail_intervened": true' in output(proc)


def test_off_by_default_and_a_taken_port_is_one_line(spawn: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = spawn({**bot_env(slack), **AWS_ENV, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
                      "METRICS_PORT": str(port)})
        assert proc.wait(20) == 2
    assert output(proc).strip() == (f"startup error: METRICS_PORT: cannot listen on 127.0.0.1:{port} "
                                    "(Address already in use)")


def test_health_says_why_it_is_not_healthy(start_bot: Callable[..., Any], slack: FakeSlack) -> None:
    bot = start_bot()
    health = Health()
    server = OpsServer("127.0.0.1", 0, health, Metrics().render).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert get(f"{base}/healthz") == (503, "starting\n")
        health.attach(*bot_probes(bot))
        assert get(f"{base}/healthz") == (200, "ok\n")
        bot.leases.close()
        assert get(f"{base}/healthz") == (503, "the lease keeper's thread is not running\n")
        bot.writer.close()
        assert get(f"{base}/healthz") == (503, "the Slack writer's scheduler thread is not running\n")
        bot.handler.close()
        assert get(f"{base}/healthz") == (503, "the Socket Mode connection is down\n")
        health.stopping()
        assert get(f"{base}/readyz") == (503, "shutting down\n")
        assert get(f"{base}/nothing")[0] == 404
    finally:
        server.close()


def test_readiness_also_needs_the_state_store(slack: FakeSlack, bedrock: FakeBedrock, aws_env: Any) -> None:
    settings = Settings.from_env(bot_env(slack))
    bot = create_bot(settings, sleep=lambda s: None, writer_backoff=lambda n: 0.01)
    bot.connect()
    health = Health()
    health.attach(*bot_probes(bot))
    try:
        slack.wait_for(lambda s: s.open_connections >= 1, timeout=5)
        assert health.ready() is None
        bot.store.close()
        assert health.live() is None
        assert "closed" in (health.ready() or "")
    finally:
        bot.close(grace=1.0)
