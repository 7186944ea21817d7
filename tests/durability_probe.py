"""Probe: what Slack outages, lost responses, crashes and deletions do to answers (figures, not tests).

    python -m tests.durability_probe                  # everything (about 8 minutes: the outages take their time)
    python -m tests.durability_probe --only outage --outages 30 60
    python -m tests.durability_probe --only lost kill delete

Each scenario runs the real bot (`python -m bot`, a subprocess) against the fakes, with the bot's own defaults
(SLACK_RETRY_SECONDS=600, backoff at most 5 s apart). Times are taken in this process from the fakes' records.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from tests.conftest import AWS_ENV, MODEL, fresh_state_url, process_env
from tests.fakes.bedrock import Answer, FakeBedrock, Stream
from tests.fakes.slack import APP_TOKEN, BOT_ID, BOT_TOKEN, FakeSlack

CHAT = ("chat.postMessage", "chat.update", "chat.delete")


def start(slack: FakeSlack, bedrock: FakeBedrock, state: str, **extra: str) -> subprocess.Popen[bytes]:
    env = process_env(**AWS_ENV, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=slack.api_url,
                      AWS_ENDPOINT_URL_BEDROCK_RUNTIME=bedrock.url, BEDROCK_MODEL_ID=MODEL, LOG_LEVEL="WARNING",
                      STATE_URL=state, **extra)
    proc = subprocess.Popen([sys.executable, "-m", "bot"], env=env, cwd="/", stdin=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=30)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def replies(slack: FakeSlack, channel: str, ts: str) -> list[dict[str, Any]]:
    return [m for m in slack.thread(channel, ts) if m.get("bot_id") == BOT_ID]


def final_text(slack: FakeSlack, channel: str, ts: str) -> str:
    return "".join(m["text"] for m in replies(slack, channel, ts))


def fresh(slack: FakeSlack, bedrock: FakeBedrock) -> None:
    slack.reset()
    bedrock.reset()
    bedrock.set_default_model()


def ten_second_answer(tag: str) -> tuple[str, Stream]:
    words = [f"{tag}{i:03d} " for i in range(100)]
    return "".join(words).rstrip(), Stream(words, delay=0.1)


def outage(slack: FakeSlack, bedrock: FakeBedrock, seconds: float) -> None:
    fresh(slack, bedrock)
    expected, stream = ten_second_answer("o")
    bedrock.enqueue(stream)
    proc = start(slack, bedrock, fresh_state_url())
    try:
        ts = slack.user_says("C1", "U1", "<@UBOT> tell me")
        time.sleep(2.0)
        slack.outage(seconds, CHAT)
        recovered = time.monotonic() + seconds
        deadline = recovered + 60
        while time.monotonic() < deadline and final_text(slack, "C1", ts) != expected:
            time.sleep(0.05)
        done = time.monotonic()
        failed = len([c for c in slack.calls if c.method in CHAT and c.status == 503])
        exact = final_text(slack, "C1", ts) == expected
        print(f"outage {seconds:>4.0f} s on every chat.* write, 2 s into a 10 s answer: "
              f"{'exact' if exact else 'NOT exact'}, {len(replies(slack, 'C1', ts))} message(s), "
              f"{done - recovered:5.2f} s from recovery to the final text ({failed} calls failed meanwhile)")
    finally:
        stop(proc)


def lost_responses(slack: FakeSlack, bedrock: FakeBedrock) -> None:
    long_text = "\n\n".join(f"Paragraph {i}: " + "word " * 120 for i in range(12)).rstrip()
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("placeholder (reset)", "chat.postMessage", {"reset_connection": True}),
        ("placeholder (timeout)", "chat.postMessage", {"delay": 20.0}),
        ("an edit (timeout)", "chat.update", {"delay": 20.0}),
        ("a continuation post (reset)", "chat.postMessage", {"reset_connection": True}),
    ]
    for label, method, fault in cases:
        fresh(slack, bedrock)
        shown = threading.Event()
        continuation = label.startswith("a continuation")
        text = long_text if continuation else "The short answer."
        bedrock.enqueue(Stream([text[i:i + 200] for i in range(0, len(text), 200)], gate=shown, gate_after=2))
        proc = start(slack, bedrock, fresh_state_url())
        try:
            if not continuation:
                slack.fail_next(method, 1, after_processing=True, **fault)
            ts = slack.user_says("C1", "U1", "<@UBOT> hello")
            if continuation:
                slack.wait_for(lambda s, ts=ts: replies(s, "C1", ts) and "Paragraph" in replies(s, "C1", ts)[0]["text"],
                               timeout=20)
                slack.fail_next(method, 1, after_processing=True, **fault)
            shown.set()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                msgs = replies(slack, "C1", ts)
                if msgs and all("still writing" not in m["text"] and "Thinking" not in m["text"] for m in msgs) \
                        and len(msgs) == (2 if continuation else 1):
                    break
                time.sleep(0.1)
            time.sleep(2.0)  # anything doubled would have landed by now
            msgs = replies(slack, "C1", ts)
            expected_parts = 2 if continuation else 1
            print(f"lost response on {label:28}: {len(msgs)} bot message(s) in the thread "
                  f"(the answer has {expected_parts}); no placeholder left: "
                  f"{all('Thinking' not in m['text'] for m in msgs)}")
        finally:
            stop(proc)


def kill_and_restart(slack: FakeSlack, bedrock: FakeBedrock) -> None:
    fresh(slack, bedrock)
    expected: dict[str, str] = {}

    def model(request: Any) -> Any:
        tag = request.messages[0]["content"][0]["text"].split()[-1]
        words = [f"{tag}{i:03d} " for i in range(100)]
        expected[tag] = "".join(words).rstrip()
        return Answer(expected[tag], token_chars=len(words[0]), delay=0.1)  # 10 s each

    bedrock.set_fallback(model)
    state = fresh_state_url()
    proc = start(slack, bedrock, state, MAX_CONCURRENT_ANSWERS="1")
    asked = {tag: slack.user_says("C1", "U1", f"<@UBOT> {tag}") for tag in ("ka", "kb", "kc")}
    time.sleep(2.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    slack.wait_for(lambda s: s.open_connections == 0, timeout=10)
    restarted = time.monotonic()
    proc = start(slack, bedrock, state, MAX_CONCURRENT_ANSWERS="1")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(
                tag in expected and final_text(slack, "C1", ts) == expected[tag] for tag, ts in asked.items()):
            time.sleep(0.1)
        took = time.monotonic() - restarted
        exact = sum(tag in expected and final_text(slack, "C1", ts) == expected[tag] for tag, ts in asked.items())
        doubled = sum(len(replies(slack, "C1", ts)) > 1 for ts in asked.values())
        print(f"kill -9 2 s into a 10 s answer, two more queued (MAX_CONCURRENT_ANSWERS=1), restart: {exact}/3 "
              f"exact, {doubled} doubled, all complete {took:.1f} s after the restart")
    finally:
        stop(proc)


def deletion(slack: FakeSlack, bedrock: FakeBedrock) -> None:
    for label, stream in (("while the model is silent (thinking)", Stream(["Hmm", " ok"], stall_after=1,
                                                                           stall_seconds=60)),
                          ("while it streams", Stream([f"w{i} " for i in range(400)], delay=0.05))):
        fresh(slack, bedrock)
        bedrock.enqueue(stream)
        proc = start(slack, bedrock, fresh_state_url())
        try:
            ts = slack.user_says("C1", "U1", "<@UBOT> hello")
            reply = slack.wait_for(lambda s, ts=ts: [m for m in replies(s, "C1", ts) if "Thinking" not in m["text"]],
                                   timeout=20)[0]
            deleted = time.monotonic()
            slack.user_deletes("C1", reply["ts"])
            hung_up = slack.wait_for(lambda s: bedrock.hangups, timeout=90)[0]
            print(f"reply deleted {label:36}: model stream closed {1000 * (hung_up - deleted):7.1f} ms later")
        finally:
            stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", default=["outage", "lost", "kill", "delete"])
    parser.add_argument("--outages", nargs="*", type=float, default=[30.0, 60.0, 300.0])
    args = parser.parse_args()
    slack = FakeSlack().start()
    bedrock = FakeBedrock().start()
    try:
        if "delete" in args.only:
            deletion(slack, bedrock)
        if "lost" in args.only:
            lost_responses(slack, bedrock)
        if "kill" in args.only:
            kill_and_restart(slack, bedrock)
        if "outage" in args.only:
            for seconds in args.outages:
                outage(slack, bedrock, seconds)
    finally:
        slack.stop()
        bedrock.stop()


if __name__ == "__main__":
    main()
