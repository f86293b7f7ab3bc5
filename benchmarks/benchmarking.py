"""Shared by the scripts under benchmarks/: describe the machine and write a JSON report under reports/bench/."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import psutil

from ticketops.fileio import write_json
from ticketops.settings import project_root


def machine_info() -> dict[str, Any]:
    """What the figures depend on: CPU model and count, memory, Python, load when measured."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory_gib = round(total_kib / 1024**2, 1)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def write_report(name: str, results: dict[str, Any]) -> Path:
    """reports/bench/<name>.json with the machine and the time of measurement beside the results."""
    path = project_root() / "reports" / "bench" / f"{name}.json"
    write_json(
        path,
        {
            "benchmark": name,
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": machine_info(),
            **results,
        },
    )
    return path


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process and all its descendants (the scoring server's workers)."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        for proc in (root, *root.children(recursive=True)):
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
    except psutil.NoSuchProcess:
        return 0.0
    return total
