"""processes.free_port: ports outside the kernel's ephemeral range, never handed out twice, really free."""

from __future__ import annotations

import socket
from pathlib import Path

from ticketops.processes import FIRST_PORT, ephemeral_floor, free_port


def test_ports_come_from_below_the_ephemeral_range_and_never_twice() -> None:
    floor = ephemeral_floor()
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(FIRST_PORT <= port < floor for port in ports)


def test_a_port_in_use_is_never_handed_out(monkeypatch) -> None:
    """The first choice is a port something listens on: it is skipped for the next random one."""
    import random

    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    taken = listening.getsockname()[1]
    real = random.SystemRandom.randrange
    offered: list[int] = []

    def choose(self, start, stop):
        offered.append(taken if not offered else real(self, start, stop))
        return offered[-1]

    monkeypatch.setattr("ticketops.processes.random.SystemRandom.randrange", choose)
    monkeypatch.setattr("ticketops.processes.ephemeral_floor", lambda: 65_535)
    try:
        port = free_port()
    finally:
        listening.close()
    assert offered[0] == taken and port != taken and len(offered) >= 2


def test_the_floor_is_read_from_the_kernel_or_defaults(tmp_path: Path) -> None:
    source = tmp_path / "ip_local_port_range"
    source.write_text("40000\t60999\n")
    assert ephemeral_floor(source) == 40_000
    assert ephemeral_floor(tmp_path / "absent") == 32_768
