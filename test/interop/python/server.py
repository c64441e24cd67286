#!/usr/bin/python3
"""Python websockets server for the tidewire client: prints {"event": "listening", "port": N},
then one JSON line per connection event. Behaviour by request path:

  /close-1000*, /close-4000*   close at once with that code and a reason
  anything else                echo every message (same type); on the text "cmd:fragments" send a
                               fragmented text and a fragmented binary message instead; on
                               "cmd:ping" ping the client, wait for its pong and send "pong-received"

Exits when stdin closes.
"""
import asyncio
import sys

import websockets

from common import MAX_SIZE, close_state, describe, emit, request_path, response_header


async def handler(ws):
    path = request_path(ws)
    emit(
        event="open",
        path=path,
        subprotocol=ws.subprotocol,
        extensions=response_header(ws, "Sec-WebSocket-Extensions"),
    )
    try:
        if path.startswith("/close-1000"):
            await ws.close(1000, "server done")
        elif path.startswith("/close-4000"):
            await ws.close(4000, "server bye")
        else:
            async for message in ws:
                emit(event="message", path=path, **describe(message))
                if message == "cmd:fragments":
                    await ws.send(["frag", "ment", "ed ✓"])
                    await ws.send([b"\x00\x01", b"\x02\x03", b"\xfe\xff"])
                elif message == "cmd:ping":
                    pong_waiter = await ws.ping(b"py-ping")
                    await asyncio.wait_for(pong_waiter, 5)
                    await ws.send("pong-received")
                else:
                    await ws.send(message)
    except websockets.ConnectionClosed:
        pass  # reported below, with the codes
    await ws.wait_closed()
    emit(event="close", path=path, **close_state(ws))


async def main():
    async with websockets.serve(
        handler,
        "127.0.0.1",
        0,
        subprotocols=["chat.v1"],
        compression="deflate",
        max_size=MAX_SIZE,
        ping_interval=None,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        emit(event="listening", port=port, version=websockets.__version__)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
