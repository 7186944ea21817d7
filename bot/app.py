"""Composition root: builds the real clients, wires the parts, runs Socket Mode; `main()` for `python -m bot`.

The only module that reads the environment (through `Settings.from_env`), configures logging, or knows
both `bot` and `handlers`.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import slack_sdk.version
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.conversation.access import Access
from bot.conversation.threads import ThreadRegistry
from bot.errors import ConfigError, ModelError, StartupError
from bot.model.bedrock import make_client
from bot.model.generation import ModelCapabilities, Policy
from bot.ops.check import placeholders
from bot.ops.health import Health, OpsServer, bot_probes
from bot.ops.logs import configure_logging as setup_logging
from bot.ops.metrics import Metrics
from bot.ops.net import unreachable
from bot.ops.observe import ObservedBedrock, ObservedWebClient
from bot.ops.prices import estimate
from bot.ops.recorder import NullRecorder, Recorder
from bot.render.renderer import SlackRenderer
from bot.responder import Identity, Responder
from bot.service import Service
from bot.slack.budget import Budget
from bot.slack.files import FileFetcher
from bot.slack.reader import SlackReader
from bot.slack.socket_mode import SocketConnection, check_slack_sdk
from bot.slack.writer import SlackWriter
from bot.state import StoreError, open_store
from bot.state.leases import LeaseKeeper
from bot.state.store import Store
from bot.surface import Surface
from handlers import make_event_handler, make_stop_handler, register_handlers, routing
from handlers.actions import make_feedback_handler
from handlers.home import make_home_handler

logger = logging.getLogger("bot")

LISTENER_THREADS = 16  # listeners only decide and journal; answers stream in the answer pool
SOCKET_CLOSE_WAIT = 2.0  # seconds shutdown waits for the Socket Mode client to finish closing
EDIT_TIMEOUT = 5.0  # seconds: a chat.update is cheap to redo with newer text, so it never waits long
FINAL_WRITES = 3.0  # seconds of the shutdown grace kept for the last texts to reach Slack


@dataclass
class Bot:
    """The running parts; `close()` shuts them down in order."""

    settings: Settings
    app: App
    client: WebClient
    store: Store
    writer: SlackWriter
    leases: LeaseKeeper
    service: Service
    responder: Responder
    identity: Identity
    handler: Any = None

    def connect(self, socket_handler_factory: Callable[[App, Settings], Any] | None = None) -> None:
        """Resume what the journal holds, then open the Socket Mode connection (returns once connected).
        `socket_handler_factory` is only passed by tests, which run the connection with shorter pings."""
        self.service.resume()
        factory = socket_handler_factory or make_socket_handler
        self.handler = factory(self.app, self.settings)
        try:
            self.handler.connect()
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in ("invalid_auth", "not_authed", "not_allowed_token_type"):
                raise StartupError(f"SLACK_APP_TOKEN was rejected by Slack ({error}): use the app-level token "
                                   "(xapp-…) with the connections:write scope") from None
            raise

    def _close_socket(self) -> None:
        try:
            self.handler.close()
        except Exception:  # closing a broken socket must not block shutdown
            logger.debug("closing the socket failed", exc_info=True)

    def close(self, grace: float | None = None) -> None:
        """Stop receiving, let answers finish for `grace` seconds, then pause the rest (the next start resumes
        them) and keep writing until every last text has landed or the grace is spent."""
        start = time.monotonic()
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        if self.handler is not None:
            # The close frame goes out at once (Slack stops delivering here); the rest of the client's close
            # (close handshake, joining its threads) can take seconds, which must not eat the grace period.
            closing = threading.Thread(target=self._close_socket, name="socket-close", daemon=True)
            closing.start()
            closing.join(SOCKET_CLOSE_WAIT)

        def left() -> float:
            return max(0.0, grace - (time.monotonic() - start))

        self.service.stop_sweeping()
        finished = self.service.pool.drain(max(0.0, left() - FINAL_WRITES))
        if not finished:
            logger.warning("shutting down with answers still in flight; %s",
                           "handing them over to the other processes" if self.store.info.shared
                           else "pausing them for the next start" if self.store.info.durable
                           else "closing them with a note")
            self.responder.stop()
            self.service.pool.drain(left())
        if not self.writer.drain(left()):
            logger.warning("shutting down with %d answer(s) still waiting for Slack", self.writer.pending())
        self.writer.close()
        self.leases.close()
        if self.store.info.durable:
            released = self.leases.release_all()  # queued ones never started: the others (or the next start) take them
            if released:
                logger.info("released %d job(s) this process had not finished", released)
        self.store.close()


def make_socket_handler(app: App, settings: Settings) -> Any:
    """The Socket Mode connection (bot/slack/socket_mode.py says why this client and these ping settings)."""
    return SocketConnection(app, settings.slack_app_token, concurrency=LISTENER_THREADS)


def identify(client: WebClient) -> Identity:
    """auth.test: who the bot is. An `invalid_auth` says which token is wrong."""
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error")
        raise StartupError(f"SLACK_BOT_TOKEN was rejected by Slack ({error}): use the Bot User OAuth Token "
                           "(xoxb-…) of the installed app") from None
    except Exception as exc:  # noqa: BLE001 - e.g. a wrong SLACK_API_URL
        raise StartupError(unreachable("Slack", client.base_url, exc) + " (SLACK_API_URL)") from None
    return Identity(team_id=str(response["team_id"]), bot_user_id=str(response["user_id"]),
                    bot_id=str(response.get("bot_id") or ""))


def open_state(settings: Settings) -> Store:
    try:
        return open_store(settings.state_url, prefix=settings.key_prefix)
    except StoreError as error:
        raise StartupError(f"STATE_URL: {error}") from None


def shared_budget(store: Store, settings: Settings, team_id: str) -> Budget | None:
    """The workspace's Slack budgets in Redis when several processes may write (None: this process alone)."""
    if not store.info.shared:
        return None
    from bot.state.redis import RedisBudget, RedisStore

    assert isinstance(store, RedisStore)
    return RedisBudget(store.client, f"{settings.key_prefix}{team_id}:budget:")


def create_bot(settings: Settings, *, sleep: Callable[[float], Any] | None = None,
               writer_backoff: Callable[[int], float] | None = None, recorder: Recorder | None = None) -> Bot:
    """Wire everything. Tests pass an instant `sleep` and backoff; production passes nothing. `recorder`
    (bot/ops/recorder.py) hears about every answer, Slack call and Bedrock call; by default nobody does."""
    check_slack_sdk(slack_sdk.version.__version__)
    recorder = recorder or NullRecorder()
    # The bot retries Slack calls itself (bot/slack/errors.py says how): slack_sdk's own retry handlers are off,
    # so that there is exactly one retry layer.
    client = ObservedWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, recorder=recorder,
                               timeout=settings.slack_timeout_seconds, retry_handlers=[])
    edit_client = ObservedWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url,
                                    retry_handlers=[], recorder=recorder,
                                    timeout=min(EDIT_TIMEOUT, settings.slack_timeout_seconds))
    identity = identify(client)
    store = open_state(settings)
    budget = shared_budget(store, settings, identity.team_id)
    renderer = SlackRenderer()
    backoff: dict[str, Any] = {"backoff": writer_backoff} if writer_backoff else {}
    reader = SlackReader(client, budget=budget, reads_per_minute=settings.slack_reads_per_minute,
                         read_burst=settings.slack_read_burst, **backoff)
    writer = SlackWriter(client, edit_client, reader, renderer, interval=settings.update_interval_seconds,
                         edits_per_minute=settings.slack_edits_per_minute, edit_burst=settings.slack_edit_burst,
                         posts_per_second=settings.slack_posts_per_second, post_burst=settings.slack_post_burst,
                         retry_seconds=settings.slack_retry_seconds, shared=budget,
                         mode=settings.streaming_mode, streams_per_minute=settings.slack_streams_per_minute,
                         stream_burst=settings.slack_stream_burst, appends_per_minute=settings.slack_appends_per_minute,
                         append_burst=settings.slack_append_burst, **backoff)
    surface = Surface(settings, store, writer)
    try:
        model = ObservedBedrock(make_client(region=settings.aws_region,
                                            read_timeout=settings.bedrock_read_timeout_seconds,
                                            max_pool_connections=settings.max_concurrent_answers + 8), recorder)
    except ModelError:
        raise StartupError("no AWS Region is configured: set AWS_REGION (for example us-east-1) or "
                           "AWS_DEFAULT_REGION") from None
    registry = ThreadRegistry(store)
    policy = Policy(max_continuations=settings.max_continuations, max_attempts=settings.bedrock_max_attempts,
                    stream_retries=settings.bedrock_stream_retries,
                    max_output_tokens=settings.max_answer_output_tokens, guardrail=guardrail_config(settings),
                    **({"sleep": sleep} if sleep else {}))
    access = Access(settings, store, user_team=reader.user_team)
    leases = LeaseKeeper(store, owner=f"{os.getpid()}-{uuid.uuid4().hex[:8]}", lease=settings.lease_seconds)
    responder = Responder(settings=settings, store=store, leases=leases, reader=reader, writer=writer, model=model,
                          capabilities=ModelCapabilities(store), registry=registry, access=access,
                          identity=identity, join_markdown=renderer.join, policy=policy, recorder=recorder,
                          cost=lambda usage: estimate(settings.bedrock_model_id, usage, settings.bedrock_prices),
                          files=FileFetcher(token=settings.slack_bot_token, api_url=settings.slack_api_url,
                                            timeout=settings.file_download_timeout_seconds,
                                            max_bytes=settings.file_download_max_mb * 10**6,
                                            file_info=reader.file_info),
                          titles=surface.set_title,
                          trigger_of=lambda message, request: routing.trigger_of(
                              message, channel=request.channel, channel_type=request.channel_type,
                              team_id=request.team_id, bot_user_id=identity.bot_user_id, bot_id=identity.bot_id))
    service = Service(store=store, responder=responder, access=access, leases=leases,
                      workers=settings.max_concurrent_answers, max_queued=settings.max_queued_answers)
    # process_before_response: the listener (route + journal, a few ms) runs before the event is acknowledged,
    # so an event is acknowledged only once it is recorded; if the store fails, Slack delivers it again.
    # ignoring_self_events_enabled=False: Bolt would drop the `message_deleted` event of the bot's own reply
    # (its user is the bot's), which is how a deleted reply stops its answer at once; handlers/routing.py
    # ignores the bot's own messages and edits itself.
    app = App(client=client, token_verification_enabled=False, process_before_response=True,
              ignoring_self_events_enabled=False,
              listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="listener"))
    handle = make_event_handler(lambda request, event_id: service.accept(request, event_id=event_id),
                                team_id=identity.team_id, bot_user_id=identity.bot_user_id, bot_id=identity.bot_id,
                                deleted=lambda d: writer.deleted(d.channel, d.ts))
    register_handlers(
        app, handle, home=make_home_handler(surface.offer_prompts, team_id=identity.team_id),
        feedback=make_feedback_handler(lambda who, click, thread: surface.feedback(who, click, thread_ts=thread),
                                       team_id=identity.team_id),
        stop=make_stop_handler(writer.stream_stopped))
    writer.start()
    leases.start()
    service.start_sweeping(settings.lease_seconds / 3)
    return Bot(settings=settings, app=app, client=client, store=store, writer=writer, leases=leases,
               service=service, responder=responder, identity=identity)


def guardrail_config(settings: Settings) -> dict[str, str] | None:
    """Bedrock's `guardrailConfig` for every ConverseStream call, or None without BEDROCK_GUARDRAIL_ID."""
    if not settings.bedrock_guardrail_id:
        return None
    return {"guardrailIdentifier": settings.bedrock_guardrail_id,
            "guardrailVersion": settings.bedrock_guardrail_version,
            "streamProcessingMode": settings.bedrock_guardrail_stream_mode}


def configure_logging(level: str, fmt: str = "text") -> None:
    """Text or JSON lines on stderr; the libraries' own chatter held back below DEBUG (bot/ops/logs.py)."""
    setup_logging(level, fmt)


def main(env: dict[str, str] | None = None) -> int:
    """`python -m bot`: load `.env`, validate settings, connect, serve until SIGTERM/SIGINT."""
    from dotenv import find_dotenv, load_dotenv

    load_dotenv(find_dotenv(usecwd=True), override=False)  # .env of the working directory; environment wins
    environ = env if env is not None else os.environ
    try:
        settings = Settings.from_env(environ)
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2
    for problem in placeholders(environ):
        print(f"config error: {problem}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    metrics = Metrics() if settings.metrics_port is not None else None
    health = Health()
    server: OpsServer | None = None
    try:
        if metrics is not None and settings.metrics_port is not None:
            server = OpsServer(settings.metrics_host, settings.metrics_port, health, metrics.render).start()
        bot = create_bot(settings, recorder=metrics)
        if metrics is not None:
            metrics.watch(bot.service.pool.counts, lambda: len(bot.store.jobs()))
        bot.connect()
    except StartupError as error:
        print(f"startup error: {error}", file=sys.stderr)
        if server is not None:
            server.close()
        return 2
    health.attach(*bot_probes(bot))
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        logger.info("received %s; shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    logger.info("connected as %s in %s; model %s", bot.identity.bot_user_id, bot.identity.team_id,
                settings.bedrock_model_id)
    # Wake up now and then: a signal handler only runs when the main thread does, and the kernel may deliver
    # SIGTERM to any of the bot's threads, which would leave a plain wait() asleep for good.
    while not stop.wait(0.5):
        pass
    health.stopping()
    bot.close()
    if server is not None:
        server.close()
    logger.info("stopped")
    return 0
