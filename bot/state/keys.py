"""The store's keys, one function per kind of fact; every key starts with the workspace id (pure)."""

from __future__ import annotations

DAY = 24 * 3600.0
EVENT_TTL = DAY  # Slack redelivers an unacknowledged event within minutes (three times at most)
MESSAGE_TTL = 30 * DAY  # an edited mention is re-sent with the same ts, whenever it is edited
THREAD_TTL = 30 * DAY  # "this thread was started for the bot"
CAPABILITY_TTL = 7 * DAY  # what a model id accepts (prefill, cache points)
REFUSAL_TTL = 7 * DAY  # "this person was already told once here"


def event(team: str, event_id: str) -> str:
    return f"{team}:event:{event_id}"


def message(team: str, channel: str, ts: str) -> str:
    return f"{team}:message:{channel}:{ts}"


def thread(team: str, channel: str, thread_ts: str) -> str:
    return f"{team}:thread:{channel}:{thread_ts}"


def refusal(team: str, where: str, user: str, reason: str) -> str:
    return f"{team}:refused:{where}:{user}:{reason}"


def rate(team: str, user: str) -> str:
    """The counter of one person's questions in the current minute."""
    return f"{team}:rate:{user}"


def capability(model_id: str, feature: str) -> str:
    return f"model:{model_id}:{feature}"


def job_id(team: str, channel: str, ts: str) -> str:
    """The answer id of the message `ts` in `channel` (also written into the answer's message marks)."""
    return f"{team}-{channel}-{ts}"


FEEDBACK_TTL = 90 * DAY  # feedback counts of an answer
PROMPTS_TTL = 3600.0  # suggested prompts were set in this conversation lately


def feedback(team: str, answer_id: str, kind: str) -> str:
    """The counter of one kind of feedback (positive, negative) on one answer."""
    return f"{team}:feedback:{answer_id}:{kind}"


def prompts(team: str, channel: str) -> str:
    """"Suggested prompts were set in this DM lately" (set again at most once per PROMPTS_TTL)."""
    return f"{team}:prompts:{channel}"
