"""The price table: which rate a model id gets, overrides, and no estimate for a model it does not know."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.errors import ConfigError
from bot.ops.prices import base_model_id, estimate, parse_prices, price_for

USAGE = {"inputTokens": 1_000_000, "outputTokens": 1_000_000, "cacheWriteInputTokens": 1_000_000,
         "cacheReadInputTokens": 1_000_000}


@pytest.mark.parametrize(("model_id", "base", "routing"), [
    ("us.anthropic.claude-sonnet-4-6", "anthropic.claude-sonnet-4-6", "geo"),
    ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5", "global"),
    ("anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic.claude-haiku-4-5", "region"),
    ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/jp.anthropic.claude-sonnet-4-6",
     "anthropic.claude-sonnet-4-6", "geo"),
    ("us.anthropic.claude-opus-4-6-v1", "anthropic.claude-opus-4-6", "geo"),
])
def test_model_ids_are_reduced_to_their_base(model_id: str, base: str, routing: str) -> None:
    assert base_model_id(model_id) == (base, routing)


def test_global_profiles_pay_the_base_rate_and_others_ten_percent_more() -> None:
    # Sonnet 4.6 base: 3 input, 15 output, 3.75 cache write, 0.30 cache read per million tokens
    assert estimate("global.anthropic.claude-sonnet-4-6", USAGE) == pytest.approx(22.05)
    assert estimate("us.anthropic.claude-sonnet-4-6", USAGE) == pytest.approx(22.05 * 1.1)
    assert estimate("anthropic.claude-sonnet-4-6", USAGE) == pytest.approx(22.05 * 1.1)


def test_a_small_answer() -> None:
    usage = {"inputTokens": 812, "outputTokens": 412, "cacheWriteInputTokens": 640, "cacheReadInputTokens": 0}
    expected = (812 * 3.3 + 412 * 16.5 + 640 * 4.125) / 1e6
    assert estimate("us.anthropic.claude-sonnet-4-6", usage) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("model_id", ["us.anthropic.claude-sonnet-5", "amazon.nova-pro-v1:0",
                                      "us.anthropic.claude-3-5-sonnet-20241022-v2:0", "mystery"])
def test_an_unknown_model_gets_no_estimate(model_id: str) -> None:
    assert price_for(model_id) is None
    assert estimate(model_id, USAGE) is None


def test_overrides_win_exact_id_first_then_base_id_and_extend_the_table() -> None:
    table = parse_prices('{"us.anthropic.claude-sonnet-5": {"input": 2, "output": 10, "cache_write": 2.5, '
                         '"cache_read": 0.2}, "anthropic.claude-sonnet-4-6": {"input": 1, "output": 1, '
                         '"cache_write": 1, "cache_read": 1}}')
    assert estimate("us.anthropic.claude-sonnet-5", USAGE, table) == pytest.approx(14.7)
    assert estimate("us.anthropic.claude-sonnet-4-6", USAGE, table) == pytest.approx(4.0)  # taken as given
    assert estimate("global.anthropic.claude-haiku-4-5", USAGE, table) == pytest.approx(7.35)  # built-in


@pytest.mark.parametrize("raw", ["not json", "[1]", '{"m": {"input": 1}}', '{"m": {"input": -1, "output": 1, '
                                 '"cache_write": 1, "cache_read": 1}}', '{"m": {"input": "1", "output": 1, '
                                 '"cache_write": 1, "cache_read": 1}}'])
def test_bad_price_tables_are_a_config_error_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "BEDROCK_PRICES": raw})
    assert caught.value.name == "BEDROCK_PRICES"
