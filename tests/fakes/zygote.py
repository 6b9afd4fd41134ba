"""A process that has imported the bot once and forks a bot process on request (`BotProcess`).

Started by the tests with the path of a Unix socket to listen on; it ends when its standard
input closes (the test process ended). A request is one JSON line (environment, working
directory, arguments) with a file descriptor for the child's output; the answer is the child's
pid, then, when it ends, its exit status (minus the signal's number if one ended it), each a line.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import sys
import traceback

import bot.cli  # the imports every child shares: most of a fresh bot's start-up

MAX_REQUEST = 1 << 20


def _child(request: dict[str, object], out: int) -> int:
    for fd in (1, 2):
        os.dup2(out, fd)
    os.close(out)
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.close(nothing)
    # Line by line, as PYTHONUNBUFFERED would have it for a fresh interpreter.
    sys.stdout = open(1, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115
    os.chdir(str(request["cwd"]))
    os.environ.clear()
    os.environ.update(request["env"])  # type: ignore[call-overload]
    try:
        return bot.cli.main(list(request["args"]))  # type: ignore[call-overload]
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def main(path: str) -> None:
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(sys.stdin, selectors.EVENT_READ, "stdin")
    selector.register(wake_r, selectors.EVENT_READ, "child")
    children: dict[int, socket.socket] = {}
    while True:
        for key, _ in selector.select():
            if key.data == "stdin":
                if not os.read(sys.stdin.fileno(), 4096):
                    return
            elif key.data == "child":
                os.read(wake_r, 4096)
                _report_ended(children)
            else:
                conn, _ = listener.accept()
                data, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, 1)
                pid = os.fork()
                if pid == 0:
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    for open_ in (listener, conn, *children.values()):
                        open_.close()
                    os._exit(_child(json.loads(data), fds[0]))
                os.close(fds[0])
                conn.sendall(f"{pid}\n".encode())
                children[pid] = conn


def _report_ended(children: dict[int, socket.socket]) -> None:
    while children:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        with contextlib.suppress(OSError):  # nobody waits for it any more
            conn.sendall(f"{code}\n".encode())
        conn.close()


if __name__ == "__main__":
    main(sys.argv[1])
