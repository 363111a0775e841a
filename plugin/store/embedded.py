"""The embedded store: an nx-27017 server process on a data folder, started, watched and stopped by us.

Durability: nx-27017 keeps each logical database in one SQLite file (`--data-dir` mode), in
WAL journal mode with autocommit, so every write is committed to the WAL file before the
server answers. A killed server process (SIGKILL, a crash, the OOM killer) therefore loses
no acknowledged write: the operating system holds the committed pages, and the next start
replays the WAL. (Only a power cut can lose the last commits, because `synchronous=NORMAL`
defers fsync to checkpoints; a real MongoDB replica set is the answer to that.)

Supervision: a server we started is watched by a daemon thread. When the process dies, the
thread logs why (exit code or signal), restarts it on the same folder and the same port
(so every pymongo client's URI stays valid and reconnects by itself) with capped
exponential back-off, and logs each attempt. Meanwhile requests get 503 from the web layer
after `COUNTERFLOW_STORE_TIMEOUT_MS`. `stop()` stops the watchdog first, so a deliberate
stop is never "restarted".
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pymongo
from pymongo.errors import PyMongoError

from counterflow.store.supervisor import Backoff, exit_reason, last_line, port_free

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
    """One nx-27017 process per data folder; a second user of the folder joins the first.

    The owner (the process that started the server) also supervises it: see the module
    docstring. A joiner neither supervises nor stops the owner's server.
    """

    START_TIMEOUT = 30.0       # seconds a start (or one restart attempt) may take before it counts as failed
    RETRY_FIRST = 0.25         # the first retry/restart waits this long; each next one twice as long...
    RETRY_CAP = 10.0           # ...up to this
    STABLE_AFTER = 60.0        # a server that stayed up this long starts the next restart count from 1
    WAIT_LOG_EVERY = 5.0       # while a start is slow, say so this often

    def __init__(self, data_dir: Path | str, *, supervise: bool = True) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.process: subprocess.Popen[bytes] | None = None
        self.uri: str | None = None
        self.port: int | None = None
        self.supervise = supervise
        self.restarts = 0                                  # restarts that came back, since start()
        self._lock = threading.Lock()                      # guards self.process against stop() mid-restart
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._backoff = Backoff(self.RETRY_FIRST, self.RETRY_CAP)
        self._attempt = 0
        self._up_since = 0.0

    @property
    def owned(self) -> bool:
        return self.process is not None

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_FILE

    def running_uri(self) -> str | None:
        """The URI of a server already serving this folder, if one answers."""
        try:
            port = int((self.data_dir / PORT_FILE).read_text().strip())
            pid = int((self.data_dir / PID_FILE).read_text().strip())
        except (OSError, ValueError):
            return None
        uri = f"mongodb://127.0.0.1:{port}/"
        return uri if _pid_alive(pid) and _answers(uri) else None

    # -- start and stop ------------------------------------------------------------------------

    def start(self, timeout: float | None = None) -> str:
        """Join the folder's running server or start one; return its URI once it answers.

        A start that fails (the process exits, e.g. because another server on the folder is
        still coming up) is retried with back-off and logged, until `timeout` seconds.
        """
        timeout = self.START_TIMEOUT if timeout is None else timeout
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "db").mkdir(exist_ok=True)
        self._stopping.clear()
        deadline = time.monotonic() + timeout
        backoff = Backoff(self.RETRY_FIRST, self.RETRY_CAP)
        attempt = 0
        while True:
            existing = self.running_uri()
            if existing:
                self.uri = existing
                return existing
            attempt += 1
            port = _free_port()
            proc = self._spawn(port)
            why = self._await(proc, port, deadline, attempt)
            if why is None:
                return self._started(proc, port)
            delay = backoff.next()
            if time.monotonic() + delay >= deadline:
                raise RuntimeError(f"the embedded store did not start within {timeout:.0f}s "
                                   f"({attempt} attempt(s), last: {why}); see {self.log_path}")
            log.warning("the embedded store did not start (attempt %d: %s); retrying in %.1fs; see %s",
                        attempt, why, delay, self.log_path)
            time.sleep(delay)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server if we started it (the watchdog first); the WAL keeps every acknowledged write."""
        self._stopping.set()
        with self._lock:
            proc, self.process = self.process, None
        watchdog, self._watchdog = self._watchdog, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if watchdog is not None and watchdog is not threading.current_thread():
            watchdog.join(timeout)
        if self._pid_file_names(proc.pid):
            for name in (PORT_FILE, PID_FILE):
                try:
                    (self.data_dir / name).unlink()
                except OSError:
                    pass

    # -- internals -----------------------------------------------------------------------------

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-c", "from nx_27017.nx_27017 import main; main()",
               "--data-dir", str(self.data_dir / "db"), "--host", "127.0.0.1", "--port", str(port),
               "--log-file", str(self.log_path), "--pid-file", str(self.data_dir / PID_FILE)]
        with open(self.log_path, "ab") as out:
            return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)

    def _await(self, proc: subprocess.Popen[bytes], port: int, deadline: float, attempt: int) -> str | None:
        """None once the server answers; else why not (it exited, it was stopped, or the deadline passed)."""
        uri = f"mongodb://127.0.0.1:{port}/"
        began = next_note = time.monotonic()
        next_note += self.WAIT_LOG_EVERY
        while True:
            code = proc.poll()
            if code is not None:
                said = last_line(self.log_path)
                return exit_reason(code) + (f" ({said})" if said else "")
            if self._stopping.is_set():
                self._kill(proc)
                return "stopped"
            if _answers(uri, 300):
                return None
            now = time.monotonic()
            if now >= deadline:
                self._kill(proc)
                return f"no answer on port {port} within {now - began:.0f}s"
            if now >= next_note:
                log.warning("the embedded store (pid %d, attempt %d) is slow to come up: no answer on port "
                            "%d after %.0fs; still waiting up to %.0fs", proc.pid, attempt, port, now - began,
                            deadline - now)
                next_note = now + self.WAIT_LOG_EVERY
            time.sleep(0.1)

    def _started(self, proc: subprocess.Popen[bytes], port: int) -> str:
        uri = f"mongodb://127.0.0.1:{port}/"
        with self._lock:
            self.process, self.port, self.uri = proc, port, uri
        self._record(proc, port)
        self._up_since = time.monotonic()
        self._attempt, self.restarts = 0, 0
        self._backoff.reset()
        log.info("embedded store on %s (pid %d, data in %s)", uri, proc.pid, self.data_dir)
        if self.supervise:
            self._watchdog = threading.Thread(target=self._watch, args=(proc,), daemon=True,
                                              name=f"counterflow-store-watchdog-{port}")
            self._watchdog.start()
        return uri

    def _record(self, proc: subprocess.Popen[bytes], port: int) -> None:
        (self.data_dir / PORT_FILE).write_text(str(port))
        (self.data_dir / PID_FILE).write_text(str(proc.pid))

    def _pid_file_names(self, pid: int) -> bool:
        """Whether the pid file is ours (or gone): only then may stop() remove the folder's files."""
        try:
            return int((self.data_dir / PID_FILE).read_text().strip()) == pid
        except (OSError, ValueError):
            return True

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    def _watch(self, proc: subprocess.Popen[bytes] | None) -> None:
        """The watchdog: wait for the server to end; unless we are stopping, restart it."""
        while proc is not None:
            code = proc.wait()
            if self._stopping.is_set():
                return
            proc = self._restart(proc, code)

    def _restart(self, dead: subprocess.Popen[bytes], code: int) -> subprocess.Popen[bytes] | None:
        """Bring the server back on the same port, with back-off; the new process, or None when stopping."""
        port = self.port
        assert port is not None
        down_since = time.monotonic()
        if down_since - self._up_since >= self.STABLE_AFTER:
            self._attempt = 0
            self._backoff.reset()
        log.error("the embedded store (pid %d, port %d) died: %s; requests get 503 until it is back; "
                  "restarting it on the same folder and port", dead.pid, port, exit_reason(code))
        while not self._stopping.is_set():
            self._attempt += 1
            attempt, delay = self._attempt, self._backoff.next()
            log.warning("restarting the embedded store on port %d in %.2fs (attempt %d)",
                        port, delay, attempt)
            if self._stopping.wait(delay):
                return None
            other = self.running_uri()
            if other is not None and other != self.uri:
                log.error("cannot restart the embedded store (attempt %d): another process started a server "
                          "on this folder at %s while it was down, and this host's connections point at %s; "
                          "restart counterflow, or stop that process", attempt, other, self.uri)
                continue
            if not port_free(port):
                log.error("cannot restart the embedded store (attempt %d): port %d is taken by another "
                          "process; it must come back on the same port because connected clients hold its "
                          "address; free the port or restart counterflow", attempt, port)
                continue
            with self._lock:
                if self._stopping.is_set():
                    return None
                proc = self._spawn(port)
                self.process = proc
            why = self._await(proc, port, time.monotonic() + self.START_TIMEOUT, attempt)
            if self._stopping.is_set():
                return None
            if why is None:
                self._record(proc, port)
                self._up_since = time.monotonic()
                self.restarts += 1
                log.warning("the embedded store is back on port %d (pid %d, restart attempt %d, down %.1fs)",
                            port, proc.pid, attempt, self._up_since - down_since)
                return proc
            log.error("restart attempt %d of the embedded store failed: %s; see %s",
                      attempt, why, self.log_path)
        return None
