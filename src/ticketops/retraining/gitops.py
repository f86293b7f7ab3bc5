"""git for a retraining's data version: clone into an empty workspace, commit on a new branch, push it.

Real ``git`` subprocesses. An HTTPS token reaches git through a credential helper that reads it from the
environment of that one git process: it is never part of a URL, a config file or a log line.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

# `git credential fill` asks the helper with the argument "get"; it answers with the two variables below.
CREDENTIAL_HELPER = (
    '!f() { test "$1" = get && echo "username=${TICKETOPS_GIT_USERNAME}" '
    '&& echo "password=${TICKETOPS_GIT_TOKEN}"; }; f'
)


class GitError(RuntimeError):
    """A git command failed; the message carries its stderr with any credentials in URLs removed."""


def redact(url: str) -> str:
    """``https://user:secret@host/x`` -> ``https://host/x``: what may be recorded and logged."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", url)


@dataclass(frozen=True)
class Git:
    """git in ``root``, with an optional HTTPS token and the identity that signs the data-version commits."""

    root: Path
    username: str = "git"
    token: str | None = None
    author_name: str = "ticketops-retrain"
    author_email: str = "ticketops-retrain@localhost"

    def env(self) -> dict[str, str]:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # fail, never wait for a password on a Job's stdin
        if self.token:
            first = int(env.get("GIT_CONFIG_COUNT", "0"))
            # An empty helper first: git forgets any helper configured elsewhere, then asks only ours.
            for offset, value in enumerate(("", CREDENTIAL_HELPER)):
                env[f"GIT_CONFIG_KEY_{first + offset}"] = "credential.helper"
                env[f"GIT_CONFIG_VALUE_{first + offset}"] = value
            env["GIT_CONFIG_COUNT"] = str(first + 2)
            env["TICKETOPS_GIT_USERNAME"] = self.username
            env["TICKETOPS_GIT_TOKEN"] = self.token
        return env

    def run(self, *args: str, cwd: Path | None = None, stdin: str | None = None) -> str:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd or self.root,
            env=self.env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if result.returncode != 0:
            detail = "\n".join(redact(line) for line in (result.stderr or result.stdout).strip().splitlines())
            raise GitError(f"git {args[0]} failed ({result.returncode}): {detail}")
        return result.stdout.strip()

    def is_repository(self) -> bool:
        return (self.root / ".git").exists()

    def clone(self, url: str, branch: str) -> None:
        """Clone ``branch`` of ``url`` into ``root`` (which must be empty: the Job's workspace)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if any(self.root.iterdir()):
            raise GitError(f"{self.root} is neither a git checkout nor empty: refusing to clone into it")
        self.run("clone", "--quiet", "--branch", branch, "--single-branch", url, ".")

    def head(self) -> str:
        return self.run("rev-parse", "HEAD")

    def origin_url(self) -> str:
        return self.run("remote", "get-url", "origin")

    def changed(self, paths: list[str]) -> list[str]:
        """Paths under ``paths`` that differ from HEAD or are new (ignored files excluded)."""
        output = self.run("status", "--porcelain", "--untracked-files=all", "--", *paths)
        return [line[3:] for line in output.splitlines() if line.strip()]

    def commit_on_branch(self, branch: str, paths: list[str], message: str) -> str:
        """A new branch at HEAD; a commit of ``paths`` on it when they changed. Returns the branch's commit."""
        self.run("switch", "--quiet", "--create", branch)
        if self.changed(paths):
            self.run("add", "--all", "--", *paths)
            identity = ["-c", f"user.name={self.author_name}", "-c", f"user.email={self.author_email}"]
            self.run(*identity, "commit", "--quiet", "--no-verify", "--message", message)
        return self.head()

    def push(self, url: str, branch: str) -> None:
        self.run("push", "--quiet", url, f"HEAD:refs/heads/{branch}")
