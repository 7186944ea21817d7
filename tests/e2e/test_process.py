"""`python -m bot` as a process: no AWS credentials, and a graceful SIGTERM shutdown."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AWS_ENV, bot_env, process_env
from tests.e2e.helpers import bot_replies, final_state, marks
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Any]:
    procs: list[subprocess.Popen[str]] = []

    def start(env: dict[str, str]) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-m", "bot"], env=process_env(**env),
                                cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_no_aws_credentials_gets_a_note_and_the_process_stays_up(spawn: Any, slack: FakeSlack,
                                                                 bedrock: FakeBedrock) -> None:
    env = {**bot_env(slack), "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url, "AWS_REGION": "us-east-1",
           "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
           "AWS_EC2_METADATA_DISABLED": "true"}
    proc = spawn(env)
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
    ts = slack.user_says("C1", "U1", "<@UBOT> hello")
    reply = final_state(slack, "C1", ts)[0]["text"]
    assert "no valid AWS credentials" in reply
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0


def test_sigterm_stops_receiving_then_finishes_or_closes_answers(spawn: Any, slack: FakeSlack,
                                                                 bedrock: FakeBedrock) -> None:
    env = {**bot_env(slack), **AWS_ENV, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
           "SHUTDOWN_GRACE_SECONDS": "4"}
    def script(request: Any) -> Stream:
        if "quick" in str(request.messages):
            return Stream(["quick ", "one"], delay=0.2)  # finishes within the grace period
        return Stream([f"w{i} " for i in range(400)], delay=0.05)  # 20 s: does not

    bedrock.set_fallback(script)
    proc = spawn(env)
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
    quick = slack.user_says("C1", "U1", "<@UBOT> quick")
    slow = slack.user_says("C2", "U1", "<@UBOT> slow")
    slack.wait_for(lambda s: len(bedrock.delta_log) > 5)
    proc.send_signal(signal.SIGTERM)
    slack.wait_for(lambda s: s.open_connections == 0, timeout=5)  # stops receiving first
    assert proc.wait(30) == 0
    assert final_state(slack, "C1", quick)[0]["text"] == "quick one"
    last = bot_replies(slack, "C2", slow)[-1]
    assert marks(last)["state"] == "final"
    assert last["text"].startswith("w0 w1") and "restarted before it could finish" in last["text"]
    closing_note = next(c for c in reversed(slack.calls_for("chat.update")) if c.params.get("channel") == "C2")
    assert slack.disconnection_times[-1] < closing_note.time  # the socket closed before the answers were ended


def _signal_one_thread(pid: int, tid: int, signum: int) -> None:
    """Deliver a signal to one thread of another process (tgkill), as the kernel may do with any kill()."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.tgkill(pid, tid, signum) != 0:
        raise OSError(ctypes.get_errno(), "tgkill failed")


@pytest.mark.skipif(not Path("/proc/self/task").exists() or not hasattr(ctypes.CDLL(None), "tgkill"),
                    reason="needs Linux threads and glibc's tgkill")
def test_sigterm_delivered_to_a_worker_thread_still_stops_the_bot(spawn: Any, slack: FakeSlack,
                                                                 bedrock: FakeBedrock) -> None:
    proc = spawn({**bot_env(slack), **AWS_ENV, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url})
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
    workers = sorted(int(t) for t in os.listdir(f"/proc/{proc.pid}/task") if int(t) != proc.pid)
    assert workers  # the bot runs its listeners, scheduler and socket on threads
    _signal_one_thread(proc.pid, workers[-1], signal.SIGTERM)
    assert proc.wait(20) == 0
    assert "received SIGTERM" in proc.stdout.read()
