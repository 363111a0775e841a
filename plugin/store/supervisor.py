"""Supervision helpers for the embedded store: back-off, exit descriptions, port and log checks."""
from __future__ import annotations

import signal
import socket
from pathlib import Path


class Backoff:
    """Capped exponential delays: first, 2*first, 4*first ... up to cap; reset() starts again."""

    def __init__(self, first: float, cap: float) -> None:
        self.first, self.cap = first, cap
        self._next = first

    def next(self) -> float:
        delay, self._next = self._next, min(self.cap, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self.first


def exit_reason(code: int | None) -> str:
    """`killed by SIGKILL` for a signal (Popen gives -N), `exit code N` otherwise."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a listening socket could bind the port now (SO_REUSEADDR, as the server binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def last_line(path: Path, limit: int = 4096) -> str:
    """The last non-empty line of a log file (what the server said before it stopped), or ''."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            tail = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
