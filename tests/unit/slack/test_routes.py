"""Which route an answer takes, and the stream budgets (pure, with an injected clock).

Expectations are written from the rules: auto takes the native route while chat.startStream has a token and
neither start nor stop is paused; edit and native are fixed; a route is decided once; the update reserve for
finals counts only answers on the edit route; Tier 2/4 buckets refill at 90 % of their rate.
"""

from __future__ import annotations

import pytest

from bot.slack.scheduler import Method, Route, Scheduler, Turn


def make(**kw: float) -> Scheduler:
    return Scheduler(interval=1.0, edits_per_minute=50, edit_burst=20, posts_per_second=1.0, post_burst=5, now=0.0,
                     streams_per_minute=kw.get("streams", 20.0), stream_burst=int(kw.get("stream_burst", 2)),
                     appends_per_minute=100.0, append_burst=20)


def opening(s: Scheduler, key: str, now: float, *, route: Route | None = None, channel: str = "C1") -> Turn | None:
    s.add(key, channel, posted=False, route=route)
    s.mark_dirty(key, now, method=Method.START if route is Route.NATIVE else Method.POST)  # as the writer says
    turn, _ = s.next_turn(now)
    return turn


@pytest.mark.parametrize(("route", "expected"), [
    (None, Method.START),  # auto with a start token
    (Route.EDIT, Method.POST),
    (Route.NATIVE, Method.START),
])
def test_the_opening_call_follows_the_route(route: Route | None, expected: Method) -> None:
    s = make()
    turn = opening(s, "a", 0.0, route=route)
    assert turn is not None and turn.method is expected
    assert s.slots["a"].route is (Route.NATIVE if expected is Method.START else Route.EDIT)


def test_auto_goes_native_while_the_start_burst_lasts_then_edit() -> None:
    s = make(stream_burst=2)
    methods = []
    for i, key in enumerate("abcd"):
        turn = opening(s, key, 0.0, channel=f"C{i}")
        assert turn is not None
        methods.append(turn.method)
    assert methods == [Method.START, Method.START, Method.POST, Method.POST]


def test_auto_goes_native_again_once_the_start_bucket_refilled() -> None:
    s = make(streams=20.0, stream_burst=1)  # 20 a minute at 90 %: one token every 60 / 18 = 3.33 s
    assert (opening(s, "a", 0.0) or Turn("", Method.POST, 0)).method is Method.START
    assert (opening(s, "b", 3.0, channel="C2") or Turn("", Method.START, 0)).method is Method.POST
    assert (opening(s, "c", 3.4, channel="C3") or Turn("", Method.POST, 0)).method is Method.START


@pytest.mark.parametrize("paused", [Method.START, Method.STOP])
def test_auto_takes_the_edit_route_while_start_or_stop_is_paused(paused: Method) -> None:
    s = make()
    s.pause(paused, 10.0)
    turn = opening(s, "a", 0.0)
    assert turn is not None and turn.method is Method.POST
    assert s.slots["a"].route is Route.EDIT


def test_native_waits_for_a_start_token_instead_of_switching() -> None:
    s = make(stream_burst=1)
    assert (opening(s, "a", 0.0, route=Route.NATIVE) or Turn("", Method.POST, 0)).method is Method.START
    s.add("b", "C2", posted=False, route=Route.NATIVE)
    s.mark_dirty("b", 0.0, method=Method.START)
    turn, wait = s.next_turn(0.0)
    assert turn is None and wait is not None and wait == pytest.approx(60 / 18)


def test_a_shared_budget_denial_leaves_the_route_open() -> None:
    s = make()
    s.shared = True
    turn = opening(s, "a", 0.0)
    assert turn is not None and turn.decided and turn.shared is not None and turn.shared[0] == "start"
    s.denied(turn, 0.0, 5.0)  # no start token in the workspace: held here for 5 s
    assert s.slots["a"].route is None
    again, _ = s.next_turn(0.0)
    assert again is not None and again.method is Method.POST  # auto takes the edit route meanwhile


def test_the_update_reserve_counts_only_edit_answers() -> None:
    s = make()
    for key, route in (("a", Route.NATIVE), ("b", Route.NATIVE), ("c", Route.EDIT)):
        s.add(key, "C1", route=route)
    assert s.reserve() == 0.0  # one edit answer streaming: no reserve
    s.add("d", "C1", route=Route.EDIT)
    assert s.reserve() == 2.0


def test_appends_and_stops_use_their_own_buckets() -> None:
    s = make(stream_burst=1)
    s.add("a", "C1", route=Route.NATIVE)
    s.mark_dirty("a", 0.0, method=Method.STOP, final=True)
    turn, _ = s.next_turn(0.0)
    assert turn is not None and turn.method is Method.STOP
    s.written("a", 0.0, shown=True, more=None, marks=s.slots["a"].marks)
    s.add("b", "C2", route=Route.NATIVE)
    s.mark_dirty("b", 0.0, method=Method.STOP, final=True)
    turn, wait = s.next_turn(0.0)
    assert turn is None and wait == pytest.approx(60 / 18)  # the stop budget is spent; updates are untouched
    s.add("c", "C3", route=Route.EDIT)
    s.mark_dirty("c", 0.0, method=Method.UPDATE, final=True)
    turn, _ = s.next_turn(0.0)
    assert turn is not None and turn.method is Method.UPDATE


def test_a_429_on_a_status_pauses_that_channel_only() -> None:
    s = make()
    s.pause(Method.STATUS, 5.0, "D1")
    for key, channel in (("a", "D1"), ("b", "D2")):
        s.add(key, channel, posted=False, route=None)
        s.mark_dirty(key, 0.0, method=Method.STATUS)
    turn, _ = s.next_turn(0.0)
    assert turn is not None and turn.key == "b"
    turn, wait = s.next_turn(0.0)
    assert turn is None and wait == pytest.approx(5.0)


@pytest.mark.parametrize(("method", "burst"), [(Method.EPHEMERAL, 20), (Method.TITLE, 10), (Method.PROMPTS, 10)])
def test_one_off_calls_take_from_their_own_bucket(method: Method, burst: int) -> None:
    s = make()
    for _ in range(burst):
        wait, shared = s.take(method, "D1", 0.0)
        assert wait == 0.0 and shared is not None
    wait, shared = s.take(method, "D1", 0.0)
    assert wait > 0 and shared is None
