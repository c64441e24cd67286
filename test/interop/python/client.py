#!/usr/bin/python3
"""Python websockets client against a tidewire server: `client.py <ws-url> <scenario>`.
Prints one JSON line per step; the Node test asserts on them and on what the server saw.

  matrix      text, binary, 1 MiB random, 1 MiB compressible text, fragmented text and binary
              (each expects an echo), a ping, then close(1000, "python done")
  close-4000  close(4000, "client bye") at once
  await-close wait for the server to close the connection
"""
import asyncio
import os
import sys

import websockets

from common import MAX_SIZE, close_state, describe, emit, response_header


async def round_trip(ws, step, message):
    await ws.send(message)
    echo = await asyncio.wait_for(ws.recv(), 10)
    if isinstance(message, list):
        expected = "".join(message) if isinstance(message[0], str) else b"".join(message)
    else:
        expected = message
    emit(step=step, ok=echo == expected, sent=describe(expected), received=describe(echo))


async def matrix(ws):
    await round_trip(ws, "text", "héllo ✓ from python")
    await round_trip(ws, "binary", bytes(range(256)))
    await round_trip(ws, "1mib-random", os.urandom(2**20))
    await round_trip(ws, "1mib-compressible", "a" * 2**20)
    await round_trip(ws, "fragmented-text", ["frag", "ment", "ed ✓"])
    await round_trip(ws, "fragmented-binary", [b"\x00\x01", b"\x02\x03", b"\xfe\xff"])
    pong_waiter = await ws.ping(b"py-ping")
    await asyncio.wait_for(pong_waiter, 5)
    emit(step="ping", ok=True)
    await ws.close(1000, "python done")


async def main(url, scenario):
    async with websockets.connect(
        url,
        subprotocols=["chat.v2", "chat.v1"],
        compression="deflate",
        max_size=MAX_SIZE,
        ping_interval=None,
        open_timeout=10,
        close_timeout=5,
    ) as ws:
        emit(
            step="open",
            subprotocol=ws.subprotocol,
            extensions=response_header(ws, "Sec-WebSocket-Extensions"),
            version=websockets.__version__,
        )
        if scenario == "matrix":
            await matrix(ws)
        elif scenario == "close-4000":
            await ws.close(4000, "client bye")
        elif scenario == "await-close":
            await ws.wait_closed()
        else:
            raise SystemExit(f"unknown scenario {scenario!r}")
        await ws.wait_closed()
        emit(step="closed", **close_state(ws))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
