"""Tests for the fake Slack workspace, driven by the real slack_sdk and slack_bolt clients."""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from urllib.error import URLError

import pytest
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, FixedValueRetryIntervalCalculator
from slack_sdk.socket_mode.builtin import SocketModeClient as BuiltinSocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.socket_mode.websocket_client import SocketModeClient as WebSocketClientSocketModeClient

from tests.fakes.slack import APP_TOKEN, BOT_ID, BOT_TOKEN, BOT_USER_ID, TEAM_ID, FakeSlack


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeSlack]:
    """One fake for the module; server pings keep the builtin client's close() fast (it blocks in recv)."""
    fake = FakeSlack(server_ping_interval=0.25)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(fake_server: FakeSlack) -> FakeSlack:
    """The shared fake with the default workspace."""
    fake_server.reset()
    return fake_server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    """A real WebClient pointed at the fake."""
    return WebClient(token=BOT_TOKEN, base_url=fake.api_url)


def _api_error(call: Callable[[], Any]) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        call()
    return info.value


def _acking_listener(
    seen: list[SocketModeRequest],
) -> Callable[[BaseSocketModeClient, SocketModeRequest], None]:
    def listener(client: BaseSocketModeClient, req: SocketModeRequest) -> None:
        seen.append(req)
        client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

    return listener


# ---------------------------------------------------------------------------- Web API


def test_auth_test_with_bot_token(client: WebClient, fake: FakeSlack) -> None:
    resp = client.auth_test()
    assert resp["user_id"] == BOT_USER_ID
    assert resp["bot_id"] == BOT_ID
    assert resp["is_enterprise_install"] is False
    (call,) = fake.calls_for("auth.test")
    assert call.token == BOT_TOKEN
    assert call.status == 200


def test_auth_test_rejects_bad_and_wrong_type_tokens(fake: FakeSlack) -> None:
    bad = _api_error(WebClient(token="xoxb-wrong", base_url=fake.api_url).auth_test)
    assert bad.response.status_code == 200
    assert bad.response["error"] == "invalid_auth"
    assert _api_error(WebClient(base_url=fake.api_url).auth_test).response["error"] == "invalid_auth"
    wrong_type = _api_error(WebClient(token=APP_TOKEN, base_url=fake.api_url).auth_test)
    assert wrong_type.response["error"] == "not_allowed_token_type"
    bot_opens_socket = _api_error(
        lambda: WebClient(base_url=fake.api_url).apps_connections_open(app_token=BOT_TOKEN)
    )
    assert bot_opens_socket.response["error"] == "not_allowed_token_type"


def test_unknown_method(client: WebClient) -> None:
    assert _api_error(lambda: client.api_call("chat.frobnicate")).response["error"] == "unknown_method"


def test_post_in_thread_updates_parent(client: WebClient, fake: FakeSlack) -> None:
    parent_ts = fake.user_says("C1", "U1", "question")
    first = client.chat_postMessage(channel="C1", thread_ts=parent_ts, text="one")
    second = client.chat_postMessage(channel="C1", thread_ts=parent_ts, text="two")
    assert float(parent_ts) < float(first["ts"]) < float(second["ts"])
    assert first["message"]["thread_ts"] == parent_ts
    parent = fake.message("C1", parent_ts)
    assert parent is not None
    assert parent["reply_count"] == 2
    assert parent["latest_reply"] == second["ts"]
    assert parent["reply_users"] == [BOT_USER_ID]
    thread = fake.thread("C1", parent_ts)
    assert [m["text"] for m in thread] == ["question", "one", "two"]
    assert thread[1]["parent_user_id"] == "U1"
    assert thread[1]["bot_id"] == BOT_ID


def test_update_longer_than_4000_chars_is_msg_too_long(client: WebClient, fake: FakeSlack) -> None:
    ts = client.chat_postMessage(channel="C1", text="draft")["ts"]
    assert client.chat_update(channel="C1", ts=ts, text="あ" * 4000)["ok"]
    err = _api_error(lambda: client.chat_update(channel="C1", ts=ts, text="あ" * 4001))
    assert err.response["error"] == "msg_too_long"
    message = fake.message("C1", ts)
    assert message is not None
    assert message["text"] == "あ" * 4000
    assert message["edited"]["user"] == BOT_USER_ID


def test_update_unknown_ts_is_message_not_found(client: WebClient, fake: FakeSlack) -> None:
    err = _api_error(lambda: client.chat_update(channel="C1", ts="1.000001", text="x"))
    assert err.response["error"] == "message_not_found"
    user_ts = fake.user_says("C1", "U1", "mine")
    assert _api_error(lambda: client.chat_update(channel="C1", ts=user_ts, text="x")).response["error"] == (
        "cant_update_message"
    )
    assert _api_error(lambda: client.chat_delete(channel="C1", ts=user_ts)).response["error"] == (
        "cant_delete_message"
    )


def test_post_where_bot_is_not_a_member_is_not_in_channel(client: WebClient) -> None:
    assert _api_error(lambda: client.chat_postMessage(channel="C9", text="hi")).response["error"] == (
        "not_in_channel"
    )


def test_post_message_validation(client: WebClient, fake: FakeSlack) -> None:
    assert _api_error(lambda: client.chat_postMessage(channel="C404", text="x")).response["error"] == (
        "channel_not_found"
    )
    no_text = _api_error(lambda: client.api_call("chat.postMessage", json={"channel": "C1", "text": ""}))
    assert no_text.response["error"] == "no_text"
    bad_metadata = {"event_type": "x", "event_payload": "not an object"}
    err = _api_error(lambda: client.chat_postMessage(channel="C1", text="x", metadata=bad_metadata))
    assert err.response["error"] == "invalid_metadata_format"
    fake.archive_channel("C2")
    assert (
        _api_error(lambda: client.chat_postMessage(channel="C2", text="x")).response["error"] == "is_archived"
    )
    long = client.chat_postMessage(channel="C1", text="a" * 40_001)
    assert long["warning"] == "message_truncated"
    assert len(long["message"]["text"]) == 40_000
    dm = client.chat_postMessage(channel="U1", text="hello in DM")
    assert dm["channel"] == "D1"


def test_metadata_only_with_include_all_metadata(client: WebClient, fake: FakeSlack) -> None:
    metadata = {"event_type": "bot_state", "event_payload": {"turn": 1}}
    ts = client.chat_postMessage(channel="C1", text="with metadata", metadata=metadata)["ts"]
    plain = client.conversations_replies(channel="C1", ts=ts)
    assert "metadata" not in plain["messages"][0]
    full = client.conversations_replies(channel="C1", ts=ts, include_all_metadata=True)
    assert full["messages"][0]["metadata"] == metadata
    # chat.update without metadata keeps it; with metadata replaces it.
    client.chat_update(channel="C1", ts=ts, text="edited")
    assert (
        client.conversations_replies(channel="C1", ts=ts, include_all_metadata=True)["messages"][0][
            "metadata"
        ]
        == metadata
    )
    new_metadata = {"event_type": "bot_state", "event_payload": {"turn": 2}}
    client.chat_update(channel="C1", ts=ts, text="edited again", metadata=new_metadata)
    assert fake.message("C1", ts)["metadata"] == new_metadata  # type: ignore[index]


def test_replies_paginate_across_three_pages(client: WebClient, fake: FakeSlack) -> None:
    parent_ts = fake.user_says("C1", "U1", "parent")
    replies = [
        client.chat_postMessage(channel="C1", thread_ts=parent_ts, text=f"r{i}")["ts"] for i in range(4)
    ]
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        resp = client.conversations_replies(channel="C1", ts=parent_ts, limit=2, cursor=cursor)
        pages.append([m["ts"] for m in resp["messages"]])
        cursor = resp["response_metadata"]["next_cursor"]
        assert resp["has_more"] == bool(cursor)
        if not cursor:
            break
    assert pages == [[parent_ts, replies[0]], [replies[1], replies[2]], [replies[3]]]
    # Any reply's ts returns the whole thread; an unthreaded message returns just itself.
    assert [m["ts"] for m in client.conversations_replies(channel="C1", ts=replies[2])["messages"]] == [
        parent_ts,
        *replies,
    ]
    lone = fake.user_says("C1", "U2", "lonely")
    assert [m["ts"] for m in client.conversations_replies(channel="C1", ts=lone)["messages"]] == [lone]
    assert _api_error(lambda: client.conversations_replies(channel="C1", ts="1.000001")).response[
        "error"
    ] == ("thread_not_found")


def test_rate_limit_answers_429_with_retry_after(client: WebClient, fake: FakeSlack) -> None:
    fake.set_rate_limit("chat.postMessage", per_minute=60, burst=2)
    client.chat_postMessage(channel="C1", text="1")
    client.chat_postMessage(channel="C1", text="2")
    err = _api_error(lambda: client.chat_postMessage(channel="C1", text="3"))
    assert err.response.status_code == 429
    assert err.response["error"] == "ratelimited"
    assert int(err.response.headers["Retry-After"]) >= 1
    assert fake.violations == []
    _api_error(lambda: client.chat_postMessage(channel="C1", text="too soon"))
    assert len(fake.rate_limited_calls) == 2
    assert [c.params["text"] for c in fake.violations] == ["too soon"]


def test_post_limit_is_per_channel(client: WebClient, fake: FakeSlack) -> None:
    fake.set_post_limit(per_second=1.0, burst=1)
    client.chat_postMessage(channel="C1", text="a")
    assert _api_error(lambda: client.chat_postMessage(channel="C1", text="b")).response.status_code == 429
    assert client.chat_postMessage(channel="C2", text="c")["ok"]
    assert client.conversations_info(channel="C1")["ok"]


def test_fail_next_with_status_500(client: WebClient, fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", status=500, error="internal_error")
    err = _api_error(lambda: client.chat_postMessage(channel="C1", text="x"))
    assert err.response.status_code == 500
    assert err.response["error"] == "internal_error"
    assert client.chat_postMessage(channel="C1", text="x")["ok"]
    assert [c.status for c in fake.calls_for("chat.postMessage")] == [500, 200]
    assert [m["text"] for m in fake.messages("C1")] == ["x"]


def test_fail_next_injected_429_opens_a_retry_window(client: WebClient, fake: FakeSlack) -> None:
    fake.fail_next("conversations.info", status=429, retry_after=7)
    err = _api_error(lambda: client.conversations_info(channel="C1"))
    assert err.response.headers["Retry-After"] == "7"
    assert client.conversations_info(channel="C1")["ok"]
    assert len(fake.violations) == 1


def test_fail_next_reset_connection(fake: FakeSlack) -> None:
    no_retry = WebClient(token=BOT_TOKEN, base_url=fake.api_url, retry_handlers=[])
    fake.fail_next("chat.postMessage", reset_connection=True)
    with pytest.raises((ConnectionError, URLError)):
        no_retry.chat_postMessage(channel="C1", text="lost")
    assert fake.calls_for("chat.postMessage")[0].status == 0
    assert fake.messages("C1") == []

    immediate_retry = ConnectionErrorRetryHandler(interval_calculator=FixedValueRetryIntervalCalculator(0.0))
    retrying = WebClient(token=BOT_TOKEN, base_url=fake.api_url, retry_handlers=[immediate_retry])
    fake.fail_next("chat.postMessage", reset_connection=True)
    assert retrying.chat_postMessage(channel="C1", text="kept")["ok"]
    assert [c.status for c in fake.calls_for("chat.postMessage")] == [0, 0, 200]


def test_fail_next_delay_times_out_but_slack_still_posts(fake: FakeSlack) -> None:
    impatient = WebClient(token=BOT_TOKEN, base_url=fake.api_url, timeout=0.2, retry_handlers=[])  # type: ignore[arg-type]
    fake.fail_next("chat.postMessage", delay=0.6)
    with pytest.raises(TimeoutError):
        impatient.chat_postMessage(channel="C1", text="slow")
    fake.wait_for(lambda f: [m["text"] for m in f.messages("C1")] == ["slow"])


def test_bot_post_edit_delete_produce_events(client: WebClient, fake: FakeSlack) -> None:
    ts = client.chat_postMessage(channel="C1", text="v1")["ts"]
    client.chat_update(channel="C1", ts=ts, text="v2")
    client.chat_delete(channel="C1", ts=ts)
    posted, changed, deleted = fake.events
    assert posted["type"] == "message" and "subtype" not in posted
    assert (posted["bot_id"], posted["user"], posted["ts"], posted["channel_type"]) == (
        BOT_ID,
        BOT_USER_ID,
        ts,
        "channel",
    )
    assert posted["bot_profile"]["id"] == BOT_ID
    assert changed["subtype"] == "message_changed" and changed["hidden"] is True
    assert (changed["message"]["text"], changed["previous_message"]["text"]) == ("v2", "v1")
    assert changed["message"]["edited"]["user"] == BOT_USER_ID
    assert deleted["subtype"] == "message_deleted" and deleted["deleted_ts"] == ts
    assert fake.message("C1", ts) is None
    assert fake.envelopes[0]["payload"]["authorizations"][0]["user_id"] == BOT_USER_ID


def test_user_says_events(fake: FakeSlack) -> None:
    ts = fake.user_says("C1", "U1", f"<@{BOT_USER_ID}> hi", mention_order="message_first")
    message, mention = fake.events
    assert (message["type"], mention["type"]) == ("message", "app_mention")
    assert message["ts"] == mention["ts"] == ts
    assert message["blocks"][0]["elements"][0]["elements"][0] == {"type": "user", "user_id": BOT_USER_ID}
    ids = {e["payload"]["event_id"] for e in fake.envelopes}
    assert len(ids) == 2
    fake.user_says("C9", "U1", f"<@{BOT_USER_ID}> can you hear me")  # bot is not in C9
    fake.user_says("D1", "U1", f"<@{BOT_USER_ID}> dm")  # no app_mention in IMs
    reply_ts = fake.user_says("G1", "U1", "threaded", thread_ts=ts)
    assert [(e["type"], e["channel"]) for e in fake.events[2:]] == [("message", "D1"), ("message", "G1")]
    assert fake.events[-1]["channel_type"] == "group"
    assert fake.message("G1", reply_ts)["thread_ts"] == ts  # type: ignore[index]


def test_slack_connect_envelopes_from_a_channel_another_organisation_hosts(fake: FakeSlack) -> None:
    fake.add_user("UEXT", team_id="TOTHERORG")
    fake.add_channel("CX", "connect", members=("U1", "UEXT"), ext_shared=True, host_team="TOTHERORG")
    ts = fake.user_says("CX", "UEXT", f"<@{BOT_USER_ID}> hi")
    mention, message = (e["payload"] for e in fake.envelopes)
    assert mention["event"]["type"] == "app_mention" and message["event"]["type"] == "message"
    assert (mention["team_id"], message["team_id"], message["context_team_id"]) == ("TOTHERORG", TEAM_ID, "TOTHERORG")
    assert mention["authorizations"][0]["team_id"] == message["authorizations"][0]["team_id"] == TEAM_ID
    assert mention["is_ext_shared_channel"] is message["is_ext_shared_channel"] is True
    assert (mention["event"]["team"], mention["event"]["user_team"], mention["event"]["user_profile"]) == (
        "TOTHERORG", "TOTHERORG", {"team": "TOTHERORG"})
    assert fake.message("CX", ts)["source_team"] == "TOTHERORG"  # type: ignore[index]
    fake.user_says("CX", "U1", f"<@{BOT_USER_ID}> me too")  # our member: the mention still comes as the host's
    mention, message = (e["payload"] for e in fake.envelopes[2:])
    assert (mention["team_id"], mention["event"]["team"], mention["event"]["user_team"]) == (
        "TOTHERORG", "TOTHERORG", TEAM_ID)
    assert (message["team_id"], message["event"]["team"], message["event"]["user_team"]) == (TEAM_ID, TEAM_ID, TEAM_ID)
    retry = fake.envelope(fake.redeliver(fake.envelopes[2]["envelope_id"]))  # a retry keeps the envelope's fields
    assert retry["payload"]["team_id"] == "TOTHERORG" and retry["retry_attempt"] == 1


def test_push_event_sets_envelope_fields(fake: FakeSlack) -> None:
    fake.push_event({"type": "message", "channel": "C1", "user": "U1", "ts": "1.1", "text": "x"},
                    payload={"team_id": "T014GJXU940", "is_ext_shared_channel": True})
    payload = fake.envelopes[0]["payload"]
    assert (payload["team_id"], payload["is_ext_shared_channel"]) == ("T014GJXU940", True)
    assert payload["authorizations"][0]["team_id"] == TEAM_ID


def test_deleting_a_thread_parent_leaves_a_tombstone(client: WebClient, fake: FakeSlack) -> None:
    root = fake.user_says("C1", "U1", f"<@{BOT_USER_ID}> question")
    reply = fake.user_says("C1", "U2", "a reply", thread_ts=root)
    fake.user_deletes("C1", root)
    changed = fake.events[-1]
    assert (changed["subtype"], changed["hidden"], changed["previous_message"]["text"]) == (
        "message_changed", True, f"<@{BOT_USER_ID}> question")
    tombstone = client.conversations_replies(channel="C1", ts=root)["messages"][0]
    assert changed["message"] == tombstone
    shown = ("type", "subtype", "text", "user", "hidden", "ts", "thread_ts", "reply_count")
    assert {k: tombstone[k] for k in shown} == {
        "type": "message", "subtype": "tombstone", "text": "This message was deleted.", "user": "USLACKBOT",
        "hidden": True, "ts": root, "thread_ts": root, "reply_count": 1}
    fake.user_deletes("C1", reply)  # the last reply: the tombstone goes too
    assert fake.events[-1]["subtype"] == "message_deleted"
    assert fake.thread("C1", root) == []


def test_user_messages_carry_rich_text_like_slacks_composer_and_forwards(fake: FakeSlack) -> None:
    share = {"is_share": True, "is_msg_unfurl": True, "text": "the original", "author_id": "U2"}
    ts = fake.user_says("C1", "U1", "<@UBOT> see <#C2|random>, <https://x.io|docs> &amp; :tada: <!here>",
                        attachments=[share])
    message = fake.message("C1", ts)
    assert message is not None and message["attachments"] == [share]
    assert message["blocks"][0]["elements"][0]["elements"] == [
        {"type": "user", "user_id": "UBOT"}, {"type": "text", "text": " see "},
        {"type": "channel", "channel_id": "C2"}, {"type": "text", "text": ", "},
        {"type": "link", "url": "https://x.io", "text": "docs"}, {"type": "text", "text": " & "},
        {"type": "emoji", "name": "tada"}, {"type": "text", "text": " "}, {"type": "broadcast", "range": "here"}]
    assert all(e["attachments"] == [share] for e in fake.events)  # both the message and the app_mention
    alert = fake.post_as_other_bot("C1", "ERROR", attachments=[{"title": "t"}], blocks=[{"type": "divider"}])
    stored = fake.message("C1", alert)
    assert stored is not None and (stored["attachments"], stored["blocks"]) == ([{"title": "t"}], [{"type": "divider"}])


def test_form_body_and_token_parameter(fake: FakeSlack) -> None:
    body = (
        b"token="
        + BOT_TOKEN.encode()
        + b"&channel=C1&text=via+form&metadata=%7B%22event_type%22%3A%22e%22%7D"
    )
    request = urllib.request.Request(f"{fake.api_url}chat.postMessage", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=5) as resp:
        payload = json.loads(resp.read())
    assert payload == {"ok": False, "error": "invalid_metadata_format"}
    request = urllib.request.Request(f"{fake.api_url}conversations.info?channel=C1&token={BOT_TOKEN}")
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert json.loads(resp.read())["channel"]["name"] == "general"


# ---------------------------------------------------------------------------- Socket Mode


def test_builtin_socket_mode_client_acks_and_reconnects(fake: FakeSlack) -> None:
    seen: list[SocketModeRequest] = []
    client = BuiltinSocketModeClient(app_token=APP_TOKEN, web_client=WebClient(base_url=fake.api_url))
    client.socket_mode_request_listeners.append(_acking_listener(seen))
    try:
        client.connect()
        fake.wait_for_connection(1)
        envelope_id = fake.push_event({"type": "app_mention", "channel": "C1", "user": "U1", "text": "hey"})
        fake.wait_for_ack(envelope_id)
        assert seen[0].payload["event"]["text"] == "hey"
        assert fake.calls_for("apps.connections.open")[0].token == APP_TOKEN

        fake.send_disconnect()
        fake.wait_for_connection(2)
        envelope_id = fake.push_event({"type": "app_mention", "channel": "C1", "user": "U1", "text": "again"})
        fake.wait_for_ack(envelope_id)
        assert fake.connections_opened == 2
    finally:
        client.close()
    fake.wait_for(lambda f: f.open_connections == 0)


def test_websocket_client_socket_mode_client_acks_and_reconnects(fake: FakeSlack) -> None:
    seen: list[SocketModeRequest] = []
    client = WebSocketClientSocketModeClient(app_token=APP_TOKEN, web_client=WebClient(base_url=fake.api_url))
    client.socket_mode_request_listeners.append(_acking_listener(seen))
    try:
        client.connect()
        fake.wait_for_connection(1)
        envelope_id = fake.push_event({"type": "app_mention", "channel": "C1", "user": "U1", "text": "hey"})
        fake.wait_for_ack(envelope_id)
        # grace=0: close right behind the disconnect message. This client closes the old session under
        # its own dispatcher thread, which may then sleep out a 10 s epoll timeout before reconnecting;
        # a delayed close makes that likely (6 of 16 runs with grace=0.5), grace=0 rare (seen under load).
        fake.send_disconnect(grace=0)
        fake.wait_for_connection(2, timeout=15)
        envelope_id = fake.push_event({"type": "app_mention", "channel": "C1", "user": "U1", "text": "again"})
        fake.wait_for_ack(envelope_id)
        assert [r.payload["event"]["text"] for r in seen] == ["hey", "again"]
    finally:
        # This client's close() often blocks ~10 s: it closes the socket under its own dispatcher thread,
        # which then sleeps out its 10 s epoll timeout before the runner can be joined. Close it in the
        # background and wait for the fake to see the connection end instead.
        threading.Thread(target=client.close, daemon=True).start()
    fake.wait_for(lambda f: f.open_connections == 0)


def test_envelopes_queue_until_hello_and_unacked_ones_are_redelivered(fake: FakeSlack) -> None:
    seen: list[SocketModeRequest] = []

    def ack_unless_first_try(client: BaseSocketModeClient, req: SocketModeRequest) -> None:
        seen.append(req)
        if req.payload["event"]["text"] != "drop me" or req.retry_attempt:
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

    queued = fake.push_event({"type": "app_mention", "channel": "C1", "user": "U1", "text": "early"})
    assert fake.pending == 1
    client = BuiltinSocketModeClient(
        app_token=APP_TOKEN, web_client=WebClient(base_url=fake.api_url), ping_interval=0.3
    )
    client.socket_mode_request_listeners.append(ack_unless_first_try)
    try:
        client.connect()
        fake.wait_for_ack(queued)
        first = fake.push_event({"type": "app_mention", "channel": "C1", "user": "U1", "text": "drop me"})
        fake.wait_for(lambda f: first in f.delivered)
        fake.drop_connections(abrupt=True, rst=True)
        retry = fake.wait_for(lambda f: [e for e in f.envelopes if e["retry_attempt"] == 1])[0]
        fake.wait_for_ack(retry["envelope_id"])
        assert retry["retry_reason"] == "timeout"
        assert retry["payload"]["event_id"] == fake.envelope(first)["payload"]["event_id"]
        assert retry["envelope_id"] != first
        assert first not in fake.acks
        assert fake.connections_opened == 2
    finally:
        client.close()
    fake.wait_for(lambda f: f.open_connections == 0)


def test_blocked_pongs_make_the_builtin_client_reconnect(fake: FakeSlack) -> None:
    client = BuiltinSocketModeClient(
        app_token=APP_TOKEN, web_client=WebClient(base_url=fake.api_url), ping_interval=0.2
    )
    try:
        client.connect()
        fake.wait_for(lambda f: f.connections_opened == 1 and f.pings_received >= 2)
        fake.block_pongs = True
        fake.wait_for(lambda f: f.connections_opened == 2, timeout=8)
        assert fake.pongs_withheld >= 1
    finally:
        fake.block_pongs = False
        client.close()
    fake.wait_for(lambda f: f.open_connections == 0)


def test_bolt_app_replies_in_thread(fake: FakeSlack) -> None:
    app = App(client=WebClient(token=BOT_TOKEN, base_url=fake.api_url), logger=logging.getLogger("test-bolt"))

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], client: WebClient) -> None:
        client.chat_postMessage(channel=event["channel"], thread_ts=event["ts"], text="hi")

    @app.event("message")
    def on_message() -> None:
        pass

    handler = SocketModeHandler(app, app_token=APP_TOKEN)
    handler.connect()
    try:
        fake.wait_for_connection(1)
        ts = fake.user_says("C1", "U1", f"<@{BOT_USER_ID}> hello")
        thread = fake.wait_for(lambda f: len(f.thread("C1", ts)) == 2 and f.thread("C1", ts))
        assert thread[1]["text"] == "hi"
        assert thread[1]["bot_id"] == BOT_ID
        fake.wait_for(lambda f: len(f.acks) == len(f.delivered) == 3)  # mention, message, the bot's own reply
    finally:
        handler.close()
    fake.wait_for(lambda f: f.open_connections == 0)


def test_stop_is_quick_with_a_client_still_connected() -> None:
    fake = FakeSlack().start()
    client = BuiltinSocketModeClient(
        app_token=APP_TOKEN, web_client=WebClient(base_url=fake.api_url), auto_reconnect_enabled=False
    )
    try:
        client.connect()
        fake.wait_for_connection(1)
        stopper = threading.Thread(target=fake.stop, daemon=True)
        stopper.start()
        stopper.join(5.0)  # a close handshake left to time out would take websockets' close_timeout (10 s)
        assert not stopper.is_alive()
    finally:
        client.close()


def _raw_connection(fake: FakeSlack) -> Any:
    """A bare WebSocket connection to the fake's Socket Mode server, through apps.connections.open."""
    from websockets.sync.client import connect

    url = WebClient(base_url=fake.api_url).apps_connections_open(app_token=APP_TOKEN)["url"]
    ws = connect(url).__enter__()  # closed by the test (a context manager would close it on return)
    assert json.loads(ws.recv(timeout=5))["type"] == "hello"
    return ws


def test_envelopes_go_to_one_random_live_connection(fake: FakeSlack) -> None:
    fake.random_seed = 7
    links = [_raw_connection(fake) for _ in range(3)]
    try:
        # ready for envelopes: counted once the fake marked them ready, a moment after their hello went out
        fake.wait_for(lambda f: f.open_connections == 3 and f.connections_opened == 3)
        for i in range(30):
            fake.push_event({"type": "app_mention", "user": "U1", "text": f"<@{BOT_USER_ID}> {i}", "channel": "C1",
                             "ts": f"1.{i}", "event_ts": f"1.{i}"})
        got: list[int] = []
        for ws in links:
            count = 0
            while True:
                try:
                    frame = json.loads(ws.recv(timeout=0.3))
                except TimeoutError:
                    break
                ws.send(json.dumps({"envelope_id": frame["envelope_id"]}))
                count += 1
            got.append(count)
        assert sum(got) == 30 and all(n > 0 for n in got)  # spread over all three, not all to one
        assert got != [10, 10, 10]  # not round robin
    finally:
        for ws in links:
            ws.close()


def test_an_eleventh_connection_is_refused_with_too_many_websockets(fake: FakeSlack) -> None:
    links = [_raw_connection(fake) for _ in range(10)]
    try:
        from websockets.sync.client import connect

        url = WebClient(base_url=fake.api_url).apps_connections_open(app_token=APP_TOKEN)["url"]
        with connect(url) as extra:
            message = json.loads(extra.recv(timeout=5))
        assert message == {"type": "disconnect", "reason": "too_many_websockets", "debug_info": {"host": "fake"}}
        fake.wait_for(lambda f: f.refused_connections == 1)
        assert fake.open_connections == 10
    finally:
        for ws in links:
            ws.close()


def test_an_unacknowledged_envelope_is_sent_again_at_most_three_times(fake: FakeSlack) -> None:
    fake.unacked_retry_after = 0.2
    ws = _raw_connection(fake)
    try:
        fake.push_event({"type": "message", "user": "U1", "text": "hi", "channel": "C1", "ts": "2.0"},
                        event_id="EvRETRY")
        frames = []
        while True:
            try:
                frames.append(json.loads(ws.recv(timeout=1.0)))
            except TimeoutError:
                break
        assert [f["retry_attempt"] for f in frames] == [0, 1, 2, 3]
        assert {f["payload"]["event_id"] for f in frames} == {"EvRETRY"}
        assert len({f["envelope_id"] for f in frames}) == 4
    finally:
        ws.close()
