# The bot as a container: python -m bot, as a non-root user, with a health check when METRICS_PORT is set.
#   docker build -t slack-bedrock-bot .
#   docker run --rm --env-file .env slack-bedrock-bot python -m bot check
#   docker run -d --env-file .env -e METRICS_PORT=9100 -e METRICS_HOST=0.0.0.0 slack-bedrock-bot
# Every dependency is a pure-Python wheel, so no compiler is needed; the build stage only keeps pip and its
# caches out of the final image.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-compile -r /tmp/requirements.txt \
    && /opt/venv/bin/pip uninstall -y pip setuptools wheel \
    && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STATE_URL=sqlite:////data/bot-state.db
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --home-dir /app --no-create-home --shell /usr/sbin/nologin bot \
    && mkdir -p /data && chown bot:bot /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root bot/ bot/
COPY --chown=root:root handlers/ handlers/
COPY --chown=root:root manifest.json .env.example ./
USER bot:bot
VOLUME ["/data"]
# /healthz when METRICS_PORT is set (200 while connected and its threads run, else 503); nothing to check
# otherwise. METRICS_HOST must then be 0.0.0.0 (or 127.0.0.1) for the probe inside the container to reach it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os,sys,urllib.request as u;p=os.environ.get('METRICS_PORT');sys.exit(0) if not p else u.urlopen(f'http://127.0.0.1:{p}/healthz',timeout=4)"]
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
