"""What ``ticketops demo --json`` prints at the end: the scenarios' results, failed requests, links, extras."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class DemoResult:
    scenarios: list[dict] = field(default_factory=list)
    failed_requests: int = 0
    links: dict[str, str] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # people (queue, labels per agent) and the audit trail of the run

    def line(self) -> str:
        return json.dumps({k: v for k, v in {**asdict(self), **self.extra}.items() if k != "extra"})
