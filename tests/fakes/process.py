"""Runs the real bot (`python -m bot`) as a child process against the fake servers."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class BotProcess:
    """One `python -m bot` process; its combined output is kept in `output`."""

    def __init__(self, env: dict[str, str], cwd: Path, args: tuple[str, ...] = ()) -> None:
        self.env = env
        self.cwd = cwd
        self.args = args
        self.output = ""
        self._output_grew = asyncio.Condition()
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(self.cwd)),
            "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *self.args,
            cwd=self.cwd,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._proc and self._proc.stdout
        async for line in self._proc.stdout:
            async with self._output_grew:
                self.output += line.decode(errors="replace")
                self._output_grew.notify_all()

    async def wait_for_output(self, text: str, timeout: float = 15.0) -> None:
        """Wait until the process has printed `text`."""
        async with asyncio.timeout(timeout), self._output_grew:
            await self._output_grew.wait_for(lambda: text in self.output)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def send_signal(self, sig: int) -> None:
        """Send `sig` and return at once: SIGSTOP pauses the process, SIGCONT resumes it."""
        assert self._proc and self._proc.returncode is None
        self._proc.send_signal(sig)

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send `sig` and wait for the exit; the exit status is returned."""
        assert self._proc
        if self._proc.returncode is None:
            self._proc.send_signal(sig)
        try:
            async with asyncio.timeout(timeout):
                code = await self._proc.wait()
        except TimeoutError:
            self._proc.kill()
            code = await self._proc.wait()
        if self._reader:
            await self._reader
        return code

    async def wait(self, timeout: float = 20.0) -> int:
        assert self._proc
        async with asyncio.timeout(timeout):
            code = await self._proc.wait()
        if self._reader:
            await self._reader
        return code
