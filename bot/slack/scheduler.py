"""Who may write to Slack next (pure; the clock is passed in as `now`).

One `Scheduler` per workspace owns the budgets of every Slack write the bot makes for answers:
`chat.update` (Tier 3: about 50 a minute for the whole workspace) and `chat.postMessage` (about one a
second per channel). Answers don't call Slack themselves; they mark themselves dirty and the scheduler
hands out turns, one call at a time:

* priority: an answer's FINAL text, then its PLACEHOLDER (the first sign that the bot is working), then its
  FIRST visible text, then INTERIM edits;
* within a priority, the answer that has waited longest goes first (fair share, no starvation);
* an interim edit of one reply happens at most once per `interval`; first and interim edits only spend
  update tokens above a reserve of one per answer still streaming (up to the burst), so under load the
  placeholder may stay until the final text rather than delay someone's final text — unless an answer
  has shown nothing new for `STARVED_AFTER` seconds (long answers under load still move);
* a 429 pauses that method for everyone until its Retry-After has passed (a 429 on a post pauses posts in
  that channel only: the post budget is per channel);
* an answer has at most one call in flight (one writer per message, so edits never overtake each other), and
  a method has at most `max_in_flight` (so one slow call delays only its own answer, and a 429 is known
  before many more calls of its method are sent);
* the budgets run a little below the rates they are given (`SAFETY`), so that clock and network skew between
  the bot and Slack never make a call arrive a hair too early;
* with several processes, a shared budget (`bot.slack.budget`, in Redis) has the last word: the caller asks it
  about each turn granted here (`Turn.shared`: the bucket and how many tokens must be there — first and
  interim edits leave the last tokens to finals, across processes) *outside* its lock, and if the workspace
  has no token, `denied` takes the turn back and holds that bucket here for as long as the shared one says.

Two routes (`Route`): EDIT (a placeholder, then `chat.update`; posts for further messages) and NATIVE
(Slack's streams: `chat.startStream` creates a message, `chat.appendStream` adds to it, `chat.stopStream`
finishes it; Tier 2, Tier 4 and Tier 2). An answer whose route is not decided yet (`STREAMING_MODE=auto`) gets
it when its first message is created: NATIVE while the start budget has a token to spare (and neither start
nor stop is paused), EDIT otherwise. Native answers leave the update budget (and its reserve for finals) to
the edit answers, so both budgets add up. `assistant.threads.setStatus` (a DM's "thinking" status) has a
per-channel budget like posts; the one-off calls (`chat.postEphemeral`, thread titles, suggested prompts) take
from their own buckets with `take`.

Coalescing is implicit: a turn writes the answer's latest text, whatever it was when it became dirty.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

STARVED_AFTER = 20.0
SAFETY = 0.9  # fraction of Slack's nominal rate the buckets refill at
MAX_IN_FLIGHT = 4  # calls of one method at once, for all answers


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
    PLACEHOLDER = 1
    FIRST = 2
    INTERIM = 3


class Method(enum.Enum):
    UPDATE = "chat.update"
    POST = "chat.postMessage"
    DELETE = "chat.delete"
    START = "chat.startStream"
    APPEND = "chat.appendStream"
    STOP = "chat.stopStream"
    STATUS = "assistant.threads.setStatus"
    EPHEMERAL = "chat.postEphemeral"
    TITLE = "assistant.threads.setTitle"
    PROMPTS = "assistant.threads.setSuggestedPrompts"


class Route(enum.Enum):
    EDIT = "edit"
    NATIVE = "native"


PER_CHANNEL = frozenset({Method.POST, Method.STATUS})  # budgets Slack keeps per channel
OPENING = frozenset({Method.POST, Method.START})  # calls that create an answer's first message
# the one-off calls: (per minute, burst) — Tier 4 for ephemeral messages; Tier 3 for titles and prompts (Slack's
# docs say Tier 4 for these two, its Java SDK Tier 3: the lower one is taken)
SIDE_BUDGETS: dict[Method, tuple[float, int]] = {Method.EPHEMERAL: (100.0, 20), Method.TITLE: (50.0, 10),
                                                 Method.PROMPTS: (50.0, 10)}


@dataclass
class Slot:
    """The scheduler's view of one answer."""

    key: str
    channel: str
    dirty: bool = False
    final: bool = False
    shown: bool = False  # some model text is visible in Slack
    posted: bool = True  # its first message exists in Slack (False until the placeholder is posted)
    in_flight: bool = False
    dirty_since: float = 0.0
    last_write: float = float("-inf")
    not_before: float = 0.0  # backoff after a failed call
    next_method: Method = Method.UPDATE
    marks: int = 0  # how often it was marked dirty; lets a finished call see marks that came during it
    flying: Method | None = None  # the method of its call in flight
    route: Route | None = Route.EDIT  # None: decided when its first message is created (auto)

    def priority(self) -> Priority:
        if self.final:
            return Priority.FINAL
        if not self.posted:
            return Priority.PLACEHOLDER
        return Priority.INTERIM if self.shown else Priority.FIRST


@dataclass(frozen=True)
class Turn:
    """A call the writer may make now. `replace`: the final text of an answer whose placeholder never
    showed text goes out as a new message (post budget) because the update budget is exhausted; the
    placeholder is deleted afterwards (its own budget). This is how finals beat the chat.update floor."""

    key: str
    method: Method
    priority: Priority
    replace: bool = False
    shared: tuple[str, float, float, float] | None = None  # (bucket, rate, burst, need) to ask the shared budget
    decided: bool = False  # this turn chose the answer's route (auto): a denied turn leaves it open again


@dataclass
class Scheduler:
    """Decides the next Slack write. All methods take `now` (monotonic seconds)."""

    interval: float
    edits_per_minute: float
    edit_burst: int
    posts_per_second: float
    post_burst: int
    now: float = 0.0
    max_in_flight: int = MAX_IN_FLIGHT
    shared: bool = False  # several processes share the budgets: turns carry what to ask the shared budget
    streams_per_minute: float = 20.0  # chat.startStream and chat.stopStream, each (Tier 2)
    stream_burst: int = 5
    appends_per_minute: float = 100.0  # chat.appendStream (Tier 4)
    append_burst: int = 20
    slots: dict[str, Slot] = field(default_factory=dict)
    # (method, channel) -> until when a 429 pauses it; channel is "" except for posts (a per-channel budget)
    paused_until: dict[tuple[Method, str], float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rate = self.edits_per_minute / 60.0 * SAFETY
        self._updates = TokenBucket(rate, self.edit_burst, self.now)
        self._deletes = TokenBucket(rate, self.edit_burst, self.now)  # also Tier 3
        self._posts: dict[str, TokenBucket] = {}
        self._statuses: dict[str, TokenBucket] = {}
        stream_rate = self.streams_per_minute / 60.0 * SAFETY
        self._starts = TokenBucket(stream_rate, self.stream_burst, self.now)
        self._stops = TokenBucket(stream_rate, self.stream_burst, self.now)
        self._appends = TokenBucket(self.appends_per_minute / 60.0 * SAFETY, self.append_burst, self.now)
        self._side = {m: TokenBucket(rate / 60.0 * SAFETY, burst, self.now)
                      for m, (rate, burst) in SIDE_BUDGETS.items()}
        self._flying: dict[Method, int] = {}
        self._held: dict[str, float] = {}  # shared bucket key -> until when the shared budget said to wait

    # -- bookkeeping ----------------------------------------------------------------------------------
    def add(self, key: str, channel: str, *, posted: bool = True, route: Route | None = Route.EDIT) -> None:
        self.slots[key] = Slot(key, channel, posted=posted, route=route)

    def remove(self, key: str) -> None:
        slot = self.slots.pop(key, None)
        if slot is not None:
            self._land(slot)

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
        self._land(slot)
        slot.last_write = now
        slot.posted = True
        slot.shown = slot.shown or shown
        slot.dirty = more is not None or slot.marks != marks
        if slot.dirty:
            slot.dirty_since = now
        if more is not None:
            slot.next_method = more

    def refund(self, method: Method, channel: str, now: float) -> tuple[str, float, float] | None:
        """Give back the token of a turn that made no call; returns the shared bucket to give it back to too."""
        bucket = self._bucket(method, channel, now)
        bucket.give(now)
        return (self._key(method, channel), bucket.rate, bucket.burst) if self.shared else None

    @staticmethod
    def _key(method: Method, channel: str) -> str:
        """The shared budget's name of a method's bucket (posts and statuses have one per channel)."""
        if method is Method.POST:
            return f"post:{channel}"
        if method is Method.STATUS:
            return f"status:{channel}"
        return {Method.UPDATE: "update", Method.DELETE: "delete", Method.START: "start", Method.STOP: "stop",
                Method.APPEND: "append", Method.EPHEMERAL: "ephemeral", Method.TITLE: "title",
                Method.PROMPTS: "prompts"}[method]

    def _bucket(self, method: Method, channel: str, now: float) -> TokenBucket:
        if method is Method.POST:
            return self._post_bucket(channel, now)
        if method is Method.STATUS:
            bucket = self._statuses.get(channel)
            if bucket is None:
                bucket = self._statuses[channel] = TokenBucket(self.posts_per_second * SAFETY, self.post_burst, now)
            return bucket
        if method in self._side:
            return self._side[method]
        return {Method.DELETE: self._deletes, Method.UPDATE: self._updates, Method.START: self._starts,
                Method.STOP: self._stops, Method.APPEND: self._appends}[method]

    def failed(self, key: str, now: float, *, retry_in: float) -> None:
        slot = self.slots[key]
        self._land(slot)
        slot.not_before = now + retry_in

    def _land(self, slot: Slot) -> None:
        slot.in_flight = False
        if slot.flying is not None:
            self._flying[slot.flying] = max(0, self._flying.get(slot.flying, 0) - 1)
            slot.flying = None

    def pause(self, method: Method, until: float, channel: str = "") -> str:
        """A 429: nobody calls `method` before `until` (posts: in `channel` only). Returns the shared bucket's name,
        for the caller to pause it in every process too."""
        key = (method, channel if method in PER_CHANNEL else "")
        self.paused_until[key] = max(self.paused_until.get(key, 0.0), until)
        return self._key(method, channel)

    def _paused(self, method: Method, channel: str, now: float) -> float:
        """Seconds until `method` may be called in `channel` again after a 429 (0 if not paused)."""
        key = (method, channel if method in PER_CHANNEL else "")
        return max(0.0, self.paused_until.get(key, 0.0) - now)

    def _full(self, method: Method) -> bool:
        return self._flying.get(method, 0) >= self.max_in_flight

    def _post_bucket(self, channel: str, now: float) -> TokenBucket:
        bucket = self._posts.get(channel)
        if bucket is None:
            bucket = self._posts[channel] = TokenBucket(self.posts_per_second * SAFETY, self.post_burst, now)
        return bucket

    # -- decisions -------------------------------------------------------------------------------------
    def reserve(self) -> float:
        """Update tokens kept back for the final texts of answers still streaming: one each, up to the
        burst (none for a single answer; with a shared budget, all but one whenever this process streams).
        First and interim edits only spend what is above it, so when many answers finish together their
        finals are not queued behind edits of text about to change anyway."""
        streaming = sum(1 for s in self.slots.values() if not s.final and s.route is not Route.NATIVE)
        if self.shared and streaming:
            # Other processes stream too, and this one cannot count them: first and interim edits take a token
            # only from a full bucket, so under load the workspace's tokens go to final texts (which then land at
            # once, as with one process), while a quiet workspace still shows its answers grow.
            return float(self.edit_burst - 1)
        return 0.0 if streaming <= 1 else float(min(self.edit_burst, streaming))

    def _starved(self, slot: Slot, now: float) -> bool:
        """An answer that has shown nothing new for STARVED_AFTER seconds may spend the reserve too."""
        since = slot.last_write if slot.shown else slot.dirty_since
        return now - since >= STARVED_AFTER

    def _earliest(self, slot: Slot, now: float) -> float:
        """When this slot could be served if budgets allowed (interval and backoff only)."""
        at = slot.not_before
        if slot.priority() is Priority.INTERIM:
            at = max(at, slot.last_write + self.interval)
        return at

    def _need(self, slot: Slot, method: Method, now: float) -> float:
        """Tokens that must be in the bucket for this slot to take one."""
        if method is not Method.UPDATE or slot.priority() is Priority.FINAL:
            return 1.0
        need = 1.0 if self._starved(slot, now) else 1.0 + self.reserve()
        if any(s.final and s.dirty and not s.in_flight and s.next_method is Method.UPDATE
               for s in self.slots.values()):
            need += 1.0  # never take a token a waiting final text needs (e.g. one in backoff)
        return need

    def method(self, slot: Slot, now: float) -> Method:
        """The call this slot would make now: its next method, or, for an answer whose route is still open and
        whose first message is due, the route's opening call (see `stream_room`)."""
        if slot.route is not None or slot.next_method not in OPENING:
            return slot.next_method
        return Method.START if self.stream_room(slot.channel, now) else Method.POST

    def stream_room(self, channel: str, now: float) -> bool:
        """Whether a new native stream may start now: a start token is there (not paused, not held by the shared
        budget, calls of the method not all in flight), and stops are not paused (it will need one)."""
        for method in (Method.START, Method.STOP):
            if self._paused(method, channel, now) > 0 or self._held.get(self._key(method, channel), 0.0) > now:
                return False
        return not self._full(Method.START) and self._starts.time_until(1.0, now) <= 0

    def _budget_wait(self, slot: Slot, now: float) -> float:
        method = self.method(slot, now)
        if self._full(method):
            return float("inf")  # woken when one of those calls lands
        wait = max(self._paused(method, slot.channel, now),
                   self._held.get(self._key(method, slot.channel), 0.0) - now)
        return max(wait, self._bucket(method, slot.channel, now).time_until(self._need(slot, method, now), now))

    def denied(self, turn: Turn, now: float, wait: float) -> None:
        """The shared budget had no token for `turn`: take it back, and hold its bucket here for `wait` seconds."""
        slot = self.slots.get(turn.key)
        assert turn.shared is not None
        bucket_key = turn.shared[0]
        self._held[bucket_key] = max(self._held.get(bucket_key, 0.0), now + wait)
        if slot is not None:
            self._bucket(turn.method, slot.channel, now).give(now)
            self._land(slot)
            if turn.decided:
                slot.route = None

    def next_turn(self, now: float) -> tuple[Turn | None, float | None]:
        """The next call to make now, or (None, seconds to wait) — None seconds when nothing is pending."""
        candidates = [s for s in self.slots.values() if s.dirty and not s.in_flight]
        candidates.sort(key=lambda s: (s.priority(), s.dirty_since))
        soonest: float | None = None
        for slot in candidates:
            wait = max(self._earliest(slot, now) - now, self._budget_wait(slot, now))
            if wait <= 0:
                return self._grant(slot, self.method(slot, now), now), 0.0
            if self._can_replace(slot, now):
                return self._grant(slot, Method.POST, now, replace=True), 0.0
            if wait != float("inf"):
                soonest = wait if soonest is None else min(soonest, wait)
        return None, soonest

    def _grant(self, slot: Slot, method: Method, now: float, *, replace: bool = False) -> Turn:
        bucket = self._bucket(method, slot.channel, now)
        need = self._need(slot, method, now)
        bucket.take(now)
        decided = slot.route is None and method in OPENING
        if decided:
            slot.route = Route.NATIVE if method is Method.START else Route.EDIT
        slot.in_flight = True
        slot.flying = method
        self._flying[method] = self._flying.get(method, 0) + 1
        shared = (self._key(method, slot.channel), bucket.rate, bucket.burst, need) if self.shared else None
        return Turn(slot.key, method, slot.priority(), replace=replace, shared=shared, decided=decided)

    def _can_replace(self, slot: Slot, now: float) -> bool:
        """A final text waiting for the update budget (exhausted or paused by a 429), over a placeholder that
        never showed text, may be posted as a new message if the channel's post budget allows it now."""
        if not (slot.final and not slot.shown and slot.next_method is Method.UPDATE) or slot.not_before > now:
            return False
        if (self._paused(Method.UPDATE, "", now) <= 0 and self._held.get("update", 0.0) <= now
                and self._updates.time_until(1.0, now) <= 0):
            return False  # only an update in flight is in the way: it lands within a round trip
        if self._full(Method.POST) or self._paused(Method.POST, slot.channel, now) > 0:
            return False
        if self._held.get(self._key(Method.POST, slot.channel), 0.0) > now:
            return False  # the workspace's post budget for that channel said to wait
        return self._post_bucket(slot.channel, now).time_until(1.0, now) <= 0

    def take(self, method: Method, channel: str, now: float) -> tuple[float, tuple[str, float, float] | None]:
        """For a one-off call outside the turns (`SIDE_BUDGETS`): (0, shared bucket) if it may be made now (token
        taken; the caller asks the shared budget for that bucket too), else (seconds to wait, None)."""
        bucket = self._bucket(method, channel, now)
        wait = max(self._paused(method, channel, now), self._held.get(self._key(method, channel), 0.0) - now,
                   bucket.time_until(1.0, now))
        if wait > 0:
            return wait, None
        bucket.take(now)
        return 0.0, (self._key(method, channel), bucket.rate, bucket.burst)

    def hold(self, bucket_key: str, now: float, wait: float) -> None:
        """The shared budget had no token for a one-off call's bucket: wait here too."""
        self._held[bucket_key] = max(self._held.get(bucket_key, 0.0), now + wait)

    def take_post(self, channel: str, now: float) -> float:
        """For a post made outside the turns (a thread look-up's repost): 0 if it may post now (token taken),
        else seconds to wait before asking again."""
        wait = self._paused(Method.POST, channel, now)
        bucket = self._post_bucket(channel, now)
        wait = max(wait, bucket.time_until(1.0, now))
        if wait <= 0:
            bucket.take(now)
        return wait
