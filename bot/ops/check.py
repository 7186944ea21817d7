"""`python -m bot check`: is everything in place for the bot to work? One line per check, ✓ or ✗ with the fix.

Exit status 0 when every check passes, 1 when any fails, 2 when the configuration itself cannot be read (the
same one line `python -m bot` prints). Every check runs even after one failed, so one run lists every fix.

What it looks at, in order: the configuration (also values still equal to `.env.example`'s placeholders); the
bot token (`auth.test`) and the scopes it was granted (Slack's `x-oauth-scopes` header) against what the
features need (`bot.ops.scopes`); the app token and Socket Mode (`apps.connections.open`: a WebSocket URL is
handed out, and not used); the state store (`STATE_URL`); AWS credentials (which source) and the Region; the
model, with a 1-token `Converse` call (access denied, unknown model or wrong Region, throttled, or fine) and
two more 1-token calls that learn whether it accepts prefill and cache points (kept in the state store, so
the bot does not pay for the lesson again); and the guardrail, if one is configured.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import VARIABLES, Settings
from bot.errors import ConfigError, Kind, ModelError
from bot.model import bedrock
from bot.model.generation import CACHE_POINT, ModelCapabilities
from bot.ops import scopes
from bot.ops.net import cause, unreachable
from bot.state import StoreError, open_store
from bot.state.store import Store

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
PROBE = [{"role": "user", "content": [{"text": "Reply with the word OK."}]}]
PREFILL = [*PROBE, {"role": "assistant", "content": [{"text": "O"}]}]


@dataclass(frozen=True)
class Result:
    ok: bool
    name: str
    detail: str

    def line(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.name}: {self.detail}"


def placeholders(env: Mapping[str, str], example: Path = EXAMPLE) -> list[str]:
    """Settings still equal to the value `.env.example` gives them (`xoxb-...`): one problem each."""
    if not example.is_file():
        return []
    known = {var.name for var in VARIABLES}
    problems = []
    for line in example.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if line.startswith("#") or not sep or not value.strip() or name.strip() not in known:
            continue
        if (env.get(name.strip()) or "").strip() == value.strip():
            problems.append(f"{name.strip()} still holds the placeholder of .env.example ({value.strip()}): "
                            f"replace it with the real value (README, Setting up Slack)")
    return problems


class Checks:
    """The checks, run against real Slack, AWS and the state store (the tests point them at the fakes)."""

    def __init__(self, settings: Settings, env: Mapping[str, str]) -> None:
        self.settings = settings
        self.env = env
        self.store: Store | None = None
        self.auth_ok = False
        self.granted: str | None = None
        self.model_ok = False
        self._bedrock: Any = None

    def all(self) -> list[Callable[[], Result]]:
        return [self.configuration, self.bot_token, self.bot_scopes, self.socket_mode, self.state_store,
                self.aws_credentials, self.aws_region, self.model, self.model_features, self.guardrail]

    # -- configuration -------------------------------------------------------------------------------------
    def configuration(self) -> Result:
        problems = placeholders(self.env)
        if problems:
            return Result(False, "configuration", "; ".join(problems))
        return Result(True, "configuration", f"{len(VARIABLES)} settings read and valid")

    # -- Slack -------------------------------------------------------------------------------------------
    def _client(self, token: str) -> WebClient:
        return WebClient(token=token, base_url=self.settings.slack_api_url, retry_handlers=[],
                         timeout=self.settings.slack_timeout_seconds)  # type: ignore[arg-type]

    def bot_token(self) -> Result:
        name = "Slack bot token (auth.test)"
        try:
            response = self._client(self.settings.slack_bot_token).auth_test()
        except SlackApiError as exc:
            error = exc.response.get("error")
            return Result(False, name, f"refused ({error}): set SLACK_BOT_TOKEN to the Bot User OAuth Token "
                                       "(xoxb-…) under OAuth & Permissions of the installed app")
        except Exception as exc:  # noqa: BLE001 - unreachable: say where and why
            return Result(False, name, unreachable("Slack", self.settings.slack_api_url, exc)
                          + ": check SLACK_API_URL and the network (proxy, DNS, firewall)")
        self.auth_ok = True
        headers = {str(k).lower(): str(v) for k, v in (response.headers or {}).items()}
        self.granted = headers.get("x-oauth-scopes")
        return Result(True, name, f"bot {response.get('user')} ({response.get('user_id')}) in "
                                  f"{response.get('team')} ({response.get('team_id')})")

    def bot_scopes(self) -> Result:
        name = "Slack scopes"
        if not self.auth_ok:
            return Result(False, name, "not checked: needs a bot token Slack accepts")
        if self.granted is None:
            return Result(False, name, "Slack did not say which scopes the token has (no x-oauth-scopes header)")
        lacking = scopes.missing(self.granted)
        if lacking:
            listed = ", ".join(f"{scope} ({why})" for scope, why in lacking.items())
            return Result(False, name, f"missing {listed}: add them under OAuth & Permissions → Bot Token Scopes "
                                       "(or paste manifest.json again), then reinstall the app")
        have = {scope.strip() for scope in self.granted.split(",")}
        extra = [f"{scope} ({why})" for scope, why in scopes.optional_scopes().items() if scope not in have]
        note = f"; optional, not granted: {', '.join(extra)} — paste manifest.json again and reinstall to add it" \
            if extra else ""
        return Result(True, name, f"all {len(scopes.needed_scopes())} the bot needs are granted{note}")

    def socket_mode(self) -> Result:
        name = "Slack app token and Socket Mode (apps.connections.open)"
        try:
            response = self._client(self.settings.slack_app_token).apps_connections_open(
                app_token=self.settings.slack_app_token)
        except SlackApiError as exc:
            error = exc.response.get("error")
            fix = {
                "invalid_auth": "set SLACK_APP_TOKEN to an app-level token (xapp-…) of this app: Basic "
                                "Information → App-Level Tokens",
                "not_authed": "set SLACK_APP_TOKEN to an app-level token (xapp-…)",
                "not_allowed_token_type": "SLACK_APP_TOKEN must be an app-level token (xapp-…), not a bot or user "
                                          "token",
                "missing_scope": "give the app-level token the connections:write scope (Basic Information → "
                                 "App-Level Tokens), or generate a new one with it",
            }.get(str(error), "turn on Socket Mode under Settings → Socket Mode, with an app-level token that "
                              "has connections:write")
            return Result(False, name, f"refused ({error}): {fix}")
        except Exception as exc:  # noqa: BLE001
            return Result(False, name, unreachable("Slack", self.settings.slack_api_url, exc))
        url = str(response.get("url") or "")
        if not url.startswith(("wss://", "ws://")):
            return Result(False, name, "Slack gave no WebSocket URL: turn on Socket Mode under Settings → Socket Mode")
        return Result(True, name, "on: Slack handed out a WebSocket URL (not connected)")

    # -- state ---------------------------------------------------------------------------------------------
    def state_store(self) -> Result:
        name = "state store (STATE_URL)"
        try:
            store = open_store(self.settings.state_url)
            store.ping()
        except StoreError as exc:
            if "in use by another bot process" in str(exc):  # a running bot holds the SQLite file: it works
                return Result(True, name, f"{exc}".split(";")[0] + " (reachable; the check learns nothing into it)")
            return Result(False, name, f"{exc}: fix STATE_URL (README, Configuration)")
        except ValueError as exc:
            return Result(False, name, str(exc))
        self.store = store
        info = store.info
        where = f" {info.location}" if info.location else ""
        kind = "durable" if info.durable else "kept in memory only: nothing survives a restart"
        return Result(True, name, f"{info.name}{where} ({kind})")

    # -- AWS --------------------------------------------------------------------------------------------
    def aws_credentials(self) -> Result:
        name = "AWS credentials"
        source, _region = bedrock.aws_facts(self.settings.aws_region)
        if source is None:
            return Result(False, name, "none found: give the process a role (task, instance or pod role), "
                                       "AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
        return Result(True, name, f"found in {source}")

    def aws_region(self) -> Result:
        name = "AWS Region"
        _source, region = bedrock.aws_facts(self.settings.aws_region)
        if not region:
            return Result(False, name, "none: set AWS_REGION (for example us-east-1)")
        origin = "AWS_REGION" if self.settings.aws_region else (
            "AWS_DEFAULT_REGION" if self.env.get("AWS_DEFAULT_REGION") else "the AWS profile")
        return Result(True, name, f"{region} (from {origin})")

    def _client_bedrock(self) -> Any:
        if self._bedrock is None:
            self._bedrock = bedrock.make_client(region=self.settings.aws_region, read_timeout=30.0,
                                                max_pool_connections=2)
        return self._bedrock

    def _converse(self, messages: list[dict[str, Any]], **extra: Any) -> Mapping[str, Any]:
        request = {"modelId": self.settings.bedrock_model_id, "messages": messages,
                   "inferenceConfig": {"maxTokens": 1}, **extra}
        return bedrock.converse(self._client_bedrock(), request)

    def model(self) -> Result:
        model_id = self.settings.bedrock_model_id
        name = f"Bedrock model {model_id}"
        started = time.monotonic()
        try:
            self._converse(PROBE)
        except ModelError as error:
            return Result(False, name, self._model_fix(error))
        self.model_ok = True
        return Result(True, name, f"answers (a 1-token Converse call took {time.monotonic() - started:.2f} s)")

    def _model_fix(self, error: ModelError) -> str:
        said = f"{error.code}: {error.detail}" if error.detail else error.code
        if error.kind is Kind.ACCESS_DENIED:
            return (f"access denied ({said}): allow bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream "
                    "on the inference profile and its foundation models for this identity (README, Setting up "
                    "AWS); a first use of an Anthropic model may need its use-case form in the Bedrock console")
        if error.kind is Kind.MODEL_NOT_FOUND:
            return (f"unknown model id or wrong Region ({said}): check BEDROCK_MODEL_ID and AWS_REGION (the "
                    "inference profile must exist in that Region, e.g. us.… profiles in US Regions)")
        if error.kind is Kind.THROTTLED:
            return (f"throttled ({said}): the model is reachable and allowed but over its quota right now; try "
                    "again, or ask for a higher quota (Service Quotas → Amazon Bedrock)")
        if error.kind is Kind.CREDENTIALS:
            return f"AWS refused the credentials ({said}): renew them or fix the role"
        if error.kind in (Kind.CONNECTION, Kind.TIMEOUT):
            return f"cannot reach Bedrock ({said}): check the network and AWS_REGION"
        return f"Bedrock refused the call ({said})"

    def model_features(self) -> Result:
        name = "model features"
        if not self.model_ok:
            return Result(False, name, "not checked: needs a model that answers")
        model_id = self.settings.bedrock_model_id
        found: dict[str, bool] = {}
        for feature, messages, extra in (("prefill", PREFILL, {}),
                                         ("cache points", PROBE, {"system": [{"text": "Be brief."}, CACHE_POINT]})):
            try:
                self._converse(messages, **extra)
                found[feature] = True
            except ModelError as error:
                if error.kind not in (Kind.PREFILL_REJECTED, Kind.CACHE_REJECTED):
                    return Result(False, name, f"could not learn whether it accepts {feature}: "
                                               + self._model_fix(error))
                found[feature] = False
        if self.store is not None:  # learned once: the bot reads the same memory and does not ask again
            caps = ModelCapabilities(self.store)
            if not found["prefill"]:
                caps.reject_prefill(model_id)
            if not found["cache points"]:
                caps.reject_cache(model_id)
        prefill = "yes (continues long answers by prefill)" if found["prefill"] else \
            "no (continues long answers with a user turn)"
        cache = "yes (follow-ups read the history from the prompt cache)" if found["cache points"] else \
            "no (no prompt caching)"
        return Result(True, name, f"prefill {prefill}; cache points {cache}")

    def guardrail(self) -> Result:
        name = "Bedrock guardrail"
        s = self.settings
        if not s.bedrock_guardrail_id:
            return Result(True, name, "none configured (BEDROCK_GUARDRAIL_ID unset)")
        label = f"{s.bedrock_guardrail_id} version {s.bedrock_guardrail_version}"
        if not self.model_ok:
            return Result(False, name, f"{label} not checked: needs a model that answers")
        config = {"guardrailIdentifier": s.bedrock_guardrail_id, "guardrailVersion": s.bedrock_guardrail_version}
        try:
            self._converse(PROBE, guardrailConfig=config)
        except ModelError as error:
            if "guardrail" in error.detail.lower():
                return Result(False, name, f"{label}: {error.detail} Check BEDROCK_GUARDRAIL_ID and "
                                           "BEDROCK_GUARDRAIL_VERSION, and that the guardrail lives in this Region")
            return Result(False, name, f"{label}: {self._model_fix(error)}")
        return Result(True, name, f"{label} exists and is applied ({s.bedrock_guardrail_stream_mode} stream mode)")


def run(env: Mapping[str, str], out: TextIO = sys.stdout) -> int:
    """Run every check; print one line each and a summary; return the exit status."""
    try:
        settings = Settings.from_env(env)
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2
    checks = Checks(settings, env)
    failed = 0
    try:
        for check in checks.all():
            try:
                result = check()
            except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
                result = Result(False, check.__name__, f"the check itself failed ({type(exc).__name__}: "
                                                       f"{cause(exc)})")
            failed += not result.ok
            print(result.line(), file=out, flush=True)
    finally:
        if checks.store is not None:
            checks.store.close()
    total = len(checks.all())
    print(f"{total - failed} of {total} checks passed" if failed else f"all {total} checks passed", file=out)
    return 1 if failed else 0
