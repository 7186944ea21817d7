"""Estimated cost of an answer in USD, from a small price table per model (USD per million tokens).

The built-in table covers the Claude models whose Bedrock prices were looked up (README, "Cost"); a model it
does not know gets no estimate (None), never a guessed one. `BEDROCK_PRICES` (JSON) overrides or extends it,
keyed by a model id as configured (`us.anthropic.claude-sonnet-4-6`) or by its base id
(`anthropic.claude-sonnet-4-6`); an exact key wins over a base one.

Bedrock bills Claude Sonnet 4.5, Haiku 4.5, Opus 4.5 and later 10% above the base rate when the call goes
through a geographic profile (`us.`, `eu.`, `jp.`, `apac.`, `au.`…) or a Region's own endpoint; the `global.`
profiles pay the base rate. The table holds base rates and `REGIONAL_PREMIUM` names the models it applies to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

FIELDS = ("input", "output", "cache_write", "cache_read")

#: Base (global profile) rates in USD per million tokens: input, output, cache write (5-minute), cache read.
BUILT_IN: dict[str, tuple[float, float, float, float]] = {
    "anthropic.claude-opus-4-6": (5.0, 25.0, 6.25, 0.50),
    "anthropic.claude-opus-4-5": (5.0, 25.0, 6.25, 0.50),
    "anthropic.claude-sonnet-4-6": (3.0, 15.0, 3.75, 0.30),
    "anthropic.claude-sonnet-4-5": (3.0, 15.0, 3.75, 0.30),
    "anthropic.claude-haiku-4-5": (1.0, 5.0, 1.25, 0.10),
}
REGIONAL_PREMIUM = 1.10
PREMIUM_MODELS = frozenset(BUILT_IN)  # every model of the built-in table is of the 4.5 generation or later

_GEO = re.compile(r"^(?:global|us-gov|us|eu|apac|jp|au)\.")
_SUFFIX = re.compile(r"(?:-\d{8})?(?:-v\d+(?::\d+)?)?$")


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float

    def cost(self, usage: Mapping[str, int]) -> float:
        return (usage.get("inputTokens", 0) * self.input + usage.get("outputTokens", 0) * self.output
                + usage.get("cacheWriteInputTokens", 0) * self.cache_write
                + usage.get("cacheReadInputTokens", 0) * self.cache_read) / 1_000_000


def base_model_id(model_id: str) -> tuple[str, str]:
    """(base id, routing) of a model id, profile id or ARN: routing is "global", "geo" (a geographic profile)
    or "region" (a Region's own endpoint). `us.anthropic.claude-sonnet-4-5-20250929-v1:0` →
    (`anthropic.claude-sonnet-4-5`, "geo")."""
    name = model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:") else model_id
    match = _GEO.match(name)
    routing = "region"
    if match:
        routing = "global" if match.group(0) == "global." else "geo"
        name = name[match.end():]
    return _SUFFIX.sub("", name), routing


def parse_prices(raw: str) -> dict[str, dict[str, float]]:
    """Validate `BEDROCK_PRICES`; ValueError saying what is wrong."""
    try:
        table = json.loads(raw)
    except json.JSONDecodeError:
        raise ValueError("not valid JSON") from None
    if not isinstance(table, dict):
        raise ValueError("not a JSON object")
    out: dict[str, dict[str, float]] = {}
    for model, entry in table.items():
        if not isinstance(entry, dict) or set(entry) != set(FIELDS):
            raise ValueError(f"{model}: needs exactly {', '.join(FIELDS)}")
        values = {}
        for key in FIELDS:
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{model}.{key}: not a number of at least 0")
            values[key] = float(value)
        out[str(model)] = values
    return out


def price_for(model_id: str, overrides: Mapping[str, Mapping[str, float]] | None = None) -> Price | None:
    """The price of one call to `model_id`, or None if neither `overrides` nor the built-in table knows it."""
    overrides = overrides or {}
    base, routing = base_model_id(model_id)
    for key in (model_id, base):  # an override is taken as it is: the operator's own figures
        if key in overrides:
            entry = overrides[key]
            return Price(*(float(entry[f]) for f in FIELDS))
    rates = BUILT_IN.get(base)
    if rates is None:
        return None
    factor = REGIONAL_PREMIUM if routing != "global" and base in PREMIUM_MODELS else 1.0
    return Price(*(round(rate * factor, 6) for rate in rates))


def estimate(model_id: str, usage: Mapping[str, int],
             overrides: Mapping[str, Mapping[str, float]] | None = None) -> float | None:
    """Estimated USD of `usage` (Bedrock's usage keys) on `model_id`, rounded to 1/1,000,000 of a dollar; None
    for a model without a known price."""
    price = price_for(model_id, overrides)
    return None if price is None else round(price.cost(usage), 6)
