"""``auth.test``, ``users.info`` and ``apps.connections.open``: who the app is, who a user is, and where
the app connects for Socket Mode.
"""

from __future__ import annotations

import copy
from typing import Any

from ..socket_mode import SocketModeServer
from ..workspace import BOT_ID, BOT_USER_ID, TEAM_ID, Json, Workspace, opt_str
from .request import Method, err


class Identity:
    """The small methods about identities and connections."""

    def __init__(self, workspace: Workspace, socket_mode: SocketModeServer) -> None:
        self._workspace = workspace
        self._socket_mode = socket_mode

    def methods(self) -> dict[str, Method]:
        """This family's part of the method table."""
        return {
            "auth.test": self.auth_test,
            "apps.connections.open": self.connections_open,
            "users.info": self.users_info,
        }

    def auth_test(self, params: dict[str, Any]) -> Json:
        """auth.test: who the token belongs to."""
        return {
            "ok": True,
            "url": "https://fake-team.slack.com/",
            "team": "Fake Team",
            "user": "bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def connections_open(self, params: dict[str, Any]) -> Json:
        """apps.connections.open: a Socket Mode URL with a fresh ticket."""
        return {"ok": True, "url": self._socket_mode.ticket_url_locked()}

    def users_info(self, params: dict[str, Any]) -> Json:
        """users.info: a user with a profile."""
        user = self._workspace.users.get(opt_str(params.get("user")) or "")
        if user is None:
            return err("user_not_found")
        out = copy.deepcopy(user)
        out["profile"] = {
            "real_name": user["real_name"],
            "display_name": user["name"],
            "team": user["team_id"],
        }
        return {"ok": True, "user": out}
