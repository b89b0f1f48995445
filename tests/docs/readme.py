"""The README's commands as a user reads them: each ```bash block split into shell commands, and
the commands written inline (`uv run …`, `curl …`) outside the blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
# Inline code spans that are commands to run, not flags or file names.
INLINE = re.compile(r"`((?:uv run|curl|bash|docker|aws|python3?)\s[^`]+)`")


@dataclass(frozen=True)
class Command:
    text: str  # as written, comments and line continuations removed
    line: int  # README line where it starts
    block: int | None  # the ```bash block's number (1-based); None for an inline command

    @property
    def background(self) -> bool:
        return self.text.endswith("&") and not self.text.endswith("&&")

    @property
    def foreground_text(self) -> str:
        return self.text.removesuffix("&").rstrip() if self.background else self.text


def _open_quote(text: str) -> str | None:
    """The quote character left open at the end of `text` (shell rules, enough for a README)."""
    quote = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and (quote == "'" or text[i - 1] != "\\"):
                quote = None
        elif ch in "'\"" and (i == 0 or text[i - 1] != "\\"):
            quote = ch
    return quote


def _strip_comment(line: str) -> str:
    """`cmd   # comment` -> `cmd` (a # inside quotes or words stays)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def block_commands(text: str | None = None) -> list[Command]:
    """Every command of every ```bash block: continuation lines and multi-line quoted arguments
    joined, a `for … done` loop kept whole."""
    lines = (text if text is not None else README.read_text()).splitlines()
    out: list[Command] = []
    block, inside, buffer, start = 0, False, "", 0
    for number, raw in enumerate(lines, 1):
        if not inside:
            if raw.strip() == "```bash":
                inside, block = True, block + 1
            continue
        if raw.strip() == "```":
            assert not buffer, f"README line {start}: a command in block {block} never ends"
            inside = False
            continue
        if buffer and _open_quote(buffer):
            buffer += "\n" + raw  # inside a quoted argument: comments are text
            if not _open_quote(buffer):
                buffer = _strip_comment(buffer)  # ...until the quote closes
        else:
            part = _strip_comment(raw)
            if not buffer:
                if not part.strip():
                    continue
                start = number
            buffer = f"{buffer} {part.strip()}" if buffer else part.strip()
        if buffer.endswith("\\"):
            buffer = buffer[:-1].rstrip()
            continue
        if _open_quote(buffer):
            continue
        if buffer.startswith("for ") and not re.search(r"(^|[;\s])done$", buffer):
            buffer += ";" if not buffer.endswith(("do", ";")) else ""
            continue
        out.append(Command(buffer, start, block))
        buffer = ""
    return out


def inline_commands(text: str | None = None) -> list[Command]:
    """Commands written as inline code outside the ```bash blocks, each once, in README order."""
    source = text if text is not None else README.read_text()
    outside = re.sub(r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), source, flags=re.S)
    seen: dict[str, Command] = {}
    for m in INLINE.finditer(outside):
        command = " ".join(m.group(1).split())
        line = outside.count("\n", 0, m.start()) + 1
        seen.setdefault(command, Command(command, line, None))
    return list(seen.values())
