"""The Slack Web API over HTTP: ``GET`` or ``POST http://127.0.0.1:PORT/api/<method>``.

``server.py`` is what every method shares: the HTTP server, reading parameters from the query string and
form, multipart or JSON bodies, the token check, rate limits and injected faults, and the record of every
call. Each family of methods has a module of its own (``chat.py``, ``conversations.py``, ``identity.py``
for ``auth.test``, ``users.info`` and ``apps.connections.open``, ``files.py`` for ``files.info`` and the downloads
of ``url_private_download``, served by the same server as Slack's file host), and ``WebApi.methods`` is the table
that maps a method name to its handler; a new family adds a module and registers its methods there.
"""

from .server import Call, WebApi

__all__ = ["Call", "WebApi"]
