"""build_request: where cache points go, so that follow-ups and continuations read the prefix from the cache."""

from __future__ import annotations

from typing import Any

from bot.model.continuation import Form, continuation_messages
from bot.model.generation import CACHE_POINT, ModelRequest, build_request

IMAGE = {"image": {"format": "png", "source": {"bytes": b"\x89PNG..."}}}


def turn(role: str, *blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": role, "content": list(blocks)}


def points(body: dict[str, Any]) -> list[int]:
    return [i for i, m in enumerate(body["messages"]) if CACHE_POINT in m["content"]]


def request(messages: list[dict[str, Any]]) -> ModelRequest:
    return ModelRequest(model_id="m", messages=messages, system=[{"text": "sys"}], cache=True)


def test_a_question_without_files_is_not_cached_but_the_history_before_it_is() -> None:
    messages = [turn("user", {"text": "q1"}), turn("assistant", {"text": "a1"}), turn("user", {"text": "q2"})]
    body = build_request(request(messages), messages, messages, cache=True)
    assert body["system"][-1] == CACHE_POINT and points(body) == [1]


def test_a_question_with_an_image_is_cached_so_the_follow_up_reads_it() -> None:
    messages = [turn("user", IMAGE, {"text": "what is this?"})]
    body = build_request(request(messages), messages, messages, cache=True)
    assert points(body) == [0] and body["messages"][0]["content"] == [IMAGE, {"text": "what is this?"}, CACHE_POINT]
    follow = [*messages, turn("assistant", {"text": "a cat"}), turn("user", {"text": "sure?"})]
    assert points(build_request(request(follow), follow, follow, cache=True)) == [1]


def test_a_continuation_resends_the_same_blocks_with_at_most_four_cache_points() -> None:
    messages = [turn("user", {"text": "q1"}), turn("assistant", {"text": "a1"}), turn("user", IMAGE, {"text": "q2"})]
    continued = continuation_messages(messages, "partial answer", Form.CONTINUE)
    body = build_request(request(messages), messages, continued, cache=True)
    assert points(body) == [1, 2]
    assert body["messages"][2]["content"][0] is IMAGE  # the very same bytes
    assert len(points(body)) + 1 <= 4
    assert messages[2]["content"] == [IMAGE, {"text": "q2"}]  # the request's own messages are not changed
