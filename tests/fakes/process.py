"""Runs the real bot (`python -m bot`) as a process of its own against the fake servers.

Each bot is forked by `tests/fakes/zygote.py`, a process that imported the bot once, rather than
started as a fresh interpreter: it is still a real process (its own environment, working
directory, signals and exit status, output read from a pipe), without paying Python's start and
the bot's imports, most of a short test's cost, every time."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class _Zygote:
    """The test process's zygote, started with the first bot and ended with the test process
    (it stops when its standard input closes)."""

    _path: str | None = None
    _process: subprocess.Popen[bytes] | None = None

    @classmethod
    def socket_path(cls) -> str:
        if cls._process is None or cls._process.poll() is not None:
            cls._path = str(Path(tempfile.mkdtemp(prefix="zygote-")) / "socket")
            cls._process = subprocess.Popen(
                [sys.executable, "-m", "tests.fakes.zygote", cls._path],
                cwd=REPO,
                stdin=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
        assert cls._path
        return cls._path


async def _connect(path: str, timeout: float = 30.0) -> socket.socket:
    """The zygote's socket, once it listens (its imports take a second or two)."""
    async with asyncio.timeout(timeout):
        while True:
            sock = socket.socket(socket.AF_UNIX)
            sock.setblocking(False)
            try:
                await asyncio.get_running_loop().sock_connect(sock, path)
                return sock
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                await asyncio.sleep(0.05)


class BotProcess:
    """One bot process; its combined output is kept in `output`."""

    def __init__(self, env: dict[str, str], cwd: Path, args: tuple[str, ...] = ()) -> None:
        self.env = env
        self.cwd = cwd
        self.args = args
        self.output = ""
        self._output_grew = asyncio.Condition()
        self.pid = 0
        self._control: asyncio.StreamReader | None = None
        self._exited: asyncio.Task[int] | None = None
        self._control_writer: asyncio.StreamWriter | None = None
        self._output_writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(self.cwd)),
            "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        ours, theirs = socket.socketpair()
        control: socket.socket | None = None
        try:
            control = await _connect(_Zygote.socket_path())
            request = json.dumps({"env": env, "cwd": str(self.cwd), "args": self.args})
            socket.send_fds(control, [request.encode()], [theirs.fileno()])
            theirs.close()  # the child's copy alone keeps it open: its output ends with it
            # The writers are kept: a StreamWriter closes its socket when it is collected.
            self._control, self._control_writer = await asyncio.open_connection(sock=control)
            self.pid = int(await self._control.readline())
            reader, self._output_writer = await asyncio.open_connection(sock=ours)
        except BaseException:
            # The zygote kills a bot whose requester is gone: none is left running unseen.
            for sock in (ours, theirs, control):
                if sock is not None:
                    sock.close()
            raise
        self._exited = asyncio.create_task(self._exit_status())
        self._reader = asyncio.create_task(self._read(reader))

    async def _exit_status(self) -> int:
        assert self._control
        return int(await self._control.readline())

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            async with self._output_grew:
                self.output += line.decode(errors="replace")
                self._output_grew.notify_all()

    async def wait_for_output(self, text: str, timeout: float = 15.0) -> None:
        """Wait until the process has printed `text`."""
        async with asyncio.timeout(timeout), self._output_grew:
            await self._output_grew.wait_for(lambda: text in self.output)

    @property
    def running(self) -> bool:
        return self._exited is not None and not self._exited.done()

    def send_signal(self, sig: int) -> None:
        """Send `sig` and return at once: SIGSTOP pauses the process, SIGCONT resumes it."""
        assert self.running
        os.kill(self.pid, sig)

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send `sig` and wait for the exit; the exit status is returned."""
        if self.running:
            self.send_signal(sig)
        try:
            return await self.wait(timeout)
        except TimeoutError:
            os.kill(self.pid, signal.SIGKILL)
            return await self.wait()

    async def wait(self, timeout: float = 20.0) -> int:
        """The exit status (minus the signal's number if one ended it), once the process ends."""
        assert self._exited
        async with asyncio.timeout(timeout):
            code = await asyncio.shield(self._exited)
        if self._reader:
            await self._reader
        for writer in (self._control_writer, self._output_writer):
            if writer:
                writer.close()
        return code
