"""CPU per request of the hot reads, driven through the ASGI app in process (no server, no wrk).

::

    .venv/bin/python bench/api_cpu.py --url sqlite:////tmp/apiperf/bench/api-100000.db \\
        --store /tmp/apiperf/bench/api-store-sqlite-100000.json --route details

The app is the one ``create_app`` builds for ``--url`` (a store of ``bench/api_bench.py``;
``--store`` is the JSON file naming its org and viewer key). Raw ASGI requests (as uvicorn
sends them: a ``Host``, a ``User-Agent`` and the ``Authorization`` header) go to the app on a
uvloop event loop, ``--concurrency`` at a time, for random mobiles (or ids) of a sample of
live customers: after a warm-up, ``--runs`` runs of ``--requests`` requests each, and for
each run the process's CPU time per request (``time.process_time``: the event loop and the
worker threads), the event loop thread's share of it (``time.thread_time``) and the wall
time. On a shared machine the CPU of a request moves by 10-30% between runs: compare two
trees by alternating them (the other one on ``PYTHONPATH``) and reading the least of each
side's runs. ``--calls`` counts the Python calls per request instead (``setprofile`` in
every thread, a coroutine resumed counting again), which do not move with the load.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvloop

from patron.api.app import create_app, settle_collector
from patron.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
from api_bench import sample

PATHS = {
    "lookup": "/v2/customers/lookup",
    "details": "/v2/customers/lookup/customerDetails",
    "get": "/v2/customers/{}",
}
WARMUP = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="the store's database URL")
    parser.add_argument("--store", required=True, help="api_bench's store file (org, keys)")
    parser.add_argument("--route", choices=sorted(PATHS), default="details")
    parser.add_argument("--requests", type=int, default=1500, help="requests a run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--calls", action="store_true", help="count Python calls instead")
    args = parser.parse_args()
    store = json.loads(Path(args.store).read_text())
    mobiles, ids = sample(args.url, int(store["org_id"]))
    values = [str(i) for i in ids] if args.route == "get" else mobiles
    key = str(store["viewer"]).encode()
    app = create_app(Settings(database_url=args.url))
    app.middleware_stack = app.build_middleware_stack()
    settle_collector()  # as in a server process
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    failed = loop.run_until_complete(_run(app, key, args.route, values, WARMUP, args.concurrency))
    if failed:
        print(f"{failed} of the warm-up's requests did not answer 200", file=sys.stderr)
    if args.calls:
        print(f"{args.route}: {_calls(loop, app, key, args.route, values):.0f} calls/request")
        return
    for _ in range(args.runs):
        gc.collect()
        cpu, loop_cpu, wall = time.process_time(), time.thread_time(), time.perf_counter()
        loop.run_until_complete(_run(app, key, args.route, values, args.requests, args.concurrency))
        n = args.requests
        print(
            f"{args.route}: CPU {(time.process_time() - cpu) / n * 1e6:.0f} µs/request"
            f" (event loop {(time.thread_time() - loop_cpu) / n * 1e6:.0f}),"
            f" wall {(time.perf_counter() - wall) / n * 1e6:.0f} µs"
        )


def _calls(
    loop: asyncio.AbstractEventLoop, app: Any, key: bytes, route: str, values: list[str]
) -> float:
    count = 0

    def profile(_frame: Any, event: str, _arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        loop.run_until_complete(_run(app, key, route, values, 200, 1))
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    return count / 200


async def _run(
    app: Any, key: bytes, route: str, values: list[str], n: int, concurrency: int
) -> int:
    """Send ``n`` requests, ``concurrency`` at a time; answer how many were not 200."""
    pending = iter(range(n))
    failed = 0

    async def client() -> None:
        nonlocal failed
        for _ in pending:
            if await _request(app, key, route, random.choice(values)) != 200:
                failed += 1

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return failed


async def _request(app: Any, key: bytes, route: str, value: str) -> int:
    if route == "get":
        path, query = PATHS[route].format(value), b""
    else:
        path, query = PATHS[route], f"identifierName=mobile&identifierValue={value}".encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", b"api_cpu"),
            (b"authorization", b"Bearer " + key),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


if __name__ == "__main__":
    main()
