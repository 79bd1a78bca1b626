"""A loopback HTTP server that records every request and answers canned JSON by path: enough
to see, over real HTTP, exactly what the real ccxt client sends for one call."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: str
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RecordingServer:
    replies: Mapping[str, Any]  # path -> JSON body
    requests: list[Recorded] = field(default_factory=list)
    base_url: str = ""
    _runner: web.AppRunner | None = None

    async def __aenter__(self) -> RecordingServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        self.requests.append(
            Recorded(request.method, request.path, dict(request.query), body, dict(request.headers))
        )
        reply = self.replies.get(request.path)
        if reply is None:
            return web.json_response({"error": f"no canned reply for {request.path}"}, status=404)
        return web.json_response(reply)
