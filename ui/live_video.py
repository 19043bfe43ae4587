"""Live video's network settings: WebRTC without any outside server by default, STUN/TURN when a
deployment sets FER_ICE_SERVERS (docs/deploy.md)."""
from __future__ import annotations

import json
import os

ICE_SERVERS_VARIABLE = "FER_ICE_SERVERS"


class IceServersError(ValueError):
    """FER_ICE_SERVERS is set but is not a JSON list of {"urls": ...} servers."""


def rtc_configuration() -> dict:
    """{"iceServers": []} unless FER_ICE_SERVERS gives servers: with none, browser and server reach each
    other by their own addresses only (this machine, a LAN) and nothing is sent to a third party."""
    raw = os.environ.get(ICE_SERVERS_VARIABLE, "").strip()
    if not raw:
        return {"iceServers": []}
    try:
        servers = json.loads(raw)
    except json.JSONDecodeError:
        servers = None
    if not isinstance(servers, list) or not all(isinstance(s, dict) and s.get("urls") for s in servers):
        raise IceServersError(f'{ICE_SERVERS_VARIABLE} must be a JSON list such as [{{"urls": '
                              f'"stun:stun.example.org:3478"}}]; see docs/deploy.md.')
    return {"iceServers": servers}
