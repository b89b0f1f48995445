"""The commands of the README and the docs as a user reads them: each ```bash block split into
shell commands, and the commands written inline (`uv run …`, `curl …`) outside the blocks. The
pages come in the order a reader meets them: the README, then the docs site's navigation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
# Inline code spans that are commands to run, not flags or file names.
INLINE = re.compile(r"`((?:uv run|curl|bash|docker|aws|python3?)\s[^`]+)`")


@dataclass(frozen=True)
class Command:
    text: str  # as written, comments and line continuations removed
    line: int  # line of its page where it starts
    block: int | None  # the ```bash block's number (1-based); None for an inline command
    page: str = "README.md"  # relative to the repository root

    @property
    def where(self) -> str:
        return f"{self.page} line {self.line}"

    @property
    def session(self) -> tuple[str, int | None]:
        """The block it belongs to, told apart across pages."""
        return (self.page, self.block)

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


def pages() -> list[Path]:
    """The README, then every page of the docs site in its navigation's order."""
    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"]

    def walk(entries) -> list[str]:
        out: list[str] = []
        for entry in entries:
            for value in entry.values() if isinstance(entry, dict) else [entry]:
                out += walk(value) if isinstance(value, list) else [value]
        return out

    return [README, *(REPO / "docs" / name for name in walk(nav))]


def all_commands() -> list[Command]:
    """Every page's block commands, then the inline ones no block shows (run there)."""
    blocks, inline = [], []
    for path in pages():
        text, page = path.read_text(), str(path.relative_to(REPO))
        blocks += block_commands(text, page)
        inline += inline_commands(text, page)
    written = {c.foreground_text for c in blocks}
    seen: dict[str, Command] = {}
    for command in inline:
        if command.text not in written:
            seen.setdefault(command.text, command)
    return blocks + list(seen.values())


def block_commands(text: str | None = None, page: str = "README.md") -> list[Command]:
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
            assert not buffer, f"{page} line {start}: a command in block {block} never ends"
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
        out.append(Command(buffer, start, block, page))
        buffer = ""
    return out


def inline_commands(text: str | None = None, page: str = "README.md") -> list[Command]:
    """Commands written as inline code outside the ```bash blocks, each once, in page order."""
    source = text if text is not None else README.read_text()
    outside = re.sub(r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), source, flags=re.S)
    seen: dict[str, Command] = {}
    for m in INLINE.finditer(outside):
        command = " ".join(m.group(1).split())
        line = outside.count("\n", 0, m.start()) + 1
        seen.setdefault(command, Command(command, line, None, page))
    return list(seen.values())
