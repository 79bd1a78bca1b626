"""N timed paper exchanges served by one child process, so a benchmark's event loop holds only
the bot's work, as it would against remote venues: at 20 venues, exchanges answering from the
bot's own loop share its CPU and their work lands in the gaps being measured.

The child (`python -m bench.paper_fleet --count N --latency S`) starts N `TimedPaper`s on
loopback and one small admin app beside them (`POST /reset`, `GET /hits`), prints one JSON line
naming their URLs, and serves until its stdin closes: the parent holds the other end, so the
child stops when the benchmark ends, fails, or is killed. `PaperFleet` is the parent's side.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType

import aiohttp
from aiohttp import web

from bench.harness import Hit, TimedPaper, start_papers

ROOT = Path(__file__).resolve().parents[1]
STOP_SECONDS = 10.0  # for the child to close its servers once told, before it is killed


@dataclass
class RemotePaper:
    """One exchange of the fleet as the benchmark sees it: where it listens, and its request
    log as last fetched (`PaperFleet.fetch_hits`)."""

    base_url: str
    hits: list[Hit] = field(default_factory=list)


def _admin_app(papers: list[TimedPaper]) -> web.Application:
    async def reset(_: web.Request) -> web.Response:
        for paper in papers:
            paper.reset()
        return web.json_response({"reset": len(papers)})

    async def hits(_: web.Request) -> web.Response:
        return web.json_response([[asdict(hit) for hit in paper.hits] for paper in papers])

    app = web.Application()
    app.router.add_post("/reset", reset)
    app.router.add_get("/hits", hits)
    return app


async def _stdin_closed() -> None:
    """Returns when the parent closes our stdin (it ended, failed or was killed)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass


async def serve(count: int, latency: float) -> None:
    """The child: serve `count` exchanges until stdin closes."""
    async with AsyncExitStack() as stack:
        papers = await start_papers(stack, count, latency)
        runner = web.AppRunner(_admin_app(papers), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = next(a[1] for a in runner.addresses if isinstance(a, tuple))
        ready = {"urls": [p.base_url for p in papers], "admin": f"http://127.0.0.1:{port}"}
        print(json.dumps(ready), flush=True)
        await _stdin_closed()


class PaperFleet:
    """`async with PaperFleet(count, latency) as fleet`: the child started, `fleet.papers`
    ready; on leaving (normally or not) the child is told to stop, and killed if it does not."""

    def __init__(self, count: int, latency: float) -> None:
        self.count, self.latency = count, latency
        self.papers: list[RemotePaper] = []
        self._child: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None
        self._admin = ""

    async def __aenter__(self) -> PaperFleet:
        env = os.environ | {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        }
        self._child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.paper_fleet",
            "--count",
            str(self.count),
            "--latency",
            str(self.latency),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        try:
            assert self._child.stdout is not None
            line = await self._child.stdout.readline()
            if not line:
                raise RuntimeError("the paper fleet's process ended before it was ready")
            ready = json.loads(line)
            self.papers = [RemotePaper(url) for url in ready["urls"]]
            self._admin = ready["admin"]
            self._http = aiohttp.ClientSession()
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._stop()

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._child.pid if self._child is not None else None

    async def reset(self) -> None:
        """Every exchange back to the state that needs a top-up; their logs start again."""
        assert self._http is not None
        async with self._http.post(f"{self._admin}/reset") as answer:
            answer.raise_for_status()
        for paper in self.papers:
            paper.hits = []

    async def fetch_hits(self) -> None:
        """Each exchange's request log since the last reset, into `paper.hits`."""
        assert self._http is not None
        async with self._http.get(f"{self._admin}/hits") as answer:
            answer.raise_for_status()
            logs = await answer.json()
        for paper, log in zip(self.papers, logs, strict=True):
            paper.hits = [Hit(**hit) for hit in log]

    async def _stop(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        child, self._child = self._child, None
        if child is None:
            return
        if child.stdin is not None:
            child.stdin.close()  # the child's cue to stop
        try:
            await asyncio.wait_for(child.wait(), STOP_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.paper_fleet")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    asyncio.run(serve(args.count, args.latency))


if __name__ == "__main__":
    main()
