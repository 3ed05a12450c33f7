"""Interop check with the official Python SDK (centrifuge-python) in its
Protobuf mode (`use_protobuf=True`: subprotocol `centrifuge-protobuf`, binary
frames, the same client.proto as the Swift, Java and Dart SDKs).

Starts the Tandem binary on 127.0.0.1:0 (TANDEM_BIN; the engine comes from the
TANDEM_* environment, like the npm suite), mints tokens with it, and checks:
connect with a JWT, RPC with JSON bytes, subscribe and receive in order,
history and presence stats, and a subscription token it sends is refused with
107 (Tandem has no subscription tokens; no option is silently ignored). Prints "N passed, 0 failed" and exits 0 on success.
"""

import asyncio
import json
import os
import re
import subprocess
import sys

from centrifuge import (
    Client,
    PublicationContext,
    SubscriptionEventHandler,
    SubscriptionErrorContext,
    SubscribedContext,
    UnsubscribedContext,
)

BIN = os.environ.get("TANDEM_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "target", "debug", "tandem"
)
SECRET = "python-interop-secret-0123456789abcdef0123"


def mint(user: str) -> str:
    out = subprocess.run(
        [BIN, "--jwt-hs256-secret", SECRET, "token", "--user", user, "--ttl", "1h"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    return out.stdout.strip()


def encode(value) -> bytes:
    return json.dumps(value).encode()


async def start_server():
    proc = await asyncio.create_subprocess_exec(
        BIN,
        "--listen",
        "127.0.0.1:0",
        "--jwt-hs256-secret",
        SECRET,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "RUST_LOG": "error"},
    )
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        if not line:
            raise RuntimeError("tandem exited before listening")
        m = re.search(rb"tandem listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            return proc, int(m.group(1))


class Collect(SubscriptionEventHandler):
    def __init__(self):
        self.pubs = asyncio.Queue()
        self.errors = []
        self.subscribed = asyncio.Queue()
        self.unsubscribed = asyncio.Queue()

    async def on_publication(self, ctx: PublicationContext) -> None:
        await self.pubs.put((ctx.pub.offset, json.loads(ctx.pub.data)))

    async def on_subscribed(self, ctx: SubscribedContext) -> None:
        await self.subscribed.put(ctx)

    async def on_unsubscribed(self, ctx: UnsubscribedContext) -> None:
        await self.unsubscribed.put(ctx)

    async def on_error(self, ctx: SubscriptionErrorContext) -> None:
        self.errors.append(ctx)


async def main() -> int:
    proc, port = await start_server()
    url = f"ws://127.0.0.1:{port}/connection/websocket"
    passed = 0
    try:
        alice = Client(url, token=mint("alice"), use_protobuf=True)
        bob = Client(url, token=mint("bob"), use_protobuf=True)
        for c in (alice, bob):
            await c.connect()
            await asyncio.wait_for(c.ready(), 5)
        passed += 1  # connect with a JWT over Protobuf

        res = await alice.rpc(
            "session.create",
            encode({"name": "python", "collaborators": [{"user_id": "bob", "role": "editor"}]}),
        )
        session = json.loads(res.data)
        channel = f"session:{session['id']}"
        assert session["name"] == "python", session
        passed += 1  # RPC with JSON bytes

        events = Collect()
        sub = bob.new_subscription(channel, events=events)
        await sub.subscribe()
        await asyncio.wait_for(sub.ready(), 5)
        ctx = await asyncio.wait_for(events.subscribed.get(), 5)
        assert ctx.recoverable and ctx.positioned, ctx
        for i in range(5):
            await alice.rpc("chat.send", encode({"session_id": session["id"], "content": f"py {i}"}))
        got = [await asyncio.wait_for(events.pubs.get(), 5) for _ in range(5)]
        assert [o for o, _ in got] == [2, 3, 4, 5, 6], got
        assert [d["data"]["message"]["content"] for _, d in got] == [f"py {i}" for i in range(5)], got
        assert all(d["actor"] == "alice" for _, d in got), got
        passed += 1  # subscribe and receive in order

        history = await sub.history(limit=10)
        assert [p.offset for p in history.publications] == [1, 2, 3, 4, 5, 6], history
        stats = await sub.presence_stats()
        assert (stats.num_clients, stats.num_users) == (1, 1), stats
        passed += 1  # history and presence stats

        refused = Collect()
        tokened = alice.new_subscription(channel, events=refused, token="a.b.c")
        await tokened.subscribe()
        gone = await asyncio.wait_for(refused.unsubscribed.get(), 5)
        assert gone.code == 107, (gone.code, gone.reason)
        passed += 1  # an option Tandem does not implement is refused

        for c in (alice, bob):
            await c.disconnect()
    except Exception as err:  # report and fail
        print(f"FAILED after {passed} checks: {err!r}", file=sys.stderr)
        print(f"{passed} passed, 1 failed")
        return 1
    finally:
        proc.terminate()
        await proc.wait()
    print(f"{passed} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
