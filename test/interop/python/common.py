"""Shared bits of the Python interop peers: JSON-line reporting and message summaries.

The Node test reads one JSON object per stdout line, so every report is flushed at once.
Written for Debian's python3-websockets 10.x (the asyncio "legacy" API).
"""
import hashlib
import json
import sys

MAX_SIZE = 4 * 2**20  # above the 1 MiB messages of the matrix: the limit under test is tidewire's, not ours


def emit(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def describe(message):
    """Type, byte length, SHA-256 and (for short text) the text itself of a received message."""
    if isinstance(message, str):
        data = message.encode("utf-8")
        kind = "text"
    else:
        data = bytes(message)
        kind = "binary"
    summary = {"type": kind, "length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if kind == "text" and len(data) <= 256:
        summary["text"] = message
    if kind == "binary" and len(data) <= 256:
        summary["hex"] = data.hex()
    return summary


def request_path(ws):
    """The request path on the server side (legacy API: ws.path; websockets >= 13 new API: ws.request.path)."""
    path = getattr(ws, "path", None)
    return path if isinstance(path, str) else ws.request.path


def response_header(ws, name):
    """A header of the handshake response (legacy API: ws.response_headers; new API: ws.response.headers)."""
    headers = getattr(ws, "response_headers", None)
    if headers is None:
        headers = ws.response.headers
    return headers.get(name)


def close_state(ws):
    """What the connection saw of the closing handshake (close_code is the code *received*)."""
    frames = ws if hasattr(ws, "close_rcvd") else ws.protocol  # legacy API, or the sans-I/O protocol
    return {
        "code": ws.close_code,
        "reason": ws.close_reason,
        "sent_code": frames.close_sent.code if frames.close_sent is not None else None,
        "clean": frames.close_rcvd is not None and frames.close_sent is not None,
    }
