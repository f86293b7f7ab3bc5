"""Local server processes (bentoml serve, Prometheus, MLflow, ...): start, wait until healthy, stop cleanly.

Used by ``ticketops demo``, the local rollout backend and the integration tests, so every one of them
starts and stops real servers the same way.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx


class ProcessFailed(RuntimeError):
    """A managed process exited or never became healthy; the message carries the tail of its log."""


EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
FIRST_PORT = 10_000  # below: well-known and registered services' ports
_handed_out: set[int] = set()
_handing_out = threading.Lock()


def ephemeral_floor(source: Path = EPHEMERAL_RANGE) -> int:
    """The lowest port the kernel hands out for ``bind(0)`` and outgoing connections (32768 on Linux by default)."""
    try:
        return int(source.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now, and that no one else is about to take.

    Not ``bind(0)``: that gives a port from the ephemeral range, where the kernel also draws every outgoing
    connection's source port and every other process's ``bind(0)``; between this call and the child's own bind,
    any of them could take it (seen: a ``bentoml serve`` of the test suite failing with "Address already in use"
    beside a running demo). A random port between 10000 and the ephemeral range is only ever taken by a server
    that names it, and this process never hands the same one out twice.
    """
    floor = ephemeral_floor()
    chooser = random.SystemRandom()
    with _handing_out:
        for _ in range(1000):
            wanted = chooser.randrange(FIRST_PORT, floor) if floor > FIRST_PORT + 1000 else 0
            if wanted in _handed_out:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("127.0.0.1", wanted))
                except OSError:  # in use (or in TIME_WAIT): try another
                    continue
                port = sock.getsockname()[1]
            _handed_out.add(port)
            return port
    raise RuntimeError("no free TCP port found on 127.0.0.1")


class ManagedProcess:
    """One child process in its own process group, logging to a file."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ):
        self.name = name
        self.command = list(command)
        self.log_path = Path(log_path)
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.process: subprocess.Popen | None = None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
        self.process = subprocess.Popen(
            self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd, start_new_session=True
        )
        log.close()
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_http(self, url: str, timeout: float = 60.0, expect_status: int = 200) -> None:
        """Poll ``url`` until it answers ``expect_status``; fail early if the process dies."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.alive():
                raise ProcessFailed(
                    f"{self.name} exited ({self.process.returncode}) before {url} was up:\n{self.log_tail()}"
                )
            try:
                response = httpx.get(url, timeout=2.0)
                if response.status_code == expect_status:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.25)
        raise ProcessFailed(f"{self.name} not healthy at {url} after {timeout:.0f}s ({last}):\n{self.log_tail()}")

    def signal(self, sig: int) -> None:
        if self.alive():
            os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM the process group, wait, then SIGKILL what is left; returns the exit code."""
        if self.process is None:
            return None
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait(timeout=5)
        return self.process.returncode

    def kill(self) -> None:
        """Hard kill (fault injection): no graceful shutdown."""
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=5)

    def __enter__(self) -> ManagedProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_streaming(cmd: list[str], cwd: Path, on_line: Callable[[str], object] | None = None) -> str:
    """Run a command and return its output, handing each line to ``on_line`` as it comes (DVC's progress).

    A non-zero exit raises CalledProcessError carrying the last 50 lines.
    """
    process = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if on_line is not None:
            on_line(line)
    if process.wait() != 0:
        raise subprocess.CalledProcessError(process.returncode, cmd, "".join(lines[-50:]))
    return "".join(lines)


def wait_until(what: str, condition: Callable[[], object], timeout: float, every: float = 2.0):
    """Poll ``condition`` until it returns something truthy (returned); TimeoutError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def wait_for_work(
    what: str,
    running: Callable[[], bool],
    result: Callable[[], object],
    log: Callable[[str], None],
    cap_s: float,
    every: float = 5.0,
    note_every: float = 60.0,
):
    """Wait for CPU-bound work (a retraining's ``dvc repro``) as long as it runs, noting every ``note_every``
    seconds: on a loaded machine the same work takes many times longer, so a fixed deadline fails healthy runs.
    RuntimeError when the work stops without a result; TimeoutError only beyond ``cap_s`` (a hung process)."""
    started = noted = time.monotonic()
    while True:
        value = result()
        if value:
            return value
        if not running():
            time.sleep(every)  # the result is written just before the work reports it stopped
            value = result()
            if value:
                return value
            raise RuntimeError(f"{what} stopped without a result")
        now = time.monotonic()
        if now - started > cap_s:
            raise TimeoutError(f"{what} still running after {cap_s:.0f}s")
        if now - noted >= note_every:
            log(f"  {what} still running after {now - started:.0f}s (slower on a loaded machine; waiting)")
            noted = now
        time.sleep(every)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists"; check /proc when we can.
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        return "State:\tZ" not in status.read_text()
    return True


def stop_pid(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM the process group (graceful: in-flight requests finish), SIGKILL after ``timeout``."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.1)
