"""Benchmark: one bot, several processes (figures, not tests).

    python -m tests.replicas_bench                 # the 30- and 100-answer loads with 1 (SQLite), 1, 2, 3 processes
    python -m tests.replicas_bench --only takeover outage

Every process is a real `python -m bot` against the fakes and one real Redis (Debian's redis-server); the fake
Slack enforces Tier 3 on chat.update (50/min, burst 20) and one post a second per channel (burst 5) for the
whole workspace, whatever the number of processes, and hands each envelope to one connection at random.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

import psutil
import redis

from tests.bench import ask_load, collect_generic, pct, prepare_load
from tests.conftest import AWS_ENV, MODEL, fresh_state_url, process_env
from tests.fakes.bedrock import Answer as ScriptedAnswer
from tests.fakes.bedrock import FakeBedrock
from tests.fakes.slack import APP_TOKEN, BOT_ID, BOT_TOKEN, FakeSlack
from tests.redis_server import RedisServer


def start(slack: FakeSlack, bedrock: FakeBedrock, n: int, state: str, **extra: str) -> list[subprocess.Popen[bytes]]:
    env = process_env(**AWS_ENV, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=slack.api_url,
                      AWS_ENDPOINT_URL_BEDROCK_RUNTIME=bedrock.url, BEDROCK_MODEL_ID=MODEL, LOG_LEVEL="WARNING",
                      STATE_URL=state, **extra)
    # not open_connections: a killed process of an earlier run may still count as open at this moment
    before = slack.connections_opened
    procs = [subprocess.Popen([sys.executable, "-m", "bot"], env=env, cwd="/", stdin=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(n)]
    slack.wait_for(lambda s: s.connections_opened >= before + n, timeout=60)
    time.sleep(1.0)  # let them finish starting
    return procs


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.kill()


def fresh(slack: FakeSlack, bedrock: FakeBedrock) -> None:
    slack.reset()
    bedrock.reset()
    bedrock.set_default_model()


def text_of(slack: FakeSlack, channel: str, ts: str) -> str:
    return "\n".join(m["text"] for m in slack.thread(channel, ts) if m.get("bot_id") == BOT_ID).strip()


def load(slack: FakeSlack, bedrock: FakeBedrock, server: RedisServer, *, processes: int, backend: str, n: int,
         channels: int = 10, deltas: int = 200, seconds: float = 4.0) -> dict[str, Any]:
    from bot.render.mrkdwn import to_mrkdwn

    fresh(slack, bedrock)
    prepare_load(slack, bedrock, channels=channels, deltas=deltas, seconds=seconds)
    state = server.url if backend == "redis" else fresh_state_url()
    procs = start(slack, bedrock, processes, state, KEY_PREFIX=f"bench-{uuid.uuid4().hex[:6]}:")
    ps = [psutil.Process(p.pid) for p in procs]
    cpu0 = sum(sum(p.cpu_times()[:2]) for p in ps)
    commands0 = server.commands()
    try:
        answers = ask_load(slack, n=n, channels=channels, deltas=deltas)
        deadline = time.monotonic() + 90 + n * 2.0
        while time.monotonic() < deadline and sum(
                text_of(slack, a.channel, a.ts) == to_mrkdwn(a.expected).strip() for a in answers) < n:
            time.sleep(0.5)
        time.sleep(1.0)
        log = bedrock.delta_log
        for a in answers:
            a.deltas = [t for t, text in log if text.startswith(a.expected[:4])]
            a.complete = text_of(slack, a.channel, a.ts) == to_mrkdwn(a.expected).strip()
        collect_generic(slack, answers)
        cpu = sum(sum(p.cpu_times()[:2]) for p in ps) - cpu0
        commands = server.commands() - commands0
        placeholder = [1000 * (a.placeholder - a.pushed) for a in answers if a.placeholder]
        final = [1000 * (a.final - a.deltas[-1]) for a in answers if a.final and a.deltas and a.complete]
        doubled = sum(len([m for m in slack.thread(a.channel, a.ts) if m.get("bot_id") == BOT_ID]) > 1
                      and not a.complete for a in answers)
        return {"exact": sum(a.complete for a in answers), "n": n, "doubled": doubled,
                "p95_placeholder": pct(placeholder, .95) if placeholder else float("nan"),
                "p95_final": pct(final, .95) if final else float("nan"),
                "429": len(slack.rate_limited_calls), "updates": len(slack.calls_for("chat.update")),
                "cpu_per_answer": cpu / n, "redis_per_answer": commands / n if backend == "redis" else 0.0}
    finally:
        stop(procs)


def loads(slack: FakeSlack, bedrock: FakeBedrock, server: RedisServer) -> None:
    for n, title in ((30, "30 mentions in 10 channels within 1 s"), (100, "100 concurrent answers")):
        print(f"\n== {title}, 200 deltas over 4 s each ==")
        print(f"{'processes':18} {'exact':>8} {'p95 event->placeholder':>23} {'p95 last delta->final':>22} "
              f"{'429s':>5} {'updates':>8} {'CPU s/answer':>13} {'Redis cmds/answer':>18}")
        for processes, backend in ((1, "sqlite"), (1, "redis"), (2, "redis"), (3, "redis")):
            r = load(slack, bedrock, server, processes=processes, backend=backend, n=n)
            print(f"{f'{processes} ({backend})':18} {r['exact']:>5}/{r['n']:<2} {r['p95_placeholder']:>20.0f} ms "
                  f"{r['p95_final']:>19.0f} ms {r['429']:>5} {r['updates']:>8} {r['cpu_per_answer']:>13.3f} "
                  f"{r['redis_per_answer']:>18.1f}")


def writes_of(slack: FakeSlack) -> list[Any]:
    """The calls that change what an answer shows, on either route."""
    return [c for c in slack.calls if c.method in ("chat.update", "chat.appendStream", "chat.stopStream",
                                                   "chat.postMessage", "chat.startStream")]


def takeover(slack: FakeSlack, bedrock: FakeBedrock, server: RedisServer, lease: float) -> None:
    """kill -9 of the process writing an answer: how long until another process resumes it, and is it exact."""
    fresh(slack, bedrock)
    text = " ".join(f"word{i}" for i in range(400)) + "."
    bedrock.set_fallback(lambda request: ScriptedAnswer(text, token_chars=6, delay=0.05))  # about 20 s
    prefix = f"bench-{uuid.uuid4().hex[:6]}:"
    procs = start(slack, bedrock, 3, server.url, KEY_PREFIX=prefix, LEASE_SECONDS=str(lease))
    try:
        ts = slack.user_says("C1", "U1", "<@UBOT> tell me")
        slack.wait_for(lambda s: any("word10" in m["text"] for m in s.thread("C1", ts) if m.get("bot_id")), timeout=30)
        client = redis.Redis.from_url(server.url)
        raw = client.hget(f"{prefix}job:T0TEAM-C1-{ts}", "json")
        client.close()
        owner = re.search(rb'"owner":"(\d+)-', raw or b"")
        assert owner is not None
        victim = int(owner.group(1))
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        writes = len(writes_of(slack))  # either route: edits, or appends to the answer's stream
        slack.wait_for(lambda s: len(writes_of(s)) > writes, timeout=lease * 3 + 30)
        resumed = time.monotonic() - killed
        slack.wait_for(lambda s: text_of(s, "C1", ts) == text, timeout=120)
        messages = len([m for m in slack.thread("C1", ts) if m.get("bot_id") == BOT_ID])
        print(f"kill -9 of the writing process (LEASE_SECONDS={lease:g}): resumed by another process {resumed:.1f} s "
              f"later; exact, {messages} message(s)")
    finally:
        stop([p for p in procs if p.poll() is None])


def outage(slack: FakeSlack, bedrock: FakeBedrock, server: RedisServer) -> None:
    """Redis stopped for 10 s while answers are written and new mentions arrive."""
    fresh(slack, bedrock)
    slack.unacked_retry_after = (3.0, 8.0, 20.0)
    bedrock.set_fallback(lambda request: ScriptedAnswer("Fine, " + request.messages[-1]["content"][0]["text"]
                                                        .split()[-1], token_chars=4, delay=0.3))
    procs = start(slack, bedrock, 2, server.url, KEY_PREFIX=f"bench-{uuid.uuid4().hex[:6]}:")
    try:
        before = [slack.user_says("C1", "U1", f"<@UBOT> before{i}") for i in range(3)]
        time.sleep(0.5)
        server.stop()
        down = time.monotonic()
        during = [slack.user_says("C2", "U1", f"<@UBOT> during{i}") for i in range(3)]
        time.sleep(10)
        server.start()
        up = time.monotonic()
        results = []
        for channel, prefix, tss in (("C1", "before", before), ("C2", "during", during)):
            for i, ts in enumerate(tss):
                slack.wait_for(lambda s, c=channel, t=ts, w=f"Fine, {prefix}{i}": text_of(s, c, t) == w, timeout=60)
                results.append(time.monotonic())
        doubled = sum(len([m for m in slack.thread(c, t) if m.get("bot_id") == BOT_ID]) > 1
                      for c, tss in (("C1", before), ("C2", during)) for t in tss)
        retries = sum(1 for e in slack.envelopes if e.get("retry_attempt"))
        print(f"Redis down for {up - down:.0f} s: 3 answers in progress and 3 new mentions all answered exactly, "
              f"{doubled} doubled; {retries} envelopes were redelivered by Slack; the last answer landed "
              f"{max(results) - up:.1f} s after Redis was back")
    finally:
        stop(procs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", default=["load", "takeover", "outage"])
    args = parser.parse_args()
    slack = FakeSlack().start()
    bedrock = FakeBedrock().start()
    server = RedisServer().start()
    try:
        if "load" in args.only:
            loads(slack, bedrock, server)
        if "takeover" in args.only:
            takeover(slack, bedrock, server, lease=15.0)
        if "outage" in args.only:
            outage(slack, bedrock, server)
    finally:
        server.stop()
        slack.stop()
        bedrock.stop()


if __name__ == "__main__":
    main()
