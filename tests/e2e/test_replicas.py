"""Several processes, one bot: three `python -m bot` processes on one real Redis, each with its own Socket Mode
connection; the fake Slack hands each envelope to one connection at random, as Slack does, so the two copies of a
mention usually reach two different processes."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from tests.conftest import AWS_ENV, bot_env, output
from tests.e2e.helpers import bot_replies, final_state, marks
from tests.fakes.bedrock import Answer, FakeBedrock, Request, Stream
from tests.fakes.slack import FakeSlack
from tests.redis_server import RedisServer

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture
def replicas(spawn: Any, slack: FakeSlack, bedrock: FakeBedrock,
             redis_server: RedisServer) -> Iterator[Callable[..., list[Any]]]:
    """replicas(n, **env) -> n bot processes sharing one Redis (under a key prefix of this test's own)."""
    prefix = f"replicas-{uuid.uuid4().hex[:8]}:"
    started: list[Any] = []

    def start(n: int, **extra: str) -> list[Any]:
        env = {**bot_env(slack), **AWS_ENV, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
               "STATE_URL": redis_server.url, "KEY_PREFIX": prefix, "LEASE_SECONDS": "3", **extra}
        before = slack.connections_opened  # not open_connections: a killed process of an
        # earlier test may still count as open at this moment, and close a moment later
        procs = [spawn(env) for _ in range(n)]
        slack.wait_for(lambda s: s.connections_opened >= before + n, timeout=30)
        started.extend(procs)
        return procs

    start.prefix = prefix  # type: ignore[attr-defined]
    yield start


def owner_pid(redis_server: RedisServer, prefix: str, job_id: str) -> int:
    """The pid of the process holding a job (its owner is "<pid>-<random>")."""
    client = redis.Redis.from_url(redis_server.url)
    try:
        raw = client.hget(f"{prefix}job:{job_id}", "json")
    finally:
        client.close()
    assert raw is not None
    owner = re.search(rb'"owner":"(\d+)-', raw)
    assert owner is not None, raw
    return int(owner.group(1))


def echo(request: Request) -> Any:
    """Answers "A(<question>)" slowly, so that answers overlap across processes."""
    question = request.messages[-1]["content"][0]["text"].split(": ")[-1].strip()
    return Answer(f"A({question})", token_chars=3, delay=0.02)


def test_mentions_and_follow_ups_are_answered_once_each_in_thread_order(replicas: Any, slack: FakeSlack,
                                                                         bedrock: FakeBedrock) -> None:
    """10 threads, each: a mention starts it, a second mention and two follow-ups without a mention come while
    its answers are still being written. 40 questions, 3 processes: each answered exactly once, and each answer
    of a thread sees the thread's earlier answers in its history, in order."""
    bedrock.set_fallback(echo)
    replicas(3)
    time.sleep(1.0)  # let the three processes finish starting (two cores here: a busy start delays events)
    roots = [slack.user_says(f"C{1 + i % 2}", "U1", f"<@UBOT> q{i}-0") for i in range(10)]
    asked: dict[str, list[str]] = {root: [root] for root in roots}
    for step in range(1, 4):
        time.sleep(0.1)  # a person's next message, while the thread's answers are still being written
        for i, root in enumerate(roots):
            channel = f"C{1 + i % 2}"
            text = f"<@UBOT> q{i}-{step}" if step == 1 else f"q{i}-{step}"
            asked[root].append(slack.user_says(channel, "U1", text, thread_ts=root))
    for i, root in enumerate(roots):
        channel = f"C{1 + i % 2}"
        for step, ts in enumerate(asked[root]):
            replies = final_state(slack, channel, root, reply_to=ts, timeout=60)
            assert "".join(m["text"] for m in replies) == f"A(q{i}-{step})"
        answers = [m for m in bot_replies(slack, channel, root)]
        assert sorted(marks(m)["reply_to"] for m in answers) == sorted(asked[root])  # once each
    for request in bedrock.calls:
        turns = [m["content"][0]["text"] for m in request.messages]
        question = turns[-1].split(": ")[-1].strip()
        i, step = (int(x) for x in question[1:].split("-"))
        earlier = [t for t in turns if t.startswith("A(")]
        assert earlier == [f"A(q{i}-{k})" for k in range(step)], (question, turns)  # the thread, in order


def test_an_answer_waits_for_an_earlier_message_whose_event_comes_late(replicas: Any, slack: FakeSlack,
                                                                        bedrock: FakeBedrock) -> None:
    """The race behind out-of-order answers: a thread's second message reaches a process while the first one's
    event is still on its way (to another process). The second answer waits for the first to be journaled and
    answered, then sees it in its history. One process on the shared store shows it: the rule is the store's."""
    bedrock.set_fallback(echo)
    replicas(1)
    first = slack.add_history("C1", "U1", "<@UBOT> first")  # posted; its events come late
    second = slack.user_says("C1", "U1", "<@UBOT> second", thread_ts=first)
    time.sleep(1.5)
    assert not bedrock.calls  # the second waits (for at most EARLIER_GRACE after the first was posted)
    slack.deliver_late("C1", first)
    assert "".join(m["text"] for m in final_state(slack, "C1", first, reply_to=first, timeout=20)) == "A(first)"
    assert "".join(m["text"] for m in final_state(slack, "C1", first, reply_to=second, timeout=20)) == "A(second)"
    assert [call.messages[-1]["content"][0]["text"].split(": ")[-1] for call in bedrock.calls] == ["first", "second"]


def test_kill_9_of_the_process_writing_an_answer_another_finishes_it(replicas: Any, slack: FakeSlack,
                                                                    bedrock: FakeBedrock,
                                                                    redis_server: RedisServer) -> None:
    text = " ".join(f"word{i}" for i in range(80)) + "."
    held = threading.Event()
    calls: list[Request] = []

    def model(request: Request) -> Any:
        calls.append(request)
        if len(calls) == 1:
            return Stream([text[i:i + 6] for i in range(0, len(text), 6)], gate=held, gate_after=15)
        return Answer(text, token_chars=6)

    bedrock.set_fallback(model)
    procs = replicas(3)
    ts = slack.user_says("C1", "U1", "<@UBOT> tell me")
    slack.wait_for(lambda s: [m for m in bot_replies(s, "C1", ts) if "word5" in m["text"]], timeout=20)
    victim = owner_pid(redis_server, replicas.prefix, f"T0TEAM-C1-{ts}")
    assert victim in [p.pid for p in procs]
    os.kill(victim, signal.SIGKILL)
    held.set()
    replies = final_state(slack, "C1", ts, timeout=40)  # its lease (3 s here) expires, another process resumes
    assert "".join(m["text"] for m in replies) == text
    assert len(bot_replies(slack, "C1", ts)) == len(replies)
    assert len(calls) == 2  # one continuation from the text shown, not a new answer


def test_a_rolling_deploy_hands_answers_over(replicas: Any, slack: FakeSlack, bedrock: FakeBedrock,
                                             redis_server: RedisServer) -> None:
    """A new process starts, an old one gets SIGTERM while it writes a long answer: the others finish it from
    the text shown, at once (the stopping process releases it); every answer exact and once."""
    long_text = " ".join(f"w{i}" for i in range(300)) + "."
    bedrock.set_fallback(lambda request: Answer(long_text, token_chars=4, delay=0.03))  # about 7 s
    olds = replicas(2, SHUTDOWN_GRACE_SECONDS="2")
    asked = [slack.user_says(f"C{1 + i % 2}", "U1", f"<@UBOT> long {i}") for i in range(4)]
    replicas(1)  # the new process
    slack.wait_for(lambda s: all(bot_replies(s, f"C{1 + i % 2}", ts) for i, ts in enumerate(asked)))
    owners = {owner_pid(redis_server, replicas.prefix, f"T0TEAM-C{1 + i % 2}-{ts}") for i, ts in enumerate(asked)}
    old = next(p for p in olds if p.pid in owners)
    old.send_signal(signal.SIGTERM)
    assert old.wait(30) == 0
    assert "handing them over to the other processes" in output(old)
    for i, ts in enumerate(asked):
        replies = final_state(slack, f"C{1 + i % 2}", ts, timeout=60)
        assert "".join(m["text"] for m in replies) == long_text
        assert len(bot_replies(slack, f"C{1 + i % 2}", ts)) == len(replies)


def test_redis_down_for_ten_seconds_loses_nothing_and_doubles_nothing(replicas: Any, slack: FakeSlack,
                                                                      bedrock: FakeBedrock,
                                                                      redis_server: RedisServer) -> None:
    """While Redis is down, events are not acknowledged (so Slack sends them again) and answers already being
    written go on; once Redis is back, everything is answered, once."""
    slack.unacked_retry_after = (3.0, 8.0, 20.0)  # Slack retries an unacknowledged event a few times
    bedrock.set_fallback(lambda request: Answer("Fine, " + request.messages[-1]["content"][0]["text"].split()[-1],
                                                token_chars=4, delay=0.3))  # a few seconds each
    procs = replicas(2)
    before = [slack.user_says("C1", "U1", f"<@UBOT> before{i}") for i in range(2)]
    slack.wait_for(lambda s: all(bot_replies(s, "C1", ts) for ts in before))
    redis_server.stop()
    try:
        during = [slack.user_says("C2", "U1", f"<@UBOT> during{i}") for i in range(3)]
        time.sleep(10)
    finally:
        redis_server.start()
    for prefix, channel, tss in (("before", "C1", before), ("during", "C2", during)):
        for i, ts in enumerate(tss):
            replies = final_state(slack, channel, ts, timeout=60)
            assert "".join(m["text"] for m in replies) == f"Fine, {prefix}{i}"
            assert len(bot_replies(slack, channel, ts)) == len(replies)
    logs = "".join(output(p) for p in procs)
    assert "the state store is unreachable" in logs and "Slack will deliver it again" in logs
