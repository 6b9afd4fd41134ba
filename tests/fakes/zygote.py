"""A process that has imported the bot once and forks a bot process on request (`BotProcess`).

Started by the tests with the path of a Unix socket to listen on; it ends when its standard
input closes (the test process ended). A request is one JSON line (environment, working
directory, arguments) with a file descriptor for the child's output; the answer is the child's
pid, then, when it ends, its exit status (minus the signal's number if one ended it), each a line.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import signal
import socket
import sys
from typing import Any, NoReturn

ZYGOTE = os.getpid()


class _Exit:
    """A bot's exit status, for its last exit function."""

    status = 1  # an exception escaped main()


@atexit.register  # before the bot's imports: the exit functions run last-registered first
def _skip_teardown() -> None:
    """A bot's interpreter has waited for its threads and run its exit functions (logging's
    flush among them): the teardown of the modules it shares with the zygote, a quarter of a
    second, is left out."""
    if os.getpid() != ZYGOTE:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_Exit.status)


import bot.cli  # noqa: E402 (the imports every child shares: most of a fresh bot's start-up)

MAX_REQUEST = 1 << 20


def _become_bot(request: dict[str, Any], out: int) -> NoReturn:
    """In the forked child: what `python -m bot ARGS` does, in the request's directory and
    environment, its output going to `out`; it ends as that interpreter would (atexit,
    non-daemon threads, an uncaught exception's traceback, `SystemExit`'s status)."""
    for fd in (1, 2):
        os.dup2(out, fd)
    os.close(out)
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.close(nothing)
    # Line by line, as PYTHONUNBUFFERED would have it for a fresh interpreter.
    sys.stdout = open(1, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    try:
        _Exit.status = bot.cli.main(list(request["args"]))
    except SystemExit as stop:  # as the interpreter reads it: None is 0, a message 1
        _Exit.status = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
        raise
    sys.exit(_Exit.status)


class Zygote:
    def __init__(self, path: str) -> None:
        self.pid = os.getpid()
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(path)
        self.listener.listen(64)
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(sys.stdin, selectors.EVENT_READ, "stdin")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "ended")
        self.children: dict[int, socket.socket] = {}  # pid -> its requester's connection

    def serve(self) -> None:
        """Until the test process ends (standard input closes): then its bots end too."""
        try:
            while self._serve_once():
                pass
        finally:
            # A child leaves through here too, as its interpreter exits: not its business.
            if os.getpid() == self.pid:
                self._end()

    def _end(self) -> None:
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os.unlink(self.path)
        os.rmdir(os.path.dirname(self.path))

    def _serve_once(self) -> bool:
        for key, _ in self.selector.select():
            if key.data == "stdin":
                if not os.read(sys.stdin.fileno(), 4096):
                    return False
            elif key.data == "ended":
                os.read(self.wake_r, 4096)
                self._report_ended()
            elif key.data == "accept":
                self._fork(self.listener.accept()[0])
            else:  # a requester gone (its test ended or failed): its bot goes too
                with contextlib.suppress(ProcessLookupError):
                    os.kill(key.data, signal.SIGKILL)
                self.selector.unregister(key.fileobj)
        return True

    def _fork(self, conn: socket.socket) -> None:
        data, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, 1)
        if not fds:
            conn.close()
            return
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self.selector.close()
            os.close(self.wake_r)
            for open_ in (self.listener, conn, *self.children.values()):
                open_.close()
            _become_bot(json.loads(data), fds[0])
        os.close(fds[0])
        conn.sendall(f"{pid}\n".encode())
        self.children[pid] = conn
        self.selector.register(conn, selectors.EVENT_READ, pid)

    def _report_ended(self) -> None:
        while self.children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            if (conn := self.children.pop(pid, None)) is None:
                continue
            self.selector.unregister(conn)
            with contextlib.suppress(OSError):  # nobody waits for it any more
                conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
            conn.close()


if __name__ == "__main__":
    Zygote(sys.argv[1]).serve()
