"""The files the on-device reader loads, served by this app (the package's docstring says why): the
routes the server adds, and the addresses a page gives the component."""
from __future__ import annotations

import gzip
import json
import re
import threading
from collections import OrderedDict
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from fercore import registry
from fercore.faces import DETECTOR_FILE
from fercore.onnx_export import detector_for_reader, export_into

FOLDER = Path(__file__).resolve().parent
RUNTIME = FOLDER / "node_modules" / "onnxruntime-web"
# what reader.js loads of onnxruntime-web: its WebAssembly build alone (no WebGPU, no WebGL)
RUNTIME_FILES = {"ort.wasm.min.mjs": "text/javascript", "ort-wasm-simd-threaded.mjs": "text/javascript",
                 "ort-wasm-simd-threaded.wasm": "application/wasm"}
PREFIX = "/on-device"
KEPT_A_YEAR = "public, max-age=31536000, immutable"
COMPRESSED_KEPT = 4  # files kept compressed in memory: the runtime's three and the active model


class ReaderFilesMissing(RuntimeError):
    """onnxruntime-web is not installed next to reader.js (npm ci was not run)."""


def runtime_version() -> str:
    try:
        return json.loads((RUNTIME / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        raise ReaderFilesMissing("The on-device reader's files are not installed: run `npm ci --prefix "
                                 "ui/camera_reader` (the README's set-up does).") from None


def _exports_folder() -> Path:
    return registry.trained_dir() / "onnx"


# ---- serving ----

_compressed: OrderedDict[str, bytes] = OrderedDict()
_compressing = threading.Lock()


def _gzipped(key: str, read) -> bytes:
    with _compressing:  # one compression per file, however many learners ask for it at once
        if key not in _compressed:
            _compressed[key] = gzip.compress(read(), compresslevel=6, mtime=0)
            while len(_compressed) > COMPRESSED_KEPT:
                _compressed.popitem(last=False)
        _compressed.move_to_end(key)
        return _compressed[key]


def _detector_bytes() -> bytes:
    return detector_for_reader(DETECTOR_FILE)


def _found(name: str):
    """(key, reader of its bytes, path or None, content type) for a served name, or None."""
    version = runtime_version()
    runtime = re.fullmatch(rf"onnxruntime-web-{re.escape(version)}/([\w.-]+)", name)
    if runtime and runtime[1] in RUNTIME_FILES:
        path = RUNTIME / "dist" / runtime[1]
        return name, path.read_bytes, path, RUNTIME_FILES[runtime[1]]
    if name == f"detector-{_detector_digest()}.onnx":
        return name, _detector_bytes, None, "application/octet-stream"
    model = re.fullmatch(r"model-([0-9a-f]{16})\.onnx", name)
    if model and (path := _exports_folder() / f"{model[1]}.onnx").is_file():
        return name, path.read_bytes, path, "application/octet-stream"
    return None


async def _serve(request: Request) -> Response:
    try:
        found = _found(request.path_params["name"])
    except ReaderFilesMissing:
        found = None
    if found is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    key, read, path, media_type = found
    headers = {"Cache-Control": KEPT_A_YEAR, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = await run_in_threadpool(_gzipped, key, read)
        # already encoded: the app's gzip step passes it on as it is
        return Response(body, media_type=media_type, headers=headers | {"Content-Encoding": "gzip"})
    if path is not None:
        return FileResponse(path, media_type=media_type, headers=headers)
    return Response(await run_in_threadpool(read), media_type=media_type, headers=headers)


ROUTES = [Route(f"{PREFIX}/{{name:path}}", _serve, methods=["GET", "HEAD"])]
# Cross-origin isolation lets a page share memory between threads, and so onnxruntime-web read with several
# of the device's cores (on this 2-core machine, 14 readings/s with one thread). Every part of the app comes
# from this server, so requiring that of what a page loads takes nothing away.
ISOLATED = [(b"cross-origin-opener-policy", b"same-origin"), (b"cross-origin-embedder-policy", b"require-corp")]


class CrossOriginIsolation:
    """ASGI middleware: the isolation headers on every HTTP response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message = message | {"headers": [*message.get("headers", []), *ISOLATED]}
            await send(message)

        await self.app(scope, receive, with_headers)


# ---- the addresses a page gives the component ----

_digests: dict[str, str] = {}


def _detector_digest() -> str:
    if "detector" not in _digests:
        import hashlib

        _digests["detector"] = hashlib.sha256(_detector_bytes()).hexdigest()[:16]  # the file served, as changed
    return _digests["detector"]


def reader_files(model_path: Path) -> dict[str, str]:
    """The addresses of what reader.js loads, the model exported to ONNX first if it has not been (seconds,
    once per model version). Raises ReaderFilesMissing, or ArtifactError for a model that can't be exported."""
    files = f"{PREFIX}/onnxruntime-web-{runtime_version()}/"
    exported = export_into(model_path, _exports_folder())
    return {"files": files, "detector": f"{PREFIX}/detector-{_detector_digest()}.onnx",
            "model": f"{PREFIX}/model-{exported.model_digest}.onnx"}
