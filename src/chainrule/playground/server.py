"""The playground's HTTP and WebSocket server (Starlette, run by uvicorn).

The server owns the engine and the state; the page draws and sends intents. Every route
takes ``?session=ID`` (letters, digits, ``-`` and ``_``; the page makes one up per tab;
without it, the shared session "default"). docs/playground.md documents the API.

Safety: it binds to 127.0.0.1 unless told otherwise, answers only requests addressed to
the host it serves (a web page elsewhere cannot rebind a name to it), refuses POST bodies
that are not JSON (a form on another site cannot post here without a CORS preflight,
which it does not answer) or too large, accepts WebSocket connections from its own page
only, and serves files from its static folder only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from chainrule.explain.spec import SpecError
from chainrule.playground import protocol
from chainrule.playground.config import ConfigError
from chainrule.playground.datasets import MAX_CSV_BYTES
from chainrule.playground.session import MAX_STEPS, Diverged, Sessions
from chainrule.playground.text import strings

STATIC = Path(__file__).resolve().parent / "static"
MAX_JSON_BYTES = 64 * 1024
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]


class _Refused(Exception):
    def __init__(self, status: int, field: str, message: str):
        self.status, self.field, self.message = status, field, message


def create_app(sessions: Sessions | None = None, allowed_hosts: list[str] | None = None):
    """The Starlette app. ``allowed_hosts``: the Host headers it answers (None: any, for
    tests; ``serve`` passes the host it binds to)."""
    sessions = sessions if sessions is not None else Sessions()

    def session_of(request) -> object:
        sid = request.query_params.get("session", "default")
        if not _SESSION_ID.fullmatch(sid):
            raise _Refused(400, "session", "expected 1 to 64 letters, digits, - or _")
        return sessions.get(sid)

    def api(handler):
        """A route: errors become JSON {"error", "field"} with a 4xx status."""
        async def route(request: Request) -> Response:
            try:
                return await handler(request, session_of(request))
            except _Refused as e:
                return _error(e.status, e.field, e.message)
            except ConfigError as e:
                return _error(400, e.field, e.message)
            except SpecError as e:
                return _error(409, e.field, e.message)
            except Diverged:
                return _error(409, "lr", "the weights overflowed: the learning rate is too "
                              "large for this network. help: lower lr, then reset")
        return route

    async def state(request, session):
        return _json(await run_in_threadpool(session.state))

    async def config(request, session):
        changes = await _json_body(request)
        await run_in_threadpool(session.configure, changes)
        return await state(request, session)

    async def step(request, session):
        body = await _json_body(request, empty={})
        if not isinstance(body, dict):
            raise ConfigError("(body)", 'expected a JSON object such as {"steps": 10}')
        steps = body.get("steps", 1)
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
            raise ConfigError("steps", f"expected a whole number from 1 to {MAX_STEPS}, got "
                              f"{steps!r:.40}")
        await run_in_threadpool(session.step, steps)
        return await state(request, session)

    async def reset(request, session):
        await _json_body(request, empty={})
        await run_in_threadpool(session.reset)
        return await state(request, session)

    async def regenerate(request, session):
        await _json_body(request, empty={})
        await run_in_threadpool(session.regenerate)
        return await state(request, session)

    async def weight(request, session):
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise ConfigError("(body)", 'expected {"layer": k, "to": j, "from": i or "bias", '
                              '"value": v}')
        for key in ("layer", "to", "from", "value"):
            if key not in body:
                raise ConfigError(key, "missing field")
        await run_in_threadpool(session.set_weight, body["layer"], body["to"], body["from"],
                                body["value"])
        return await state(request, session)

    async def data(request, session):
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind not in ("text/csv", "application/octet-stream"):
            raise _Refused(415, "content-type", f"expected text/csv, got {kind or 'none'}")
        raw = await _read(request, MAX_CSV_BYTES, "csv")
        await run_in_threadpool(session.upload, raw)
        return await state(request, session)

    async def ledger(request, session):
        sample, batch = _sample_args(request)
        return _json(await run_in_threadpool(session.ledger, sample, batch))

    async def export(request, session):
        sample, batch = _sample_args(request)
        spec = await run_in_threadpool(session.export, sample, batch)
        name = f"playground-{'batch' if batch else 'point'}-{sample}.json"
        return _json(spec, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    async def text(request):
        return _json(strings())

    async def index(request):
        return FileResponse(STATIC / "index.html")

    async def ws(socket: WebSocket):
        await _play_socket(socket, sessions)

    routes = [
        Route("/", index),
        Route("/api/state", api(state)),
        Route("/api/config", api(config), methods=["POST"]),
        Route("/api/step", api(step), methods=["POST"]),
        Route("/api/reset", api(reset), methods=["POST"]),
        Route("/api/regenerate", api(regenerate), methods=["POST"]),
        Route("/api/weight", api(weight), methods=["POST"]),
        Route("/api/data", api(data), methods=["POST"]),
        Route("/api/ledger", api(ledger)),
        Route("/api/export", api(export)),
        Route("/api/text", text),
        WebSocketRoute("/ws", ws),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = []
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))
    return Starlette(routes=routes, middleware=middleware)


def _json(obj, status: int = 200, headers: dict | None = None) -> Response:
    return Response(protocol.encode(obj), status_code=status, headers=headers,
                    media_type="application/json")


def _error(status: int, field: str, message: str) -> Response:
    return JSONResponse({"error": f"{field}: {message}", "field": field}, status_code=status)


async def _read(request: Request, limit: int, field: str) -> bytes:
    """The body, refused unread past ``limit`` bytes (by its header, or as it streams)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _Refused(413, field, f"larger than {limit // 1024} KiB, the most the playground "
                       "reads")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _Refused(413, field, f"larger than {limit // 1024} KiB, the most the "
                           "playground reads")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_body(request: Request, empty=None):
    """The JSON body (``empty`` if there is none and that is allowed)."""
    raw = await _read(request, MAX_JSON_BYTES, "(body)")
    if not raw.strip() and empty is not None:
        return empty
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/json":
        raise _Refused(415, "content-type", f"expected application/json, got {kind or 'none'}")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise ConfigError("(body)", "invalid JSON") from None


def _sample_args(request: Request) -> tuple[int, bool]:
    value = request.query_params.get("sample")
    if value is None:
        raise ConfigError("sample", "missing: give ?sample=i, the index of a point in "
                          "/api/state's points")
    if not re.fullmatch(r"\d{1,9}", value):
        raise ConfigError("sample", f"expected a point index (a whole number), got {value[:40]!r}")
    batch = request.query_params.get("batch", "0")
    if batch not in ("0", "1", "true", "false"):
        raise ConfigError("batch", f"expected 1 or 0, got {batch[:40]!r}")
    return int(value), batch in ("1", "true")


async def _play_socket(socket: WebSocket, sessions: Sessions) -> None:
    """One page's WebSocket: intents in, one message per epoch out while playing."""
    sid = socket.query_params.get("session", "default")
    if not _SESSION_ID.fullmatch(sid) or not _same_origin(socket):
        await socket.close(code=1008)
        return
    await socket.accept()
    session = sessions.get(sid)
    sending = asyncio.Lock()
    selected: dict = {"sample": None}
    player: asyncio.Task | None = None

    async def send(text: str) -> None:
        async with sending:
            await socket.send_text(text)

    async def play() -> None:
        while True:
            start = time.perf_counter()
            try:
                text, reason = await run_in_threadpool(protocol.step, session,
                                                       selected["sample"])
            except Exception as e:  # a bug: say so on the page and stop, the server lives on
                logging.getLogger("chainrule.playground").exception("a step failed")
                await send(protocol.encode(protocol.message(
                    "error", error=f"the step failed: {e}. help: this is a bug, please report "
                    "it", field="(step)")))
                text, reason = None, "error"
            if text is not None:
                await send(text)
            if reason:
                await send(protocol.encode(protocol.message("paused", reason=reason)))
                return
            speed = session.config["speed"]
            wait = 1 / speed - (time.perf_counter() - start) if speed else 0
            await asyncio.sleep(max(wait, 0))  # 0 still lets the page's intents in

    async def stop() -> None:
        nonlocal player
        if player is not None:
            player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await player
            player = None

    await send(protocol.encode(protocol.message("hello", session=sid)))
    try:
        while True:
            raw = await socket.receive_text()
            try:
                intent = protocol.parse_intent(raw)
            except ConfigError as e:
                await send(protocol.encode(protocol.message("error", error=str(e),
                                                            field=e.field)))
                continue
            if intent["type"] == "play" and (player is None or player.done()):
                player = asyncio.create_task(play())
            elif intent["type"] == "pause":
                was_playing = player is not None and not player.done()
                await stop()
                if was_playing:
                    await send(protocol.encode(protocol.message("paused", reason="user")))
            elif intent["type"] == "select":
                selected["sample"] = intent.get("sample")
    except WebSocketDisconnect:
        pass
    finally:
        await stop()


def _same_origin(socket: WebSocket) -> bool:
    """A browser names the page that opens a WebSocket; only this server's own is let in
    (scripts send no Origin and are let in)."""
    origin = socket.headers.get("origin")
    if origin is None:
        return True
    host = socket.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def serve(host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True) -> None:
    """Run the server until interrupted; open the page in a browser unless told not to."""
    import uvicorn

    hosts = None if host in ("0.0.0.0", "::") else [host, *LOOPBACK_HOSTS]
    app = create_app(allowed_hosts=hosts)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", ws="auto")
    server = uvicorn.Server(config)
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
    print(f"chainrule playground: {url} (Ctrl+C stops it)", flush=True)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    server.run()
