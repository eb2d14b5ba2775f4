"""The playground's web server: Starlette routes and one WebSocket per browser tab.

Each tab opens ``/ws``; the server gives it a :class:`~glassnet.playground.session.Session`
with its own training thread, and two coroutines: one reads the tab's messages (each is
handled in a worker thread, so the event loop never computes), one sends what the session
has queued and its newest frame. When the tab closes, the session's thread stops and the
model is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import math
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from glassnet import activations, initializers
from glassnet.playground.session import Session
from glassnet.playground.settings import Limits

STATIC = Path(__file__).parent / "static"


def _finite(value: Any) -> Any:
    """JSON for the browser: NaN and infinities become null (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def onnx_available() -> bool:
    return importlib.util.find_spec("onnx") is not None


async def _send_loop(websocket: WebSocket, session: Session, wake: asyncio.Event) -> None:
    while True:
        await wake.wait()
        wake.clear()
        messages, frame = session.take()
        for message in messages:
            await websocket.send_text(json.dumps(_finite(message)))
        if frame is not None:
            await websocket.send_bytes(frame)


async def _receive_loop(websocket: WebSocket, session: Session, limits: Limits) -> None:
    while True:
        received = await websocket.receive()
        if received["type"] == "websocket.disconnect":
            return
        text = received.get("text")
        if text is None:
            session.reject("messages must be JSON text, got binary data")
            continue
        if len(text) > limits.max_message_bytes:
            session.reject(f"a message may be at most {limits.max_message_bytes:,} characters, "
                           f"got {len(text):,}")
            continue
        try:
            message = json.loads(text)
        except json.JSONDecodeError as error:
            session.reject(f"a message must be JSON: {error.msg} at character {error.pos}")
            continue
        await asyncio.to_thread(session.handle, message)


async def playground_socket(websocket: WebSocket) -> None:
    state = websocket.app.state
    await websocket.accept()
    if len(state.sessions) >= state.limits.max_sessions:
        await websocket.send_text(json.dumps({"type": "error", "message": (
            f"the server already runs {state.limits.max_sessions} sessions (its limit): "
            "close another tab and reload")}))
        await websocket.close(code=1013)
        return
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def notify() -> None:                # called from the session's thread
        loop.call_soon_threadsafe(wake.set)

    session = await asyncio.to_thread(Session, state.limits, notify)
    state.sessions[session.token] = session
    sender = asyncio.create_task(_send_loop(websocket, session, wake))
    try:
        await _receive_loop(websocket, session, state.limits)
    except WebSocketDisconnect:
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        state.sessions.pop(session.token, None)
        await asyncio.to_thread(session.close)


async def download(request: Request) -> Response:
    """``/download/{token}/{train.py|model.glassnet|model.onnx}``: the run of one session."""
    session = request.app.state.sessions.get(request.path_params["token"])
    name = request.path_params["name"]
    if session is None:
        return PlainTextResponse("no such session (the tab was closed or the server restarted)", 404)
    attachment = {"Content-Disposition": f'attachment; filename="playground_{name}"'}
    if name == "train.py":
        text = await asyncio.to_thread(session.export_script)
        return PlainTextResponse(text, headers=attachment)
    if name == "model.onnx" and not onnx_available():
        return PlainTextResponse("ONNX export needs the onnx package: pip install 'glassnet[onnx]'", 501)
    if name not in ("model.glassnet", "model.onnx"):
        return PlainTextResponse(f"unknown download {name!r}: train.py, model.glassnet or model.onnx", 404)
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / name)
        writer = session.save_model if name == "model.glassnet" else session.export_onnx
        await asyncio.to_thread(writer, path)
        content = Path(path).read_bytes()
    return Response(content, media_type="application/octet-stream", headers=attachment)


def _page(name: str) -> Any:
    async def page(request: Request) -> Response:
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})
    return page


async def info(request: Request) -> Response:
    state = request.app.state
    return Response(json.dumps({"onnx": onnx_available(), "limits": vars(state.limits),
                                "sessions": len(state.sessions), "activations": list(activations.ALL),
                                "initializers": list(initializers.ALL)}), media_type="application/json")


async def parabola_path(request: Request) -> Response:
    """``/parabola/path?learning_rate=..&x0=..&steps=..``: glassnet's gradient descent on f(x) = x²."""
    from glassnet.viz.gradient_descent import gradient_descent_path, parabola_derivative

    query = request.query_params
    unknown = sorted(set(query) - {"learning_rate", "x0", "steps"})
    try:
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown}; known: learning_rate, x0, steps")
        rate = float(query.get("learning_rate", "0.1"))
        x0 = float(query.get("x0", "8"))
        steps = int(query.get("steps", "20"))
        if not (0 < rate <= 2 and -10 <= x0 <= 10 and 1 <= steps <= 200):
            raise ValueError("learning_rate must be in (0, 2], x0 in [-10, 10], steps in 1..200; "
                             f"got {rate}, {x0}, {steps}")
    except ValueError as error:
        return PlainTextResponse(f"bad parameters: {error}", 400)
    path = gradient_descent_path(parabola_derivative, x0, rate, steps)
    return Response(json.dumps({"x": _finite(path.tolist())}), media_type="application/json")


def create_app(limits: Limits | None = None) -> Starlette:
    """The ASGI application (``app.state.sessions`` maps a session's token to it)."""
    app = Starlette(routes=[
        Route("/", _page("index.html")),
        Route("/parabola", _page("parabola.html")),
        Route("/info", info),
        Route("/parabola/path", parabola_path),
        Route("/download/{token}/{name}", download),
        WebSocketRoute("/ws", playground_socket),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])
    app.state.limits = limits or Limits()
    app.state.sessions = {}
    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: a free port, read back with ``getsockname``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def _uvicorn_server(app: Starlette, limits: Limits) -> Any:
    import uvicorn

    # A larger frame limit than our own check, so that an oversized message gets our error
    # message instead of a dropped connection.
    config = uvicorn.Config(app, log_level="warning", ws="websockets-sansio", lifespan="off",
                            ws_max_size=4 * limits.max_message_bytes)
    return uvicorn.Server(config)


def serve(sock: socket.socket, limits: Limits) -> None:
    """Serve until interrupted (Ctrl-C)."""
    _uvicorn_server(create_app(limits), limits).run(sockets=[sock])


@contextlib.contextmanager
def running_server(host: str = "127.0.0.1", port: int = 0, limits: Limits | None = None
                   ) -> Iterator[tuple[str, Starlette]]:
    """A server in a background thread, for tests and benchmarks: yields (url, app), always stops."""
    limits = limits or Limits()
    app = create_app(limits)
    server = _uvicorn_server(app, limits)
    sock = bind(host, port)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the playground server did not start")
            threading.Event().wait(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        for session in list(app.state.sessions.values()):
            session.close()
        sock.close()
