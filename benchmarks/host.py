"""The machine a benchmark ran on, as its records name it.

Sessions land on different hosts (the same commands ran 1.3-1.5x slower on one than another), so
every record says which CPU it measured: a figure is compared with another only on the same one.
"""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or what `platform` knows where that is absent."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
