"""Two demos on one machine: only the first takes the usual ports, so neither finds its port taken minutes later."""

from __future__ import annotations

import socket
from pathlib import Path

from ticketops.demo.stack import DEFAULT_PORTS, claim_default_ports, pick_ports


def test_the_second_demo_does_not_get_the_usual_ports_while_the_first_runs(tmp_path: Path) -> None:
    first = claim_default_ports(tmp_path)
    assert first is not None
    assert claim_default_ports(tmp_path) is None  # another demo holds them
    first.close()  # the first demo ended (or crashed)
    again = claim_default_ports(tmp_path)
    assert again is not None
    again.close()


def test_without_the_claim_no_usual_port_is_chosen() -> None:
    ports = pick_ports(usual=False)
    assert set(ports) == set(DEFAULT_PORTS)
    assert not set(ports.values()) & set(DEFAULT_PORTS.values())
    assert len(set(ports.values())) == len(ports)


def test_a_usual_port_in_use_is_replaced_by_a_free_one(monkeypatch) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        monkeypatch.setitem(DEFAULT_PORTS, "probe", taken)
        ports = pick_ports(usual=True)
    assert ports["probe"] != taken
