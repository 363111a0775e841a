"""Helpers for tests that run real processes: the installed `counterflow` command, a free port, a live pid."""
from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import pytest


def command() -> str:
    """The `counterflow` console script beside this interpreter (or on PATH)."""
    beside = Path(sys.executable).parent / "counterflow"
    found = str(beside) if beside.exists() else shutil.which("counterflow")
    if not found:
        pytest.skip("the counterflow console script is not installed (pip install -e .)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
