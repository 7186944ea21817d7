"""Deleted thread roots across a restart: the new process asks Slack whose thread it is and, for a root
that is now a tombstone, looks for the bot's answer to it (its own module: it needs bots of its own)."""

from __future__ import annotations

from typing import Any

from bot.slack.marks import answer_metadata
from tests.e2e.helpers import final_state
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import BOT_ID, FakeSlack


def test_after_restart_a_deleted_root_still_tells_whose_thread_it_is(start_bot: Any, slack: FakeSlack,
                                                                      bedrock: FakeBedrock, fresh: None) -> None:
    slack.replies_page_cap = 15  # Slack's page for non-Marketplace apps: the bot's answer is on a later page
    first = start_bot()
    bedrock.enqueue(Stream(["Not sure."]))
    mine = slack.add_history("C1", "U1", "<@UBOT> how do I rotate keys?")  # written while the bot was away
    for i in range(20):
        slack.add_history("C1", "U2", f"me too {i}", thread_ts=mine)
    asked = slack.user_says("C1", "U1", "<@UBOT> anyone?", thread_ts=mine)
    final_state(slack, "C1", mine, reply_to=asked)  # (answers `asked`, not the root)
    people = slack.user_says("C1", "U2", "lunch plans?")  # people talking among themselves ...
    bedrock.enqueue(Stream(["Try the noodle place."]))
    mention = slack.user_says("C1", "U3", "<@UBOT> any idea?", thread_ts=people)  # ... ask the bot once
    final_state(slack, "C1", people, reply_to=mention)
    slack.user_deletes("C1", mine)
    slack.user_deletes("C1", people)
    bot_root = slack.add_history("C1", "U1", "<@UBOT> and the old keys?")
    for i in range(20):  # people were quicker than the bot's answer (it was busy): it is on page 2
        slack.add_history("C1", "U2", f"chatter {i}", thread_ts=bot_root)
    slack.add_history("C1", "UBOT", "Delete them.", thread_ts=bot_root, bot=True, metadata=answer_metadata(
        answer_id=f"C1-{bot_root}", reply_to=bot_root, part=0, state="final", parts=1, md="Delete them."))
    for i in range(20):  # and the thread goes on to a page 3
        slack.add_history("C1", "U2", f"later {i}", thread_ts=bot_root)
    slack.user_deletes("C1", bot_root)
    first.close(grace=1.0)
    slack.wait_for(lambda s: s.open_connections == 0)

    start_bot()  # remembers nothing: asks Slack about each thread, whose roots are all tombstones now
    before = len(slack.calls_for("conversations.replies"))
    slack.user_says("C1", "U2", "sounds good", thread_ts=people)  # still people's thread: not answered
    slack.user_says("C1", "U2", "me too, again", thread_ts=mine)  # the bot only ever answered a reply there
    bedrock.enqueue(Stream(["Yes, all of them."]))
    ts = slack.user_says("C1", "U1", "all of them?", thread_ts=bot_root)
    final_state(slack, "C1", bot_root, reply_to=ts)
    people_said = [f"chatter {i}" for i in range(20)] + [f"later {i}" for i in range(20)]
    assert [(m["role"], m["content"][0]["text"]) for m in bedrock.calls[-1].messages] == [
        ("user", "[This message was deleted.]"), ("assistant", "Delete them."),
        ("user", "\n\n".join(f"<@U2>: {text}" for text in people_said) + "\n\n<@U1>: all of them?")]
    # deciding: people's thread (one page) and `mine` (two) are read to the end, as no answer to their
    # root is found; the bot's thread up to its answer (pages 1 and 2 of 3); then its history (3 pages)
    slack.wait_for(lambda s: len(s.calls_for("conversations.replies")) >= before + 1 + 2 + 2 + 3)
    assert len(slack.calls_for("conversations.replies")) == before + 1 + 2 + 2 + 3
    assert len(bedrock.calls) == 3  # the two answers before the restart and this one
    assert bot_replies_to(slack, people) == 1 and bot_replies_to(slack, mine) == 1


def bot_replies_to(slack: FakeSlack, thread_ts: str) -> int:
    return len([m for m in slack.thread("C1", thread_ts) if m.get("bot_id") == BOT_ID])
