"""A throw-away PostgreSQL server from the Debian binaries, started by the tests themselves.

PostgreSQL refuses to run as root, so as root every server command runs as the ``postgres`` user (the Debian
package creates it); otherwise as the current user. The cluster trusts local connections on loopback only
and skips fsync: it exists for one test session. ``stop``/``start`` make real outages.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from ticketops.processes import free_port


def postgres_bin(name: str) -> str:
    """A PostgreSQL server binary (the newest Debian cluster version), or AssertionError naming the fix."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        raise AssertionError(f"{name} not found: install Debian's postgresql (scripts/install-system-packages.sh)")
    return found[-1]


class PostgresServer:
    """initdb once, then start/stop at will; ``url(db)`` for SQLAlchemy (psycopg 3)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ticketops-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            os.chmod(self.root, 0o755)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run(postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _run(self, *command: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        return subprocess.run([*prefix, *command], check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        self._run(
            postgres_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w",
            "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Stop now (open connections are cut, as in a crash of the database host's service)."""
        self._run(postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
