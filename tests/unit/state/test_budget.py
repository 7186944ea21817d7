"""The Slack budgets shared by processes: the same bucket semantics in this process and in Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from bot.slack.budget import Budget, LocalBudget
from bot.state.redis import RedisBudget, RedisStore
from tests.redis_server import RedisServer


@pytest.fixture(params=["local", "redis"])
def budgets(request: pytest.FixtureRequest) -> Iterator[tuple[Budget, Budget]]:
    """Two budgets as two processes see them: the same buckets (Redis), or this process's own (local)."""
    if request.param == "local":
        local = LocalBudget()
        yield local, local
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    stores = [RedisStore(server.url, prefix="t:", location="test") for _ in range(2)]
    prefix = f"test-{uuid.uuid4().hex[:8]}:T1:budget:"
    yield RedisBudget(stores[0].client, prefix), RedisBudget(stores[1].client, prefix)
    for store in stores:
        store.close()


def test_a_bucket_hands_out_its_burst_then_waits(budgets: tuple[Budget, Budget]) -> None:
    a, b = budgets
    taken = [a.take("update", 0.5, 4) for _ in range(2)] + [b.take("update", 0.5, 4) for _ in range(2)]
    assert taken == [0.0] * 4  # the burst, across both processes
    wait = b.take("update", 0.5, 4)
    assert 1.5 < wait <= 2.0  # one token per 2 s
    assert a.take("other", 0.5, 4) == 0.0  # buckets are per key


def test_need_leaves_the_last_tokens_to_finals(budgets: tuple[Budget, Budget]) -> None:
    a, b = budgets
    assert a.take("update", 0.01, 3) == 0.0
    assert a.take("update", 0.01, 3) == 0.0  # one token left
    assert b.take("update", 0.01, 3, need=2.0) > 0  # an interim edit may not take the last one
    assert b.take("update", 0.01, 3) == 0.0  # a final may


def test_give_returns_a_token(budgets: tuple[Budget, Budget]) -> None:
    a, b = budgets
    assert a.take("post:C1", 0.01, 1) == 0.0
    assert b.take("post:C1", 0.01, 1) > 0
    a.give("post:C1", 0.01, 1)
    assert b.take("post:C1", 0.01, 1) == 0.0


def test_a_pause_holds_every_process(budgets: tuple[Budget, Budget]) -> None:
    a, b = budgets
    a.pause("update", 30)
    assert 29 < b.take("update", 10, 20) <= 30
    a.pause("update", 1)  # a shorter pause never shortens a longer one
    assert b.take("update", 10, 20) > 29
