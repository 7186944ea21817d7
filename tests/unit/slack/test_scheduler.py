"""The edit scheduler with a fake clock: priorities, interval, budgets, reserve, 429 pauses."""

from __future__ import annotations

from typing import Any

from bot.slack.budget import LocalBudget
from bot.slack.scheduler import SAFETY, Method, Priority, Scheduler, TokenBucket


def make(interval: float = 1.0, per_minute: float = 60.0, burst: int = 20, posts: float = 1.0,
         post_burst: int = 5, max_in_flight: int = 4) -> Scheduler:
    return Scheduler(interval=interval, edits_per_minute=per_minute, edit_burst=burst, posts_per_second=posts,
                     post_burst=post_burst, now=0.0, max_in_flight=max_in_flight)


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
    """A final text that cannot go yet (it backs off after a failed call) keeps the last update token: the
    other answer's first text may not take it."""
    s = make(per_minute=60, burst=1)
    s.add("final", "C1")
    s.add("first", "C1")
    s.slots["final"].shown = True
    s.mark_dirty("final", 0.0, method=Method.UPDATE, final=True)
    s.slots["final"].not_before = 0.5
    s.mark_dirty("first", 0.0, method=Method.UPDATE)
    assert s.next_turn(0.0)[0] is None  # the first text waits although a token is there
    turn, _ = s.next_turn(0.5)
    assert turn is not None and turn.key == "final"


def test_a_final_waiting_for_a_post_does_not_hold_update_tokens() -> None:
    s = make(per_minute=60, burst=1)
    s.add("final", "C1")
    s.add("first", "C2")
    s.mark_dirty("final", 0.0, method=Method.POST, final=True)  # its next call is a continuation post
    s.pause(Method.POST, until=100.0, channel="C1")
    s.mark_dirty("first", 0.0, method=Method.UPDATE)
    turn, _ = s.next_turn(0.0)
    assert turn is not None and turn.key == "first"


def test_a_429_on_a_post_pauses_posts_in_that_channel_only() -> None:
    s = make(posts=10.0, post_burst=5)
    for key, channel in (("a", "C1"), ("b", "C2")):
        s.add(key, channel)
        s.mark_dirty(key, 0.0, method=Method.POST, final=True)
    s.pause(Method.POST, until=30.0, channel="C1")
    turn, _ = s.next_turn(1.0)
    assert turn is not None and turn.key == "b"
    assert s.next_turn(1.0) == (None, 29.0)  # "a" waits for C1's Retry-After
    assert s.take_post("C1", 1.0) == 29.0 and s.take_post("C3", 1.0) == 0.0


def test_placeholders_go_before_first_and_interim_texts() -> None:
    s = make(posts=10.0, post_burst=5)
    s.add("streaming", "C1")
    s.slots["streaming"].shown = True
    s.mark_dirty("streaming", 0.0, method=Method.POST)  # a continuation message
    s.add("new", "C1", posted=False)
    s.mark_dirty("new", 0.5, method=Method.POST)
    turn, _ = s.next_turn(5.0)
    assert turn is not None and turn.key == "new" and turn.priority is Priority.PLACEHOLDER
    serve(s, "new", 5.0, shown=False)
    assert s.slots["new"].priority() is Priority.FIRST  # posted: from now on an ordinary answer


def test_budgets_refill_a_little_below_the_nominal_rate() -> None:
    s = make(per_minute=60, burst=1)  # nominal: one edit a second
    s.add("a", "C1")
    s.mark_dirty("a", 0.0, method=Method.UPDATE, final=True)
    assert s.next_turn(0.0)[0] is not None
    serve(s, "a", 0.0)
    s.mark_dirty("a", 0.0, method=Method.UPDATE, final=True)
    turn, wait = s.next_turn(1.0)
    assert turn is None and wait is not None and abs(wait - (1 / SAFETY - 1.0)) < 1e-9
    assert SAFETY < 1.0


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
    s = make(per_minute=6000, burst=100, posts=50.0, post_burst=50, max_in_flight=1)
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


def test_at_most_max_in_flight_calls_per_method() -> None:
    s = make(max_in_flight=2)
    for key in ("a", "b", "c"):
        s.add(key, "C1")
        s.mark_dirty(key, 0.0, method=Method.UPDATE, final=True)
    s.add("p", "C2")
    s.mark_dirty("p", 0.0, method=Method.POST, final=True)
    turns = [s.next_turn(0.0)[0] for _ in range(3)]
    assert all(t is not None for t in turns)
    methods = sorted(t.method.value for t in turns if t is not None)
    assert methods == ["chat.postMessage", "chat.update", "chat.update"]  # a post may fly beside the updates
    assert s.next_turn(0.0) == (None, None)  # the third update waits for one of the two to land
    update = next(t for t in turns if t is not None and t.method is Method.UPDATE)
    s.failed(update.key, 0.0, retry_in=5.0)
    turn, _ = s.next_turn(0.0)
    assert turn is not None and turn.key == "c"  # a slow or failed call delays only its own answer


def test_posts_use_the_channel_budget() -> None:
    s = make(posts=1.0, post_burst=2)
    assert s.take_post("C1", 0.0) == 0
    assert s.take_post("C1", 0.0) == 0
    assert abs(s.take_post("C1", 0.0) - 1 / SAFETY) < 1e-9
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
    assert len(served) >= 7  # 0.9 tokens a second, looked at every 0.5 s; each edit waits for the reserve (2)
    assert served.count("a") >= 3 and served.count("b") >= 3
    assert abs(served.count("a") - served.count("b")) <= 1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def turn_with(s: Scheduler, budget: LocalBudget, now: float) -> Any:
    """What the writer does with a turn: ask the shared budget (outside the scheduler), give it back if denied."""
    turn, wait = s.next_turn(now)
    if turn is not None and turn.shared is not None:
        denied = budget.take(*turn.shared)
        if denied > 0:
            s.denied(turn, now, denied)
            return s.next_turn(now)
    return turn, wait


def test_a_shared_budget_spent_by_other_processes_holds_this_one_back() -> None:
    """Two processes (two schedulers) share one workspace budget: what one spends, the other cannot."""
    clock = Clock()
    shared = LocalBudget(clock)
    here, there = make(per_minute=60, burst=2), make(per_minute=60, burst=2)
    here.shared = there.shared = True
    for s, key in ((there, "b1"), (there, "b2"), (here, "a")):
        s.add(key, "C1")
        s.slots[key].shown = True
        s.mark_dirty(key, 0.0, method=Method.UPDATE, final=True)
    assert turn_with(there, shared, 0.0)[0] is not None and turn_with(there, shared, 0.0)[0] is not None  # burst
    turn, wait = turn_with(here, shared, 0.0)  # this process's own bucket is full, the workspace's is empty
    assert turn is None and wait is not None and 1.0 < wait <= 1 / SAFETY + 1e-9
    assert not here.slots["a"].in_flight and here.slots["a"].dirty  # taken back, still to be written
    clock.now = 1 / SAFETY
    assert turn_with(here, shared, clock.now)[0] is not None


def test_interim_edits_leave_the_shared_last_token_to_another_process_final() -> None:
    clock = Clock()
    shared = LocalBudget(clock)
    here = make(per_minute=0.6, burst=3)  # almost no refill: only the burst counts
    here.shared = True
    for key in ("x", "y"):
        here.add(key, "C1")
        here.slots[key].shown = True
        here.slots[key].last_write = -10.0
        here.mark_dirty(key, 0.0, method=Method.UPDATE)
    rate = 0.6 / 60 * SAFETY
    assert shared.take("update", rate, 3) == 0.0 and shared.take("update", rate, 3) == 0.0  # elsewhere
    assert turn_with(here, shared, 0.0)[0] is None  # an interim edit needs more than the last token
    assert shared.take("update", rate, 3) == 0.0  # another process's final still gets it


def test_a_429_names_the_shared_bucket_to_pause_everywhere() -> None:
    s = make()
    assert s.pause(Method.POST, until=20.0, channel="C1") == "post:C1"
    assert s.pause(Method.UPDATE, until=20.0) == "update"


def test_a_final_post_the_shared_budget_denied_is_not_asked_again_at_once() -> None:
    """The replace path (a final over a bare placeholder posted anew) respects a shared hold on the channel's
    post bucket, like every other path: the writer must not ask the shared budget over and over."""
    clock = Clock()
    shared = LocalBudget(clock)
    here = make(per_minute=60, burst=1, posts=1.0, post_burst=5)
    here.shared = True
    here.pause(Method.UPDATE, until=30.0)  # updates are out: a final over a bare placeholder goes out as a post
    here.add("a", "C1")
    here.mark_dirty("a", 0.0, method=Method.UPDATE, final=True)
    for _ in range(5):
        shared.take("post:C1", 1.0 * SAFETY, 5)  # other processes spent the channel's post budget
    asks = 0
    for _ in range(10):
        turn, _ = here.next_turn(0.0)
        if turn is None:
            break
        asks += 1
        assert turn.shared is not None and turn.replace
        denied = shared.take(*turn.shared)
        assert denied > 0
        here.denied(turn, 0.0, denied)
    assert asks == 1


def test_with_a_shared_budget_first_and_interim_edits_take_only_from_a_full_bucket() -> None:
    """Other processes' answers are invisible here: keep every token but the burst's last for final texts."""
    s = make(per_minute=60, burst=5)
    s.shared = True
    s.add("a", "C1")
    s.mark_dirty("a", 0.0, method=Method.UPDATE)
    assert s.reserve() == 4.0  # one answer here; alone it would keep nothing back
    turn, _ = s.next_turn(0.0)
    assert turn is not None and turn.shared is not None and turn.shared[3] == 5.0  # need: a full bucket
    s.shared = False
    assert s.reserve() == 0.0
