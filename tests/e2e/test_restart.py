"""A restart in the middle of a conversation: the new process still answers follow-ups with full history."""

from __future__ import annotations

from typing import Any

from tests.e2e.helpers import final_state
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import FakeSlack


def test_follow_up_after_restart(start_bot: Any, slack: FakeSlack, bedrock: FakeBedrock, fresh: None) -> None:
    first = start_bot()
    bedrock.enqueue(Stream(["Use IAM."]))
    root = slack.user_says("C1", "U1", "<@UBOT> how do I rotate keys?")
    final_state(slack, "C1", root)
    first.close(grace=1.0)
    slack.wait_for(lambda s: s.open_connections == 0)

    start_bot()  # a new process: it remembers nothing
    bedrock.enqueue(Stream(["Every 90 days."]))
    ts2 = slack.user_says("C1", "U1", "how often?", thread_ts=root)
    final_state(slack, "C1", root, reply_to=ts2)
    assert [(m["role"], m["content"][0]["text"]) for m in bedrock.calls[1].messages] == [
        ("user", "how do I rotate keys?"), ("assistant", "Use IAM."), ("user", "how often?")]
    decide, _history = slack.calls_for("conversations.replies")  # asked once whether it is the bot's, then history
    assert str(decide.params.get("include_all_metadata")).lower() in ("true", "1")  # marks tell, not only the root

    bedrock.enqueue(Stream(["Yes."]))
    ts3 = slack.user_says("C1", "U1", "really?", thread_ts=root)
    final_state(slack, "C1", root, reply_to=ts3)
    assert len(slack.calls_for("conversations.replies")) == 3  # now it knows: only the history
