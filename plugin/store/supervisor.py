"""Supervision helpers for the embedded store: back-off, exit descriptions, port and log checks, the data
folder's mode and its owner's lock."""
from __future__ import annotations

import logging
import os
import signal
import socket
import stat
from pathlib import Path

try:
    import fcntl
except ImportError:                     # not on Windows: no folder lock, a second host joins as before
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("counterflow.store.embedded")


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


def private_folder(path: Path) -> Path:
    """Make `path` (and missing parents) a folder only its owner can enter: mode 0700.

    A folder that already exists with group or other permissions is tightened, with a warning:
    it holds the store, the secret key and (by default) the encryption key.
    """
    existed = path.is_dir()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        try:
            path.chmod(0o700)
        except OSError as exc:
            log.warning("the folder %s is open to other users (mode %03o) and could not be made private "
                        "(%s); fix: chmod 700 %s", path, mode, exc, path)
            return path
        if existed:
            log.warning("the folder %s was open to other users (mode %03o); it is now 0700", path, mode)
    return path


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie (an orphan's exit that nobody reaped yet)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def command_line(pid: int) -> list[str] | None:
    """The process's arguments (Linux /proc), or None where the system does not tell."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [part.decode("utf-8", "replace") for part in fh.read().split(b"\0") if part]
    except OSError:
        return None


class FolderLock:
    """An exclusive lock on a file, held for as long as this object holds it (the kernel drops it when the
    process ends, SIGKILL included): who holds a data folder's lock supervises its store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool | None:
        """True once held; False while another holder has it; None where the system has no file locks."""
        if self._fd is not None:
            return True
        if fcntl is None:
            return None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        """The pid the lock file names (its last holder), for messages."""
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)                                   # closing the descriptor drops the lock
