"""Generate monitoring/grafana/*.json (operations, business) from src/ticketops/monitoring/grafana/.

The JSON is committed so Grafana (import, provisioning) needs no Python; edit the code, never the JSON, and
run ``python scripts/grafana_dashboards.py``. ``--check`` exits 1 when a committed file is out of date.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ticketops.monitoring.grafana.export import stale_files, write
from ticketops.settings import project_root

GRAFANA_DIR = Path("monitoring/grafana")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the files are up to date")
    args = parser.parse_args(argv)
    folder = project_root() / GRAFANA_DIR
    stale = stale_files(folder)
    if args.check:
        for name in stale:
            print(f"{GRAFANA_DIR / name} is out of date: run python scripts/grafana_dashboards.py", file=sys.stderr)
        return 1 if stale else 0
    if stale:
        write(folder)
        print(f"wrote {', '.join(str(GRAFANA_DIR / name) for name in stale)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
