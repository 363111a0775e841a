"""The embedded store: an nx-27017 server process on a data folder, started and stopped by us."""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pymongo
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

PORT_FILE = "nx-27017.port"
PID_FILE = "nx-27017.pid"
LOG_FILE = "nx-27017.log"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(uri: str, timeout_ms: int = 500) -> bool:
    client: pymongo.MongoClient = pymongo.MongoClient(uri, serverSelectionTimeoutMS=timeout_ms,
                                                      connectTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class EmbeddedServer:
    """One nx-27017 process per data folder; a second user of the folder joins the first."""

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.process: subprocess.Popen[bytes] | None = None
        self.uri: str | None = None

    @property
    def owned(self) -> bool:
        return self.process is not None

    def running_uri(self) -> str | None:
        """The URI of a server already serving this folder, if one answers."""
        try:
            port = int((self.data_dir / PORT_FILE).read_text().strip())
            pid = int((self.data_dir / PID_FILE).read_text().strip())
        except (OSError, ValueError):
            return None
        uri = f"mongodb://127.0.0.1:{port}/"
        return uri if _pid_alive(pid) and _answers(uri) else None

    def start(self, timeout: float = 30.0) -> str:
        """Join the folder's running server or start one; return its URI once it answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        existing = self.running_uri()
        if existing:
            self.uri = existing
            return existing
        port = _free_port()
        log_path = self.data_dir / LOG_FILE
        cmd = [sys.executable, "-c", "from nx_27017.nx_27017 import main; main()", "--data-dir", str(self.data_dir / "db"),
               "--host", "127.0.0.1", "--port", str(port), "--log-file", str(log_path),
               "--pid-file", str(self.data_dir / PID_FILE)]
        (self.data_dir / "db").mkdir(exist_ok=True)
        with open(log_path, "ab") as out:
            self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        uri = f"mongodb://127.0.0.1:{port}/"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the embedded store stopped at start-up; see {log_path}")
            if _answers(uri, 300):
                (self.data_dir / PORT_FILE).write_text(str(port))
                (self.data_dir / PID_FILE).write_text(str(self.process.pid))
                self.uri = uri
                log.info("embedded store on %s (data in %s)", uri, self.data_dir)
                return uri
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the embedded store did not answer within {timeout:.0f}s; see {log_path}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server if we started it; SQLite's WAL keeps every acknowledged write."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
        for name in (PORT_FILE, PID_FILE):
            try:
                (self.data_dir / name).unlink()
            except OSError:
                pass
