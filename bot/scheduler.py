"""Who may write to Slack next (pure; the clock is passed in as `now`).

One `Scheduler` per workspace owns the budgets of every Slack write the bot makes for answers:
`chat.update` (Tier 3: about 50 a minute for the whole workspace) and `chat.postMessage` (about one a
second per channel). Answers don't call Slack themselves; they mark themselves dirty and the scheduler
hands out turns, one call at a time:

* priority: an answer's FINAL text, then its FIRST visible text, then INTERIM edits;
* within a priority, the answer that has waited longest goes first (fair share, no starvation);
* an interim edit of one reply happens at most once per `interval`, and only while the update budget
  keeps a reserve for the finals of the answers still streaming;
* a 429 pauses that method for everyone until its Retry-After has passed;
* an answer has at most one call in flight (one writer per message, so edits never overtake each other).

Coalescing is implicit: a turn writes the answer's latest text, whatever it was when it became dirty.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class TokenBucket:
    """`rate` tokens per second up to `burst`; starts full."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at = now

    def tokens(self, now: float) -> float:
        if now > self._at:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
        return self._tokens

    def take(self, now: float) -> None:
        self.tokens(now)
        self._tokens -= 1.0

    def give(self, now: float) -> None:
        self._tokens = min(self.burst, self.tokens(now) + 1.0)

    def time_until(self, amount: float, now: float) -> float:
        """Seconds until at least `amount` tokens are available."""
        missing = amount - self.tokens(now)
        return 0.0 if missing <= 0 else missing / self.rate


class Priority(enum.IntEnum):
    FINAL = 0
    FIRST = 1
    INTERIM = 2


class Method(enum.Enum):
    UPDATE = "chat.update"
    POST = "chat.postMessage"


@dataclass
class Slot:
    """The scheduler's view of one answer."""

    key: str
    channel: str
    dirty: bool = False
    final: bool = False
    shown: bool = False  # some model text is visible in Slack
    in_flight: bool = False
    dirty_since: float = 0.0
    last_write: float = float("-inf")
    not_before: float = 0.0  # backoff after a failed call
    next_method: Method = Method.UPDATE
    marks: int = 0  # how often it was marked dirty; lets a finished call see marks that came during it

    def priority(self) -> Priority:
        if self.final:
            return Priority.FINAL
        return Priority.INTERIM if self.shown else Priority.FIRST


@dataclass(frozen=True)
class Turn:
    key: str
    method: Method
    priority: Priority


@dataclass
class Scheduler:
    """Decides the next Slack write. All methods take `now` (monotonic seconds)."""

    interval: float
    edits_per_minute: float
    edit_burst: int
    posts_per_second: float
    post_burst: int
    now: float = 0.0
    slots: dict[str, Slot] = field(default_factory=dict)
    paused_until: dict[Method, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._updates = TokenBucket(self.edits_per_minute / 60.0, self.edit_burst, self.now)
        self._posts: dict[str, TokenBucket] = {}

    # -- bookkeeping ----------------------------------------------------------------------------------
    def add(self, key: str, channel: str) -> None:
        self.slots[key] = Slot(key, channel)

    def remove(self, key: str) -> None:
        self.slots.pop(key, None)

    def mark_dirty(self, key: str, now: float, *, method: Method, final: bool = False) -> None:
        slot = self.slots[key]
        slot.marks += 1
        if not slot.dirty:
            slot.dirty = True
            slot.dirty_since = now
        slot.final = slot.final or final
        slot.next_method = method

    def written(self, key: str, now: float, *, shown: bool, more: Method | None, marks: int) -> None:
        """A call of the answer completed; `more` is the method of its next pending call, if any, as seen
        when the slot had been marked `marks` times (a later mark keeps it dirty)."""
        slot = self.slots[key]
        slot.in_flight = False
        slot.last_write = now
        slot.shown = slot.shown or shown
        slot.dirty = more is not None or slot.marks != marks
        if slot.dirty:
            slot.dirty_since = now
        if more is not None:
            slot.next_method = more

    def refund(self, method: Method, channel: str, now: float) -> None:
        """Give back the token of a turn that made no call."""
        bucket = self._post_bucket(channel, now) if method is Method.POST else self._updates
        bucket.give(now)

    def failed(self, key: str, now: float, *, retry_in: float) -> None:
        slot = self.slots[key]
        slot.in_flight = False
        slot.not_before = now + retry_in

    def pause(self, method: Method, until: float) -> None:
        """A 429: nobody calls `method` before `until`."""
        self.paused_until[method] = max(self.paused_until.get(method, 0.0), until)

    def _post_bucket(self, channel: str, now: float) -> TokenBucket:
        bucket = self._posts.get(channel)
        if bucket is None:
            bucket = self._posts[channel] = TokenBucket(self.posts_per_second, self.post_burst, now)
        return bucket

    # -- decisions -------------------------------------------------------------------------------------
    def reserve(self) -> float:
        """Update tokens kept back for the final texts of answers still streaming."""
        streaming = sum(1 for s in self.slots.values() if not s.final)
        return max(0.0, min(self.edit_burst - 1.0, self.edit_burst / 2.0, streaming / 2.0))

    def _earliest(self, slot: Slot, now: float) -> float:
        """When this slot could be served if budgets allowed (interval and backoff only)."""
        at = slot.not_before
        if slot.priority() is Priority.INTERIM:
            at = max(at, slot.last_write + self.interval)
        return at

    def _budget_wait(self, slot: Slot, now: float) -> float:
        method = slot.next_method
        wait = max(0.0, self.paused_until.get(method, 0.0) - now)
        if method is Method.POST:
            return max(wait, self._post_bucket(slot.channel, now).time_until(1.0, now))
        need = 1.0 + (self.reserve() if slot.priority() is Priority.INTERIM else 0.0)
        if slot.priority() is Priority.FIRST and any(
            s.final and s.dirty and not s.in_flight for s in self.slots.values()
        ):
            need = 2.0  # a first text never takes the last token a pending final text needs
        return max(wait, self._updates.time_until(need, now))

    def next_turn(self, now: float) -> tuple[Turn | None, float | None]:
        """The next call to make now, or (None, seconds to wait) — None seconds when nothing is pending."""
        candidates = [s for s in self.slots.values() if s.dirty and not s.in_flight]
        candidates.sort(key=lambda s: (s.priority(), s.dirty_since))
        soonest: float | None = None
        for slot in candidates:
            wait = max(self._earliest(slot, now) - now, self._budget_wait(slot, now))
            if wait <= 0:
                if slot.next_method is Method.POST:
                    self._post_bucket(slot.channel, now).take(now)
                else:
                    self._updates.take(now)
                slot.in_flight = True
                return Turn(slot.key, slot.next_method, slot.priority()), 0.0
            soonest = wait if soonest is None else min(soonest, wait)
        return None, soonest

    def take_post(self, channel: str, now: float) -> float:
        """For a placeholder posted by the caller itself: 0 if it may post now (token taken), else seconds
        to wait before asking again."""
        wait = max(0.0, self.paused_until.get(Method.POST, 0.0) - now)
        bucket = self._post_bucket(channel, now)
        wait = max(wait, bucket.time_until(1.0, now))
        if wait <= 0:
            bucket.take(now)
        return wait
