"""Driving ``aiops`` on a real pseudo-terminal, as a person at a keyboard does (pexpect).

:class:`Terminal` spawns ``python -m aiops ...`` on a pty of a given size (stdin is a tty, so
the demo is interactive), keeps everything it printed with ANSI escapes and carriage returns
removed (:attr:`Terminal.text`), and waits for a regular expression to appear in it, bounded in
time. Keys go through the pty: ``line`` types a line and Enter, ``ctrl_c`` sends the terminal's
interrupt character, so the kernel raises SIGINT as it would for a person.
"""

from __future__ import annotations

import re
import sys
import time

import pexpect

from tests.cli.helpers import cli_env

#: Colour, cursor and erase sequences, OSC titles, and carriage returns (rich's spinners).
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\r")


class Terminal:
    """One ``aiops`` process on a pty of ``columns`` x ``rows``; close it with :meth:`close`."""

    def __init__(self, *args: str, columns: int = 80, rows: int = 50, **env: str) -> None:
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "aiops", *args],
            env=cli_env(TERM="xterm-256color", **env),
            dimensions=(rows, columns),
            encoding="utf-8",
            codec_errors="replace",
        )
        self.text = ""
        self._position = 0

    def _pump(self, timeout_seconds: float) -> bool:
        """Read what is there (waiting up to ``timeout_seconds``); False at end of output."""
        try:
            data = self.child.read_nonblocking(65536, timeout=timeout_seconds)
        except pexpect.TIMEOUT:
            return True
        except pexpect.EOF:
            return False
        self.text += _ESCAPES.sub("", data)
        return True

    def expect(self, pattern: str, timeout_seconds: float = 60.0) -> re.Match[str]:
        """The first match of ``pattern`` after the previous one; fails after ``timeout_seconds``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout_seconds
        while True:
            match = regex.search(self.text, self._position)
            if match is not None:
                self._position = match.end()
                return match
            alive = self._pump(0.2)
            if not alive or time.monotonic() > deadline:
                match = regex.search(self.text, self._position)
                if match is not None:
                    self._position = match.end()
                    return match
                why = "exited" if not alive else f"did not print it within {timeout_seconds} s"
                printed = self.text[-4000:]
                raise AssertionError(f"waiting for {pattern!r}: aiops {why}; it printed:\n{printed}")

    def since(self, match: re.Match[str]) -> str:
        """Everything printed from ``match`` up to now."""
        return self.text[match.start() :]

    def line(self, text: str) -> None:
        """Type ``text`` and Enter."""
        self.child.sendline(text)

    def ctrl_c(self) -> None:
        """Press Ctrl-C: the terminal sends SIGINT to the foreground process."""
        self.child.sendintr()

    def wait_exit(self, timeout_seconds: float = 60.0) -> int:
        """The exit code, once the process has ended (killed and failed after ``timeout_seconds``)."""
        deadline = time.monotonic() + timeout_seconds
        while self._pump(0.2):
            if time.monotonic() > deadline:
                self.close()
                raise AssertionError(f"aiops did not exit within {timeout_seconds} s:\n{self.text[-4000:]}")
        self.child.close()
        if self.child.exitstatus is None:
            raise AssertionError(f"aiops ended by signal {self.child.signalstatus}:\n{self.text[-4000:]}")
        return int(self.child.exitstatus)

    def close(self, grace_seconds: float = 20.0) -> None:
        """Stop the process if it still runs: Ctrl-C first (the demo then removes its Redis
        keys), killed if it has not ended after ``grace_seconds``."""
        if self.child.isalive():
            self.ctrl_c()
            deadline = time.monotonic() + grace_seconds
            while self._pump(0.2) and time.monotonic() < deadline:
                pass
        if self.child.isalive():
            self.child.terminate(force=True)
        self.child.close(force=True)
