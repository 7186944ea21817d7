"""Benchmark: the real bot (`python -m bot`, a subprocess) against the project's fakes.

    python -m tests.bench                 # workload 1: one mention, a 300-delta answer over ~6 s
    python -m tests.bench --workload 2    # 30 mentions in 10 channels within a second (issue: load)
    python -m tests.bench --workload sustained   # 20 answers of 30 s in 10 channels, per STREAMING_MODE
    python -m tests.bench --workload dm          # Slack calls of one DM answer (status, stream, feedback)
    python -m tests.bench --workload all

In workloads 2 and 3 the bot runs with METRICS_PORT set and its /metrics is scraped at the end (answers,
429s, tokens, cost). Times are taken in this process from the fakes' own records (time.monotonic): when the
event was pushed, when Slack received the placeholder / the first edit with text / the final edit, when Bedrock
wrote the first / last delta. CPU and RSS are the bot process's own (psutil). Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import psutil
from slack_sdk import WebClient

from tests.conftest import AWS_ENV, MODEL, fresh_state_url, process_env
from tests.fakes.bedrock import Answer as Answer_
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import BOT_TOKEN, FakeSlack


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


def start_bot(slack: FakeSlack, bedrock: FakeBedrock, extra: dict[str, str],
              module: str = "bot") -> subprocess.Popen[bytes]:
    env = process_env(**AWS_ENV)
    env.update({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-fake-app-token",
                "SLACK_API_URL": slack.api_url, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
                "BEDROCK_MODEL_ID": MODEL, "LOG_LEVEL": "WARNING", "STATE_URL": fresh_state_url()})
    env.update(extra)
    proc = subprocess.Popen([sys.executable, "-m", module], env=env, cwd="/", stdin=subprocess.DEVNULL,
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
    from bot.render.mrkdwn import to_mrkdwn

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
    from bot.render.splitting import join_parts, slack_length
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


class PeakRss:
    """Samples a process's RSS every 100 ms; `peak` in MB."""

    def __init__(self, proc: psutil.Process) -> None:
        import threading

        self.peak = 0.0
        self._proc = proc
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self.peak = max(self.peak, self._proc.memory_info().rss / 2**20)
            except psutil.Error:
                return

    def stop(self) -> float:
        self._stop.set()
        return self.peak


def collect_generic(slack: FakeSlack, answers: list[Answer]) -> None:
    """Times from the call log without relying on metadata (works for the baseline too)."""
    by_question = {a.ts: a for a in answers}
    owner: dict[str, Answer] = {}
    for call in slack.calls:
        if call.method == "chat.postMessage" and call.ok:
            answer = by_question.get(str(call.params.get("thread_ts", "")))
            if answer is None:
                continue
            if answer.placeholder is None:
                answer.placeholder = call.time
            owner[str(call.response.get("ts"))] = answer
            answer.final = call.time
        elif call.method == "chat.update":
            answer = owner.get(str(call.params.get("ts", "")))
            if answer is None:
                continue
            answer.edits += 1
            if call.ok:
                if answer.first_text is None:
                    answer.first_text = call.time
                answer.final = call.time


def prepare_load(slack: FakeSlack, bedrock: FakeBedrock, *, channels: int, deltas: int, seconds: float,
                 tiers: bool = False) -> None:
    """The load workloads' Slack and model: channels CL…; Slack's Tier 3 on chat.update (50/min, burst 20) and
    1 post/s per channel (burst 5), or with `tiers` Slack's tiers on every method; each answer `deltas` deltas
    over `seconds`, tagged with its question."""
    for i in range(channels):
        if f"CL{i}" not in slack.channels:
            slack.add_channel(f"CL{i}", f"load-{i}", kind="public", members=("U1",), bot_member=True)
    if tiers:
        slack_tiers(slack)
    else:
        slack.set_rate_limit("chat.update", per_minute=50, burst=20)
        slack.set_post_limit(per_second=1.0, burst=5)

    def script(request: Any) -> Stream:
        tag = request.messages[-1]["content"][0]["text"].split()[-1]
        return Stream([f"{tag}t{k:03d} " for k in range(deltas)], delay=seconds / deltas)

    bedrock.set_fallback(script)


def ask_load(slack: FakeSlack, *, n: int, channels: int, deltas: int, prefix: str = "a") -> list[Answer]:
    """n mentions over the channels within one second; each with the answer `prepare_load`'s model will give."""
    answers = []
    for i in range(n):
        tag = f"{prefix}{i:03d}"
        pushed = time.monotonic()
        ts = slack.user_says(f"CL{i % channels}", "U1", f"<@UBOT> question {tag}")
        answers.append(Answer(f"CL{i % channels}", ts, pushed, "".join(f"{tag}t{k:03d} " for k in range(deltas))))
        time.sleep(1.0 / n)
    return answers


def run_load(slack: FakeSlack, bedrock: FakeBedrock, *, n: int, channels: int, deltas: int, seconds: float,
             module: str) -> dict[str, Any]:
    """n mentions spread over `channels` channels within one second; each answer has `deltas` deltas over
    `seconds`. Slack enforces Tier 3 on chat.update (50/min, burst 20) and 1 post/s per channel (burst 5)."""
    from bot.render.mrkdwn import to_mrkdwn

    prepare_load(slack, bedrock, channels=channels, deltas=deltas, seconds=seconds)
    port = free_port() if module == "bot" else None  # the baseline has no metrics
    proc = start_bot(slack, bedrock, {"METRICS_PORT": str(port)} if port else {}, module=module)
    ps = psutil.Process(proc.pid)
    rss = PeakRss(ps)
    try:
        slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
        cpu0 = sum(ps.cpu_times()[:2])
        answers = ask_load(slack, n=n, channels=channels, deltas=deltas)
        deadline = time.monotonic() + 60 + n * 2.0

        def finished() -> int:
            done = 0
            for a in answers:
                replies = [m for m in slack.thread(a.channel, a.ts) if m.get("bot_id") == "BBOT"]
                if replies and "\n".join(m["text"] for m in replies).strip() == to_mrkdwn(a.expected).strip():
                    done += 1
            return done

        while time.monotonic() < deadline and finished() < n:
            time.sleep(0.5)
        time.sleep(1.0)  # let late writes land
        log = bedrock.delta_log
        for a in answers:
            tag = a.expected[:4]
            a.deltas = [t for t, text in log if text.startswith(tag)]
            replies = [m for m in slack.thread(a.channel, a.ts) if m.get("bot_id") == "BBOT"]
            a.complete = bool(replies) and "\n".join(m["text"] for m in replies).strip() == \
                to_mrkdwn(a.expected).strip()
        collect_generic(slack, answers)
        cpu = sum(ps.cpu_times()[:2]) - cpu0
        metrics = scrape(port) if port else ""
        return {"answers": answers, "cpu": cpu, "rss": rss.stop(), "429": len(slack.rate_limited_calls),
                "metrics": metrics,
                "violations": len(slack.violations),
                "updates": len(slack.calls_for("chat.update"))}
    finally:
        proc.terminate()
        proc.wait(30)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


METRIC_LINES = ("slackbot_answers_total", "slackbot_slack_rate_limited_total", "slackbot_bedrock_tokens_total",
                "slackbot_estimated_cost_usd_total", "slackbot_bedrock_calls_total")


def scrape(port: int) -> str:
    """The bot's /metrics (METRICS_PORT), the lines of answers, 429s, tokens, cost and Bedrock calls."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return "\n".join(line for line in text.splitlines() if line.startswith(METRIC_LINES)
                     or (line.startswith("slackbot_slack_calls_total") and "ratelimited" in line))


def print_load(title: str, results: dict[str, dict[str, Any]], n: int) -> None:
    print(f"\n== {title} ==")
    print(f"{'':34} {'scheduler (bot)':>26}   {'edit every delta':>26}   ratio p95")
    def row(label: str, values: dict[str, list[float]]) -> None:
        cells = []
        p95s = []
        for mode in ("bot", "baseline"):
            v = values[mode]
            if v:
                cells.append(f"p50 {pct(v, .5):6.0f} p95 {pct(v, .95):6.0f} max {max(v):6.0f}")
                p95s.append(pct(v, .95))
            else:
                cells.append(f"{'(none)':>26}")
                p95s.append(float("nan"))
        ratio = p95s[1] / p95s[0] if p95s[0] else float("nan")
        print(f"{label:34} {cells[0]:>26}   {cells[1]:>26}   {ratio:6.2f}")

    def ms(mode: str, f: Any) -> list[float]:
        return [1000 * f(a) for a in results[mode]["answers"] if a.placeholder and f(a) is not None]

    row("event -> placeholder (ms)", {m: ms(m, lambda a: a.placeholder - a.pushed) for m in results})
    row("first delta -> first text (ms)", {m: ms(m, lambda a: (a.first_text or a.final) - a.deltas[0]
                                                 if a.deltas and (a.first_text or a.final) else None) for m in results})
    row("last delta -> final text (ms)", {m: ms(m, lambda a: a.final - a.deltas[-1]
                                                if a.deltas and a.final and a.complete else None) for m in results})
    for label, key in (("chat.update calls", "updates"), ("429s received", "429"),
                       ("calls inside Retry-After windows", "violations")):
        b, e = results["bot"][key], results["baseline"][key]
        print(f"{label:34} {b:>26}   {e:>26}   {e / b if b else float('nan'):6.2f}")
    edits = {m: statistics.mean(a.edits for a in results[m]["answers"]) for m in results}
    print(f"{'edits per answer (mean)':34} {edits['bot']:>26.1f}   {edits['baseline']:>26.1f}")
    done = {m: sum(a.complete for a in results[m]["answers"]) for m in results}
    print(f"{'answers complete and exact':34} {done['bot']:>23}/{n}   {done['baseline']:>23}/{n}"
          f"   (baseline lost {n - done['baseline']})")
    print(f"{'bot CPU seconds':34} {results['bot']['cpu']:>26.2f}   {results['baseline']['cpu']:>26.2f}")
    print(f"{'peak RSS (MB)':34} {results['bot']['rss']:>26.0f}   {results['baseline']['rss']:>26.0f}")
    floor = max(0.0, (n - 20) / 50 * 60)
    print(f"{'floor for finals, (N - b) / B':34} {floor:>25.1f}s")
    if results["bot"].get("metrics"):
        print("\n/metrics of the bot at the end (METRICS_PORT):")
        print(results["bot"]["metrics"])


def workload_load(slack: FakeSlack, bedrock: FakeBedrock, *, n: int, channels: int, deltas: int,
                  seconds: float, title: str) -> None:
    results = {}
    for mode, module in (("bot", "bot"), ("baseline", "tests.baseline_bot")):
        slack.reset()
        bedrock.reset()
        bedrock.set_default_model()
        results[mode] = run_load(slack, bedrock, n=n, channels=channels, deltas=deltas, seconds=seconds,
                                 module=module)
    print_load(title, results, n)


def workload_cache(slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """Tokens billed for a 5-turn conversation with and without cache points (the fake's usage accounting)."""
    rows = {}
    for label, model, cache in (("with cache points", "us.anthropic.cache-yes", True),
                                ("without (model rejects them)", "us.anthropic.cache-no", False)):
        slack.reset()
        bedrock.reset()
        bedrock.add_model(model, supports_cache=cache)
        bedrock.set_fallback(lambda request: Stream([("A fairly detailed answer sentence. " * 40)]))
        proc = start_bot(slack, bedrock, {"BEDROCK_MODEL_ID": model})
        try:
            root = None
            for turn in range(5):
                text = f"question {turn}: " + "please explain the details of key rotation. " * 20
                ts = slack.user_says("C1", "U1", f"<@UBOT> {text}" if root is None else text, thread_ts=root)
                root = root or ts

                def done(s: FakeSlack, ts: str = ts) -> bool:
                    return any(marks(c.params).get("reply_to") == ts and marks(c.params).get("state") == "final"
                               for c in s.calls if c.ok and c.method in ("chat.update", "chat.postMessage"))

                slack.wait_for(done, timeout=30)
            rows[label] = bedrock.usage_totals
        finally:
            proc.terminate()
            proc.wait(30)
    print("\n== a 5-turn conversation: tokens billed ==")
    print(f"{'':30} {'input':>8} {'cache read':>11} {'cache write':>12} {'output':>8}")
    for label, u in rows.items():
        print(f"{label:30} {u['inputTokens']:>8} {u['cacheReadInputTokens']:>11} {u['cacheWriteInputTokens']:>12} "
              f"{u['outputTokens']:>8}")


# Slack's tiers on every method the bot writes with (per minute, burst); chat.postMessage is per channel (1/s).
TIERS = {"chat.update": (50, 20), "chat.delete": (50, 20), "chat.startStream": (20, 5), "chat.stopStream": (20, 5),
         "chat.appendStream": (100, 20), "chat.postEphemeral": (100, 20), "assistant.threads.setTitle": (50, 10),
         "assistant.threads.setSuggestedPrompts": (50, 10)}
MODES = ("edit", "native", "auto")


def slack_tiers(slack: FakeSlack) -> None:
    for method, (per_minute, burst) in TIERS.items():
        slack.set_rate_limit(method, per_minute=per_minute, burst=burst)
    slack.set_post_limit(per_second=1.0, burst=5)


@dataclass
class Seen:
    """One answer as Slack showed it over time: (when, characters of the model's Markdown visible)."""

    answer: Answer
    visible: list[tuple[float, int]] = field(default_factory=list)
    route: str = "edit"
    first: float | None = None
    final: float | None = None


def visible_over_time(slack: FakeSlack, answers: list[Answer]) -> dict[str, Seen]:
    """How much of each answer's Markdown Slack showed when, from the fake's call log: edits and posts carry the
    Markdown of their message in the marks; streams show what was appended (startStream, appendStream,
    stopStream) and, once ended, what chat.update put in their markdown block."""
    seen = {a.ts: Seen(a) for a in answers}
    shown: dict[str, dict[str, int]] = {a.ts: {} for a in answers}  # answer -> message ts -> characters
    stream_owner: dict[str, str] = {}
    for call in slack.calls:
        if not call.ok:
            continue
        p = call.params
        if call.method == "chat.startStream":
            key = str(p.get("thread_ts"))
            if key not in seen:
                continue
            ts = str(call.response.get("ts"))
            stream_owner[ts] = key
            seen[key].route = "native"
            shown[key][ts] = len(p.get("markdown_text") or "")
        elif call.method in ("chat.appendStream", "chat.stopStream"):
            key = stream_owner.get(str(p.get("ts")))
            if key is None:
                continue
            ts = str(p.get("ts"))
            shown[key][ts] += len(p.get("markdown_text") or "")
            if call.method == "chat.stopStream" and marks(p).get("state") == "final":
                seen[key].final = call.time
        elif call.method in ("chat.postMessage", "chat.update"):
            m = marks(p)
            key = str(m.get("reply_to", ""))
            if key not in seen:
                continue
            ts = str(call.response.get("ts") or p.get("ts"))
            shown[key][ts] = len(m.get("md") or "")
            if m.get("state") == "final" and m.get("part") == int(m.get("parts", -1)) - 1:
                seen[key].final = call.time
        else:
            continue
        total = sum(shown[key].values())
        if total and seen[key].first is None:
            seen[key].first = call.time
        seen[key].visible.append((call.time, total))
    return seen


def staleness(seen: Seen, deltas: list[tuple[float, int]]) -> float | None:
    """The longest time the answer's visible text lagged behind the model's: for each delta (when, characters
    written so far), the time until Slack showed at least that much."""
    worst = 0.0
    at = 0
    for when, length in deltas:
        while at < len(seen.visible) and seen.visible[at][1] < length:
            at += 1
        if at == len(seen.visible):
            return None
        worst = max(worst, seen.visible[at][0] - when)
    return worst


def exact(slack: FakeSlack, a: Answer, route: str) -> bool:
    """The answer in Slack is the model's, exactly: the marks give back its Markdown, and the text shows it (as
    mrkdwn on the edit route, as Markdown on the native one), in one message here (no scattering)."""
    from bot.render.mrkdwn import to_mrkdwn
    from bot.render.splitting import join_parts

    replies = [m for m in slack.thread(a.channel, a.ts) if m.get("bot_id") == "BBOT"]
    if not replies:
        return False
    md = join_parts([str((m.get("metadata") or {}).get("event_payload", {}).get("md", "")) for m in replies])
    texts = [m["text"] for m in replies]
    shown = "".join(texts) == a.expected if route == "native" else \
        "\n".join(texts).strip() == to_mrkdwn(a.expected).strip()
    return md == a.expected and shown and len(replies) == 1


def run_sustained(slack: FakeSlack, bedrock: FakeBedrock, mode: str, *, n: int = 20, channels: int = 10,
                  seconds: float = 30.0, deltas: int = 300) -> dict[str, Any]:
    prepare_load(slack, bedrock, channels=channels, deltas=deltas, seconds=seconds, tiers=True)
    proc = start_bot(slack, bedrock, {"STREAMING_MODE": mode})
    try:
        answers = ask_load(slack, n=n, channels=channels, deltas=deltas, prefix="s")
        deadline = time.monotonic() + seconds + 120
        while time.monotonic() < deadline:
            if all(any((m.get("metadata") or {}).get("event_payload", {}).get("state") == "final"
                       for m in slack.thread(a.channel, a.ts) if m.get("bot_id") == "BBOT") for a in answers):
                break
            time.sleep(0.5)
        time.sleep(1.0)
        seen = visible_over_time(slack, answers)
        log = bedrock.delta_log
        rows: dict[str, list[float]] = {"first": [], "final": [], "stale": []}
        complete = 0
        routes: dict[str, int] = {}
        for a in answers:
            tag = a.expected[:4]
            mine = [(t, text) for t, text in log if text.startswith(tag)]
            cumulative, total = [], 0
            for t, text in mine:
                total += len(text)
                cumulative.append((t, total))
            s = seen[a.ts]
            routes[s.route] = routes.get(s.route, 0) + 1
            complete += exact(slack, a, s.route)
            if mine and s.first:
                rows["first"].append(s.first - mine[0][0])
            if mine and s.final:
                rows["final"].append(s.final - mine[-1][0])
            stale = staleness(s, cumulative)
            if stale is not None:
                rows["stale"].append(stale)
        by_method: dict[str, int] = {}
        for call in slack.calls:
            by_method[call.method] = by_method.get(call.method, 0) + 1
        return {"rows": rows, "complete": complete, "n": n, "429": len(slack.rate_limited_calls),
                "violations": len(slack.violations), "routes": routes, "calls": by_method}
    finally:
        proc.terminate()
        proc.wait(30)


def sustained_bounds(n: int, seconds: float, interval: float = 1.0) -> dict[str, float]:
    """The staleness the budgets allow (seconds), with the bot's 90 % safety margin: edit only, N answers share
    Slack's 50 updates a minute; auto, the answers the start budget admits at once (its burst of 5) move to
    appends (100 a minute, but at most one per answer per interval) and the rest share the updates."""
    updates = 50 / 60 * 0.9
    edit_only = n / updates
    native = min(n, 5)
    appends = 100 / 60 * 0.9
    native_gap = max(interval, native / appends)
    rest = (n - native) / updates if n > native else 0.0
    auto_mean = (native * native_gap + (n - native) * rest) / n
    return {"edit": min(edit_only, seconds), "auto_mean": auto_mean, "auto_native": native_gap,
            "auto_edit": min(rest, seconds), "native_admitted": native}


def workload_sustained(slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """20 concurrent answers of 30 s in 10 channels with Slack's tiers on every method, per STREAMING_MODE."""
    results = {}
    for mode in MODES:
        slack.reset()
        bedrock.reset()
        bedrock.set_default_model()
        results[mode] = run_sustained(slack, bedrock, mode)
    n = results["edit"]["n"]
    print(f"\n== sustained: {n} answers of 30 s at once in 10 channels, Slack's tiers on every method ==")
    print(f"{'':34} " + "".join(f"{mode:>24}" for mode in MODES))

    def cells(key: str, f: Any) -> str:
        return "".join(f"{f(results[m]):>24}" for m in MODES)

    def dist(key: str) -> Any:
        def f(r: dict[str, Any]) -> str:
            v = r["rows"][key]
            return f"p50 {pct(v, .5):5.1f} p95 {pct(v, .95):5.1f}" if v else "(none)"
        return f

    print(f"{'answers complete and exact':34} " + cells("", lambda r: f"{r['complete']}/{r['n']}"))
    print(f"{'routes taken':34} " + cells("", lambda r: ", ".join(f"{k} {v}" for k, v in sorted(r['routes'].items()))))
    print(f"{'429s / calls inside Retry-After':34} " + cells("", lambda r: f"{r['429']} / {r['violations']}"))
    print(f"{'first delta -> first text (s)':34} " + cells("", dist("first")))
    print(f"{'last delta -> final text (s)':34} " + cells("", dist("final")))
    print(f"{'staleness per answer (s)':34} " + cells("", dist("stale")))
    print(f"{'staleness mean (s)':34} " + cells("", lambda r: f"{statistics.mean(r['rows']['stale']):.1f}"
                                              if r['rows']['stale'] else "(none)"))
    for method in ("chat.postMessage", "chat.update", "chat.delete", "chat.startStream", "chat.appendStream",
                   "chat.stopStream"):
        print(f"{method:34} " + cells("", lambda r, m=method: str(r["calls"].get(m, 0))))
    b = sustained_bounds(n, 30.0)
    print(f"bound (budgets, 90 % of Slack's rates): edit-only staleness about {b['edit']:.1f} s per answer; auto "
          f"admits {b['native_admitted']:.0f} streams at once (the start burst), each updated every "
          f"{b['auto_native']:.1f} s, the other {n - b['native_admitted']:.0f} share the updates (every "
          f"{b['auto_edit']:.1f} s): mean about {b['auto_mean']:.1f} s")
    e, a = results["edit"]["rows"]["stale"], results["auto"]["rows"]["stale"]
    if e and a:
        print(f"auto / edit: mean staleness {statistics.mean(a) / statistics.mean(e):.2f} (target <= 0.8), p95 "
              f"{pct(a, .95):.1f} vs {pct(e, .95):.1f} (target: no worse)")
    # workload 2 (30 answers within a second, 200 deltas over 4 s) in each mode: first text p95
    print("\n== workload 2 per STREAMING_MODE: first delta -> first visible text ==")
    for mode in MODES:
        slack.reset()
        bedrock.reset()
        bedrock.set_default_model()
        r = run_sustained(slack, bedrock, mode, n=30, channels=10, seconds=4.0, deltas=200)
        v = r["rows"]["first"]
        print(f"{mode:8} p50 {pct(v, .5):5.2f} s  p95 {pct(v, .95):5.2f} s  exact {r['complete']}/{r['n']}  "
              f"429s {r['429']}  routes {r['routes']}")


def workload_dm(slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """Slack calls of one ordinary DM answer (status, stream, feedback click), per STREAMING_MODE."""
    print("\n== one DM answer with status, stream and feedback: Slack calls by method ==")
    for mode in MODES:
        slack.reset()
        bedrock.reset()
        bedrock.set_default_model()
        slack_tiers(slack)
        bedrock.set_fallback(lambda request: Stream([f"word{k} " for k in range(60)], delay=0.05))
        proc = start_bot(slack, bedrock, {"STREAMING_MODE": mode})
        try:
            before = len(slack.calls)
            ts = slack.user_says("D1", "U1", "how do I rotate IAM keys?")

            def final(s: FakeSlack, ts: str = ts) -> Any:
                return next((m for m in s.thread("D1", ts) if m.get("bot_id") == "BBOT" and
                             (m.get("metadata") or {}).get("event_payload", {}).get("state") == "final"), None)

            message = slack.wait_for(final, timeout=30)
            slack.click_feedback("U1", "D1", message["ts"])
            slack.wait_for(lambda s: s.ephemerals, timeout=10)
            time.sleep(0.5)
            calls = [c.method for c in slack.calls[before:] if c.method not in ("apps.connections.open", "auth.test")]
            counts = ", ".join(f"{m} x{calls.count(m)}" for m in sorted(set(calls)))
            print(f"{mode:8} {len(calls):3} calls: {counts}")
        finally:
            proc.terminate()
            proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="1",
                        choices=["1", "2", "3", "followup", "long", "cache", "sustained", "dm", "all"])
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
        if args.workload in ("cache", "all"):
            workload_cache(slack, bedrock)
        if args.workload in ("2", "all"):
            workload_load(slack, bedrock, n=30, channels=10, deltas=200, seconds=4.0,
                          title="workload 2: 30 mentions in 10 channels within 1 s, 200 deltas over 4 s each")
        if args.workload in ("sustained", "all"):
            workload_sustained(slack, bedrock)
        if args.workload in ("dm", "all"):
            workload_dm(slack, bedrock)
        if args.workload in ("3", "all"):
            workload_load(slack, bedrock, n=100, channels=10, deltas=200, seconds=4.0,
                          title="workload 3: 100 concurrent answers, 200 deltas over 4 s each")
    finally:
        slack.stop()
        bedrock.stop()


if __name__ == "__main__":
    main()
