"""The embedded store: an nx-27017 server process on a data folder, started, watched and stopped by us.

Durability: nx-27017 keeps each logical database in one SQLite file (`--data-dir` mode), in
WAL journal mode with autocommit, so every write is committed to the WAL file before the
server answers. A killed server process (SIGKILL, a crash, the OOM killer) therefore loses
no acknowledged write: the operating system holds the committed pages, and the next start
replays the WAL. (Only a power cut can lose the last commits, because `synchronous=NORMAL`
defers fsync to checkpoints; a real MongoDB replica set is the answer to that.)

Ownership: the host that starts the server holds an exclusive lock on `nx-27017.lock` in the
data folder for as long as it supervises it; the kernel drops the lock when that host ends,
even by SIGKILL. A later host that gets the lock while a server still answers on the folder
has found an orphan (its owner was killed): it stops it (SIGTERM; the WAL keeps every
acknowledged write) and starts its own on the same port, which it then supervises and stops
on exit. A host that cannot get the lock joins the owner's server (waiting while the owner
brings it back). The folder and the server's files are private to the user (0700 / 0600).

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

from counterflow.store.supervisor import (Backoff, FolderLock, command_line, exit_reason, last_line,
                                          port_free, private_folder, running)

log = logging.getLogger(__name__)

PORT_FILE = "nx-27017.port"
PID_FILE = "nx-27017.pid"
LOG_FILE = "nx-27017.log"
LOCK_FILE = "nx-27017.lock"


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

    The owner (the holder of the folder's lock, which started the server) also supervises it:
    see the module docstring. A joiner neither supervises nor stops the owner's server; an
    orphan (a server whose owner is gone) is replaced by the next host that starts.
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
        self._lock_file = FolderLock(self.data_dir / LOCK_FILE)

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
        """Join the folder's running server, or take the folder and start one; its URI once it answers.

        A host that takes the folder's lock while a server answers there replaces that orphan.
        A start that fails (the process exits, e.g. because another server on the folder is
        still coming up) is retried with back-off and logged, until `timeout` seconds; so is
        a join while the owner's server does not answer yet.
        """
        timeout = self.START_TIMEOUT if timeout is None else timeout
        private_folder(self.data_dir)
        private_folder(self.data_dir / "db")
        self._stopping.clear()
        deadline = time.monotonic() + timeout
        backoff = Backoff(self.RETRY_FIRST, self.RETRY_CAP)
        attempt, port = 0, None
        while True:
            owner = self._lock_file.acquire()
            existing = self.running_uri()
            if existing and owner is not True:             # the owner's server, or no locks on this system
                self.uri = existing
                return existing
            attempt += 1
            if owner is False:
                why = f"the folder is held by another process (pid {self._lock_file.holder()}) whose store " \
                      "does not answer yet"
            else:
                if existing:
                    port = self._retire_orphan(existing)
                if port is None or not port_free(port):
                    port = _free_port()
                proc = self._spawn(port)
                failed = self._await(proc, port, deadline, attempt)
                if failed is None:
                    return self._started(proc, port)
                why = failed
            delay = backoff.next()
            if time.monotonic() + delay >= deadline:
                self._lock_file.release()
                raise RuntimeError(f"the embedded store did not start within {timeout:.0f}s "
                                   f"({attempt} attempt(s), last: {why}); see {self.log_path}")
            log.warning("the embedded store did not start (attempt %d: %s); retrying in %.1fs; see %s",
                        attempt, why, delay, self.log_path)
            time.sleep(delay)

    def _retire_orphan(self, uri: str) -> int | None:
        """Stop a server left on the folder by a host that is gone; the port it used, to start on again."""
        port = int(uri.rsplit(":", 1)[1].strip("/"))
        try:
            pid = int((self.data_dir / PID_FILE).read_text().strip())
        except (OSError, ValueError):
            return None
        args = command_line(pid)
        ours = args is not None and any("nx_27017" in a for a in args) and str(self.data_dir / "db") in args
        if args is not None and not ours:
            log.error("the folder's pid file names pid %d, which is not its store (%s); starting a new one",
                      pid, " ".join(args)[:200])
            return None
        log.warning("the embedded store on %s (pid %d) was left running by a host that is gone; stopping it "
                    "so that this host (pid %d) runs and supervises the folder's store",
                    uri, pid, os.getpid())
        try:
            os.kill(pid, signal.SIGTERM)
            gone = time.monotonic() + 10
            while running(pid) and time.monotonic() < gone:
                time.sleep(0.05)
            if running(pid):
                log.warning("the orphaned store (pid %d) did not stop within 10s; killing it", pid)
                os.kill(pid, signal.SIGKILL)
                while running(pid):
                    time.sleep(0.05)
        except ProcessLookupError:
            pass
        for name in (PORT_FILE, PID_FILE):
            try:
                (self.data_dir / name).unlink()
            except OSError:
                pass
        return port

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server if we started it (the watchdog first); the WAL keeps every acknowledged write."""
        self._stopping.set()
        with self._lock:
            proc, self.process = self.process, None
        watchdog, self._watchdog = self._watchdog, None
        if proc is None:
            self._lock_file.release()
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
        self._lock_file.release()

    # -- internals -----------------------------------------------------------------------------

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-c", "from nx_27017.nx_27017 import main; main()",
               "--data-dir", str(self.data_dir / "db"), "--host", "127.0.0.1", "--port", str(port),
               "--log-file", str(self.log_path), "--pid-file", str(self.data_dir / PID_FILE)]
        log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(log_fd, "ab") as out:
            # umask 077: the server's database, WAL and pid files are the user's alone (0600)
            return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, umask=0o077)

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
        for name, value in ((PORT_FILE, port), (PID_FILE, proc.pid)):
            fd = os.open(self.data_dir / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)                       # also when an older version left it 0644
            with os.fdopen(fd, "w") as fh:
                fh.write(str(value))

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
