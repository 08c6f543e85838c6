"""The interactive REPL on a real pseudo-terminal: Ctrl-C mid-stream, slash commands."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from miolumi.testing import FakeOpenAIServer


class Terminal:
    """A child process on a pty, with a read-until helper."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
        )
        os.close(slave)
        self.seen = ""

    def read_until(self, needle: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {needle!r}; screen so far:\n{self.seen}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096).decode("utf-8", "replace")
                except OSError:  # the child closed the pty
                    break
        assert needle in self.seen, self.seen
        return self.seen

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=20)
        finally:
            if self.master >= 0:
                os.close(self.master)
                self.master = -1


@contextmanager
def terminal(server: FakeOpenAIServer, *args: str) -> Iterator[Terminal]:
    env = {**os.environ, "MIOLUMI_BASE_URL": server.base_url, "MIOLUMI_MODEL": "fake-model"}
    term = Terminal([sys.executable, "-m", "miolumi", "chat", *args], env)
    try:
        yield term
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
        term.close()


def test_ctrl_c_mid_stream_keeps_the_repl_and_records_nothing() -> None:
    # Output checks release whole sentences: the reply needs several for its start to show
    # while the rest still streams (one long sentence shows at once, at its end).
    slow = "One. Two. Three. Four. Five. Six. Seven. Eight. Nine. Ten. Eleven. Twelve."
    with FakeOpenAIServer(replies=[slow, "fine, and you?"], token_delay=0.15) as server:
        with terminal(server, "-u", "u1", "-t", "th") as term:
            term.read_until("you>")
            term.type("tell me a long story\n")
            term.read_until("One. Two.")
            term.proc.send_signal(signal.SIGINT)
            term.read_until("interrupted: this turn was not recorded")
            term.type("how are you?\n")
            term.read_until("fine, and you?")
            term.type("/thread\n")
            term.read_until("Thread: th")
            term.type("/quit\n")
            assert term.close() == 0
        # The interrupted exchange never reached the thread: the second request's history
        # holds only the system prompt and the new message.
        last = server.requests[-1].json["messages"]
        assert [m["content"] for m in last[1:]] == ["how are you?"]


def test_unknown_command_and_empty_line_keep_the_session() -> None:
    with FakeOpenAIServer(replies=["hello!"]) as server, terminal(server, "-u", "u2") as term:
        term.read_until("you>")
        term.type("/dance\n")
        term.read_until("Unknown command /dance")
        term.type("\n")
        term.read_until("The message is empty")
        term.type("hi\n")
        term.read_until("hello!")
        term.type("/help\n")
        term.read_until("/new")
        term.type("\x04")  # Ctrl-D leaves
        assert term.close() == 0
