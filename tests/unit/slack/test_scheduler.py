"""The edit scheduler with a fake clock: priorities, interval, budgets, reserve, 429 pauses."""

from __future__ import annotations

from bot.slack.scheduler import Method, Priority, Scheduler, TokenBucket


def make(interval: float = 1.0, per_minute: float = 60.0, burst: int = 20, posts: float = 1.0,
         post_burst: int = 5) -> Scheduler:
    return Scheduler(interval=interval, edits_per_minute=per_minute, edit_burst=burst, posts_per_second=posts,
                     post_burst=post_burst, now=0.0)


def serve(s: Scheduler, key: str, now: float, *, shown: bool = True) -> None:
    s.written(key, now, shown=shown, more=None, marks=s.slots[key].marks)


def test_token_bucket_refills_up_to_burst() -> None:
    b = TokenBucket(rate=1.0, burst=2, now=0.0)
    b.take(0.0)
    b.take(0.0)
    assert b.time_until(1.0, 0.0) == 1.0
    assert b.tokens(10.0) == 2


def test_first_text_goes_at_once_then_interval_applies() -> None:
    s = make()
    s.add("a", "C1")
    s.mark_dirty("a", 0.0, method=Method.UPDATE)
    turn, _ = s.next_turn(0.0)
    assert turn is not None and turn.priority is Priority.FIRST
    serve(s, "a", 0.01)
    s.mark_dirty("a", 0.02, method=Method.UPDATE)
    turn, wait = s.next_turn(0.02)
    assert turn is None and wait is not None and abs(wait - 0.99) < 1e-6
    turn, _ = s.next_turn(1.01)
    assert turn is not None and turn.priority is Priority.INTERIM


def test_final_text_ignores_interval() -> None:
    s = make()
    s.add("a", "C1")
    s.mark_dirty("a", 0.0, method=Method.UPDATE)
    s.next_turn(0.0)
    serve(s, "a", 0.0)
    s.mark_dirty("a", 0.1, method=Method.UPDATE, final=True)
    turn, _ = s.next_turn(0.1)
    assert turn is not None and turn.priority is Priority.FINAL


def test_nothing_pending_means_no_wake_up() -> None:
    s = make()
    s.add("a", "C1")
    assert s.next_turn(0.0) == (None, None)


def test_one_call_in_flight_per_answer() -> None:
    s = make()
    s.add("a", "C1")
    s.mark_dirty("a", 0.0, method=Method.UPDATE, final=True)
    assert s.next_turn(0.0)[0] is not None
    s.mark_dirty("a", 0.0, method=Method.UPDATE, final=True)
    assert s.next_turn(0.0) == (None, None)


def test_a_mark_during_the_call_keeps_the_answer_dirty() -> None:
    s = make()
    s.add("a", "C1")
    s.mark_dirty("a", 0.0, method=Method.UPDATE)
    marks = s.slots["a"].marks
    s.next_turn(0.0)
    s.mark_dirty("a", 0.0, method=Method.UPDATE, final=True)  # arrives while the call runs
    s.written("a", 0.1, shown=True, more=None, marks=marks)
    assert s.slots["a"].dirty and s.slots["a"].final


def test_priority_final_then_first_then_interim_and_oldest_first() -> None:
    s = make(burst=10)
    for key in ("interim", "first", "final-late", "final-early"):
        s.add(key, "C1")
    s.slots["interim"].shown = True
    s.mark_dirty("interim", 0.0, method=Method.UPDATE)
    s.mark_dirty("first", 0.1, method=Method.UPDATE)
    s.mark_dirty("final-late", 0.3, method=Method.UPDATE, final=True)
    s.mark_dirty("final-early", 0.2, method=Method.UPDATE, final=True)
    order = []
    for _ in range(4):
        turn, _ = s.next_turn(5.0)
        assert turn is not None
        order.append(turn.key)
        serve(s, turn.key, 5.0)
    assert order == ["final-early", "final-late", "first", "interim"]


def test_interim_edits_keep_a_reserve_for_finals() -> None:
    s = make(per_minute=60, burst=4)
    for key in ("a", "b", "c", "d"):
        s.add(key, "C1")
        s.slots[key].shown = True
        s.slots[key].last_write = 8.0
        s.mark_dirty(key, 8.5, method=Method.UPDATE)
    served = 0
    while (turn := s.next_turn(10.0)[0]) is not None:
        served += 1
        serve(s, turn.key, 10.0)
    assert served == 0  # burst 4, reserve min(burst, 4 streaming) = 4
    s.add("e", "C1")
    s.mark_dirty("e", 10.0, method=Method.UPDATE, final=True)
    assert s.next_turn(10.0)[0] is not None  # the final still gets a token


def test_many_answers_keep_the_burst_for_their_finals() -> None:
    """30 answers streaming with a burst of 20: no first text is shown from the burst; all 20 tokens are
    there when the finals come."""
    s = make(per_minute=50, burst=20)
    for i in range(30):
        s.add(f"a{i}", "C1")
        s.mark_dirty(f"a{i}", 0.0, method=Method.UPDATE)
    assert s.next_turn(0.0)[0] is None
    for i in range(30):
        s.mark_dirty(f"a{i}", 4.0, method=Method.UPDATE, final=True)
    kinds = []
    while (turn := s.next_turn(4.0)[0]) is not None:
        kinds.append(turn.method)
        serve(s, turn.key, 4.0)
    assert kinds.count(Method.UPDATE) == 20  # the whole burst was kept for finals
    assert kinds.count(Method.POST) == 5  # and 5 more go out as new posts (the channel's post burst)


def test_a_starved_answer_may_spend_the_reserve() -> None:
    s = make(per_minute=60, burst=2)
    for key in ("a", "b", "c"):
        s.add(key, "C1")
        s.mark_dirty(key, 0.0, method=Method.UPDATE)
    assert s.next_turn(1.0)[0] is None  # reserve 2 of a burst of 2
    turn, _ = s.next_turn(20.0)
    assert turn is not None and turn.priority is Priority.FIRST


def test_first_text_leaves_the_last_token_to_a_waiting_final() -> None:
    s = make(per_minute=60, burst=1)
    s.add("final", "C1")
    s.add("first", "C1")
    s.mark_dirty("final", 0.0, method=Method.POST, final=True)  # its next call is a post, not an update
    s.paused_until[Method.POST] = 100.0
    s.mark_dirty("first", 0.0, method=Method.UPDATE)
    s.slots["final"].next_method = Method.UPDATE
    turn, _ = s.next_turn(0.0)
    assert turn is not None and turn.key == "final"


def test_429_pauses_the_method_for_everyone() -> None:
    s = make()
    s.add("a", "C1")
    s.add("b", "C2")
    s.pause(Method.UPDATE, until=30.0)
    for key in ("a", "b"):
        s.slots[key].shown = True  # (a final over a bare placeholder could go out as a new post instead)
        s.mark_dirty(key, 0.0, method=Method.UPDATE, final=True)
    turn, wait = s.next_turn(1.0)
    assert turn is None and wait == 29.0
    assert s.next_turn(30.0)[0] is not None


def test_final_over_a_bare_placeholder_is_posted_when_updates_are_exhausted() -> None:
    s = make(per_minute=60, burst=1, posts=1.0, post_burst=5)
    for key in ("a", "b"):
        s.add(key, "C1")
        s.mark_dirty(key, 0.0, method=Method.UPDATE, final=True)
    first, _ = s.next_turn(0.0)
    assert first is not None and first.method is Method.UPDATE and not first.replace
    serve(s, first.key, 0.0)
    second, _ = s.next_turn(0.0)
    assert second is not None and second.method is Method.POST and second.replace  # no update token left
    s.slots[second.key].next_method = Method.DELETE
    s.written(second.key, 0.0, shown=True, more=Method.DELETE, marks=s.slots[second.key].marks)
    delete, _ = s.next_turn(0.0)
    assert delete is not None and delete.method is Method.DELETE  # the placeholder goes, on its own budget


def test_final_over_a_bare_placeholder_waits_for_an_update_in_flight_when_budget_remains() -> None:
    s = make(per_minute=6000, burst=100, posts=50.0, post_burst=50)
    for key in ("a", "b"):
        s.add(key, "C1")
        s.mark_dirty(key, 0.0, method=Method.UPDATE, final=True)
    first, _ = s.next_turn(0.0)
    assert first is not None and first.method is Method.UPDATE
    assert s.next_turn(0.0) == (None, None)  # no post + delete just to save one round trip
    serve(s, first.key, 0.01)
    second, _ = s.next_turn(0.01)
    assert second is not None and second.method is Method.UPDATE and not second.replace


def test_final_over_a_bare_placeholder_is_posted_while_updates_are_paused() -> None:
    s = make(per_minute=6000, burst=100, posts=50.0, post_burst=50)
    s.add("a", "C1")
    s.mark_dirty("a", 0.0, method=Method.UPDATE, final=True)
    s.pause(Method.UPDATE, until=30.0)
    turn, _ = s.next_turn(1.0)
    assert turn is not None and turn.method is Method.POST and turn.replace


def test_one_call_per_method_in_flight() -> None:
    s = make()
    for key in ("a", "b"):
        s.add(key, "C1")
        s.mark_dirty(key, 0.0, method=Method.UPDATE, final=True)
    s.add("p", "C2")
    s.mark_dirty("p", 0.0, method=Method.POST, final=True)
    first, _ = s.next_turn(0.0)
    second, _ = s.next_turn(0.0)
    assert first is not None and second is not None
    assert {first.method, second.method} == {Method.UPDATE, Method.POST}  # a post may fly beside an update
    assert s.next_turn(0.0) == (None, None)  # the second update waits for the first to land
    update = first if first.method is Method.UPDATE else second
    s.failed(update.key, 0.0, retry_in=0.0)
    assert s.next_turn(0.0)[0] is not None


def test_posts_use_the_channel_budget() -> None:
    s = make(posts=1.0, post_burst=2)
    assert s.take_post("C1", 0.0) == 0
    assert s.take_post("C1", 0.0) == 0
    assert s.take_post("C1", 0.0) == 1.0
    assert s.take_post("C2", 0.0) == 0  # another channel has its own budget


def test_failed_call_backs_off_then_retries() -> None:
    s = make()
    s.add("a", "C1")
    s.mark_dirty("a", 0.0, method=Method.UPDATE, final=True)
    s.next_turn(0.0)
    s.failed("a", 0.0, retry_in=2.0)
    assert s.next_turn(1.0)[0] is None
    assert s.next_turn(2.0)[0] is not None


def test_refund_returns_the_token() -> None:
    s = make(per_minute=60, burst=1)
    s.add("a", "C1")
    s.mark_dirty("a", 0.0, method=Method.UPDATE, final=True)
    s.next_turn(0.0)
    s.refund(Method.UPDATE, "C1", 0.0)
    s.failed("a", 0.0, retry_in=0.0)
    assert s.next_turn(0.0)[0] is not None


def test_fair_share_between_streaming_answers() -> None:
    """Two answers streaming under a budget that serves one edit a second alternate."""
    s = make(interval=0.5, per_minute=60, burst=3)
    for key in ("a", "b"):
        s.add(key, "C1")
        s.slots[key].shown = True
    served = []
    now = 0.0
    for _ in range(20):
        for key in ("a", "b"):
            if not s.slots[key].dirty:
                s.mark_dirty(key, now, method=Method.UPDATE)
        turn, _ = s.next_turn(now)
        if turn is not None:
            served.append(turn.key)
            serve(s, turn.key, now)
        now += 0.5
    assert len(served) >= 9  # one token a second; each edit waits until the reserve (2) is back
    assert served.count("a") >= 4 and served.count("b") >= 4
    assert abs(served.count("a") - served.count("b")) <= 1
