"""Reading what `housing run` / `housing train` print (the benchmarks record their figures)."""

from __future__ import annotations


def holdout_mape(output: str) -> str | None:
    """The holdout MAPE (percent, as printed) from the command's summary; None when it trained
    nothing (e.g. `--no-train`)."""
    for line in output.splitlines():
        if line.strip().startswith("holdout ("):
            return line.split("MAPE ")[1].split("%")[0]
    return None
