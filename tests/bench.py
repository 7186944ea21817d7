"""Benchmark: the real bot (`python -m bot`, a subprocess) against the project's fakes.

    python -m tests.bench                 # workload 1: one mention, a 300-delta answer over ~6 s
    python -m tests.bench --workload 2    # 30 mentions in 10 channels within a second (issue: load)
    python -m tests.bench --workload all

Times are taken in this process from the fakes' own records (time.monotonic): when the event was pushed,
when Slack received the placeholder / the first edit with text / the final edit, when Bedrock wrote the
first / last delta. CPU and RSS are the bot process's own (psutil). Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from slack_sdk import WebClient

from tests.conftest import AWS_ENV, MODEL
from tests.fakes.bedrock import Answer as Answer_
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import BOT_TOKEN, FakeSlack

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Answer:
    channel: str
    ts: str
    pushed: float
    expected: str
    placeholder: float | None = None
    first_text: float | None = None
    final: float | None = None
    edits: int = 0
    complete: bool = False
    deltas: list[float] = field(default_factory=list)


def start_bot(slack: FakeSlack, bedrock: FakeBedrock, extra: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BEDROCK_", "AWS_"))}
    env.update(AWS_ENV)
    env.update({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-fake-app-token",
                "SLACK_API_URL": slack.api_url, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
                "BEDROCK_MODEL_ID": MODEL, "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)})
    env.update(extra)
    proc = subprocess.Popen([sys.executable, "-m", "bot"], env=env, cwd="/", stdin=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
    return proc


def fake_round_trip(slack: FakeSlack) -> float:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    times = []
    for _ in range(20):
        start = time.monotonic()
        client.chat_postMessage(channel="C2", text="ping")
        times.append(time.monotonic() - start)
    return statistics.median(times)


def marks(params: dict[str, Any]) -> dict[str, Any]:
    meta = params.get("metadata") or {}
    if isinstance(meta, str):
        meta = json.loads(meta)
    return dict(meta.get("event_payload") or {})


def collect(slack: FakeSlack, answers: list[Answer]) -> None:
    """Fill in each answer's times from the fake Slack's call log."""
    by_reply = {a.ts: a for a in answers}
    ts_owner: dict[str, Answer] = {}
    for call in slack.calls:
        if call.method not in ("chat.postMessage", "chat.update") or not call.ok:
            continue
        m = marks(call.params)
        answer = by_reply.get(str(m.get("reply_to", "")))
        if answer is None:
            continue
        if call.method == "chat.postMessage" and answer.placeholder is None:
            answer.placeholder = call.time
            ts_owner[str(call.response.get("ts"))] = answer
            continue
        if call.method == "chat.update":
            answer.edits += 1
        if m.get("state") != "thinking" and answer.first_text is None:
            answer.first_text = call.time
        if m.get("state") == "final" and m.get("part") == int(m.get("parts", -1)) - 1:
            answer.final = call.time


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, answers: list[Answer], proc: psutil.Process, cpu0: float, slack: FakeSlack,
           duration: float, interval: float) -> dict[str, Any]:
    collect(slack, answers)
    cpu = sum(proc.cpu_times()[:2]) - cpu0
    rss = proc.memory_info().rss / 2**20
    rows = {
        "event -> placeholder (ms)": [1000 * (a.placeholder - a.pushed) for a in answers if a.placeholder],
        "first delta -> first text (ms)": [1000 * (a.first_text - a.deltas[0]) for a in answers
                                           if a.first_text and a.deltas],
        "last delta -> final text (ms)": [1000 * (a.final - a.deltas[-1]) for a in answers if a.final and a.deltas],
    }
    print(f"\n== {name} ==")
    for label, values in rows.items():
        if values:
            print(f"{label:34} p50 {pct(values, .5):8.1f}  p95 {pct(values, .95):8.1f}  max {max(values):8.1f}")
    edits = [a.edits for a in answers]
    print(f"{'chat.update per answer':34} mean {statistics.mean(edits):.1f}  max {max(edits)}"
          f"  (bound duration/interval + 2 = {duration / interval + 2:.1f})")
    print(f"{'429s received':34} {len(slack.rate_limited_calls)}")
    print(f"{'answers complete and exact':34} {sum(a.complete for a in answers)}/{len(answers)}")
    print(f"{'bot CPU seconds':34} {cpu:.2f}   peak RSS {rss:.0f} MB")
    return {"cpu": cpu, "rss": rss, "rows": rows}


def check_exact(slack: FakeSlack, answers: list[Answer]) -> None:
    from bot.mrkdwn import to_mrkdwn

    for a in answers:
        replies = [m for m in slack.thread(a.channel, a.ts) if m.get("bot_id") == "BBOT"]
        texts = [m["text"] for m in replies]
        a.complete = bool(texts) and "\n".join(texts) == to_mrkdwn(a.expected)


def workload_one(slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """One mention; a 300-delta answer over ~6 s."""
    deltas = [f"tok{i:03d} " for i in range(300)]
    proc = start_bot(slack, bedrock, {})
    ps = psutil.Process(proc.pid)
    try:
        rtt = fake_round_trip(slack)
        cpu0 = sum(ps.cpu_times()[:2])
        bedrock.enqueue(Stream(deltas, delay=0.02))
        pushed = time.monotonic()
        ts = slack.user_says("C1", "U1", "<@UBOT> a long answer please")
        answer = Answer("C1", ts, pushed, "".join(deltas))

        def finished(s: FakeSlack) -> bool:
            return any(marks(c.params).get("state") == "final" for c in s.calls_for("chat.update"))

        slack.wait_for(finished, timeout=30)
        answer.deltas = [t for t, _ in bedrock.delta_log]
        if not answer.deltas:
            raise SystemExit(f"no deltas streamed; the reply says: {slack.thread('C1', ts)[-1]['text']!r}")
        check_exact(slack, [answer])
        duration = answer.deltas[-1] - answer.deltas[0]
        print(f"fake Slack round trip (median of 20 chat.postMessage): {1000 * rtt:.1f} ms; "
              f"stream duration {duration:.1f} s")
        report("workload 1: one answer, 300 deltas", [answer], ps, cpu0, slack, duration, 1.0)
    finally:
        proc.terminate()
        proc.wait(30)


def workload_followup(slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """A follow-up without a mention in a 200-message thread the bot started: latency and Slack calls."""
    proc = start_bot(slack, bedrock, {})
    try:
        bedrock.enqueue(Stream(["Use IAM."]))
        root = slack.user_says("C1", "U1", "<@UBOT> how do I rotate keys?")
        slack.wait_for(lambda s: any(marks(c.params).get("state") == "final" for c in s.calls_for("chat.update")))
        for i in range(198):
            slack.add_history("C1", f"U{1 + i % 3}", f"thread message {i} about keys", thread_ts=root)
        before = len(slack.calls)
        bedrock.enqueue(Stream(["Every 90 days."]))
        pushed = time.monotonic()
        ts = slack.user_says("C1", "U1", "how often?", thread_ts=root)
        answer = Answer("C1", ts, pushed, "Every 90 days.")

        def done(s: FakeSlack) -> bool:
            return any(marks(c.params).get("reply_to") == ts and marks(c.params).get("state") == "final"
                       for c in s.calls_for("chat.update"))

        slack.wait_for(done, timeout=30)
        calls = [c.method for c in slack.calls[before:]]
        collect(slack, [answer])
        assert answer.placeholder is not None
        print("\n== follow-up in a 200-message thread ==")
        print(f"{'event -> placeholder (ms)':34} {1000 * (answer.placeholder - pushed):.1f}")
        counts = ", ".join(f"{m} x{calls.count(m)}" for m in sorted(set(calls)))
        print(f"{'Slack calls for the follow-up':34} {counts}")
    finally:
        proc.terminate()
        proc.wait(30)


def workload_long(slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """A 50,000-character Markdown answer streamed over ~10 s with continuations: how it is cut."""
    from bot.splitting import join_parts, slack_length
    from tests.e2e.test_long_answers import markdown_answer

    text = markdown_answer(50_000)
    proc = start_bot(slack, bedrock, {"BEDROCK_MAX_TOKENS": "2000"})
    try:
        bedrock.set_fallback(lambda request: Answer_(text, token_chars=8, delay=0.0016))
        ts = slack.user_says("C1", "U1", "<@UBOT> the whole manual")

        def done(s: FakeSlack) -> bool:
            return any(marks(c.params).get("state") == "final" and marks(c.params).get("part") ==
                       int(marks(c.params).get("parts", -1)) - 1 for c in s.calls if c.ok and
                       c.method in ("chat.update", "chat.postMessage"))

        slack.wait_for(done, timeout=120)
        replies = [m for m in slack.thread("C1", ts) if m.get("bot_id") == "BBOT"]
        edits = [c for c in slack.calls_for("chat.update") if c.ok]
        largest = max(len(c.params.get("text", "")) for c in slack.calls
                      if c.method in ("chat.update", "chat.postMessage"))
        exact = join_parts([marks(m)["md"] for m in replies]).strip() == text.strip()
        print("\n== a 50,000-character Markdown answer ==")
        print(f"{'Bedrock calls (continuations)':34} {len(bedrock.calls)}")
        print(f"{'messages per 10,000 characters':34} {len(replies) / (len(text) / 10_000):.2f} "
              f"({len(replies)} messages)")
        print(f"{'edits per message':34} {len(edits) / len(replies):.2f}")
        print(f"{'largest text sent vs limit':34} {largest} / 4000 (layout limit 3900, UTF-16 units "
              f"{max(slack_length(m['text']) for m in replies)})")
        print(f"{'joined parts == model text':34} {exact}")
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="1", choices=["1", "followup", "long", "all"])
    args = parser.parse_args()
    slack = FakeSlack().start()
    bedrock = FakeBedrock().start()
    bedrock.set_default_model()
    try:
        if args.workload in ("1", "all"):
            workload_one(slack, bedrock)
            slack.reset()
            bedrock.reset()
            bedrock.set_default_model()
        if args.workload in ("followup", "all"):
            workload_followup(slack, bedrock)
            slack.reset()
            bedrock.reset()
            bedrock.set_default_model()
        if args.workload in ("long", "all"):
            workload_long(slack, bedrock)
    finally:
        slack.stop()
        bedrock.stop()


if __name__ == "__main__":
    main()
