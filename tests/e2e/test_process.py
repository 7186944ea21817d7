"""`python -m bot` as a process: no AWS credentials, and a graceful SIGTERM shutdown."""

from __future__ import annotations

import ctypes
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AWS_ENV, bot_env, output
from tests.e2e.helpers import final_state
from tests.fakes.bedrock import FakeBedrock
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")


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
    assert "received SIGTERM" in output(proc)
