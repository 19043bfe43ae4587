"""Live video on the server: its network settings (WebRTC without any outside server by default, STUN/TURN
when a deployment sets FER_ICE_SERVERS: docs/deploy.md), and its threads at the lowest CPU priority, so that
a page someone opens beside live videos is not kept waiting for them."""
from __future__ import annotations

import functools
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

from fercore.priority import lower_priority

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


Frame = TypeVar("Frame")
DECODER_THREAD = "video-decoder"  # aiortc's name for each stream's decoding thread
_lowered = threading.local()


def in_background(callback: Callable[[Frame], Frame]) -> Callable[[Frame], Frame]:
    """The video callback for streamlit-webrtc, with every thread that carries live video at the lowest
    CPU priority: the callback's own, aiortc's decoders, and the executor where aiortc encodes. Neither
    library has a setting for this. Beside five live videos on 2 cores, the server took 2.3 times as long
    to show another learner's first quiz face without it, and at most 1.3 times with it (benchmarks/mirror.py)."""
    _encoding_in_background()

    @functools.wraps(callback)
    def lowered(frame: Frame) -> Frame:
        if not getattr(_lowered, "done", False):  # a stream's first frame: its decoder has started
            lower_priority()
            for thread in threading.enumerate():
                if thread.name == DECODER_THREAD:
                    lower_priority(thread.native_id)
            _lowered.done = True
        return callback(frame)

    return lowered


@functools.cache
def _encoding_in_background() -> None:
    """aiortc encodes in the default executor of the event loop it runs on (Streamlit's, here): that
    executor's threads start at the lowest priority. Streamlit's own uses of it (deferred downloads, lazy
    dataframe chunks) are none that this app's pages make."""
    from streamlit_webrtc.eventloop import get_global_event_loop

    loop = get_global_event_loop()
    executor = ThreadPoolExecutor(thread_name_prefix="live-video", initializer=lower_priority)
    loop.call_soon_threadsafe(loop.set_default_executor, executor)
