#!/usr/bin/env python3
"""Pin container images by digest.

Every image reference that names a tag but no digest -- the Dockerfile's `# syntax=` frontend and
`FROM` lines, docker-compose.yml's `image:` lines -- becomes `name:tag@sha256:...`: the digest
the registry serves for that tag now. For a multi-platform image that is the digest of its index,
so every platform stays pinned. The tag stays for the reader; Docker pulls by the digest.

  python3 deploy/compose/pin_images.py Dockerfile docker-compose.yml          # pin in place
  python3 deploy/compose/pin_images.py --check Dockerfile docker-compose.yml  # 1 if any unpinned
  python3 deploy/compose/pin_images.py --resolve-only Dockerfile    # print {"ref": "ref@digest"}
  python3 deploy/compose/pin_images.py --pins JSON Dockerfile       # pin from that, no network

Re-pinning (to take a newer base image) means deleting the `@sha256:...` and running it again.
The deploy workflow resolves once and pins its checkout before building, so an image is never
built from a moving tag even while the committed files still carry tags. Standard library only:
it runs on a bare CI runner. It asks the registry anonymously (public images only).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.error import HTTPError

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# A reference in a line: the `# syntax=` directive, `FROM [--platform=...] REF [AS stage]` and
# compose's `image: REF` (optionally quoted).
PATTERNS = (
    re.compile(r"^#\s*syntax\s*=\s*(?P<ref>\S+)", re.I),
    re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(?P<ref>\S+)", re.I),
    re.compile(r"^\s*image:\s*[\"']?(?P<ref>[^\s\"'#]+)"),
)
ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


def references(text: str) -> Iterator[tuple[int, re.Match]]:
    """(line number, match) for each external image reference; build stages named by an earlier
    `FROM ... AS name`, `scratch` and references built from variables are not images to pin."""
    stages: set[str] = {"scratch"}
    for number, line in enumerate(text.splitlines()):
        for pattern in PATTERNS:
            if m := pattern.match(line):
                ref = m.group("ref")
                if ref.lower() not in stages and "$" not in ref:
                    yield number, m
                if stage := re.search(r"\s+AS\s+(\S+)\s*$", line, re.I):
                    stages.add(stage.group(1).lower())
                break


def is_pinned(ref: str) -> bool:
    return bool(re.search(r"@" + DIGEST.pattern + "$", ref))


def unpinned(text: str) -> list[str]:
    return [m.group("ref") for _, m in references(text) if not is_pinned(m.group("ref"))]


def pin_text(text: str, resolve: Callable[[str], str]) -> str:
    """`text` with each unpinned reference followed by `@` and resolve(reference)."""
    lines = text.splitlines(keepends=True)
    for number, m in references(text):
        ref = m.group("ref")
        if is_pinned(ref):
            continue
        digest = resolve(ref)
        if not DIGEST.fullmatch(digest):
            raise ValueError(f"{ref}: not a sha256 digest: {digest!r}")
        line = lines[number]
        lines[number] = line[: m.start("ref")] + f"{ref}@{digest}" + line[m.end("ref") :]
    return "".join(lines)


def parse(ref: str) -> tuple[str, str, str]:
    """registry host, repository, tag of a reference (Docker Hub's conventions)."""
    name, _, _ = ref.partition("@")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "registry-1.docker.io", name
        if "/" not in path:
            path = f"library/{path}"
    repository, _, tag = path.rpartition(":") if ":" in path else (path, "", "latest")
    return registry, repository, tag


def _token(challenge: str) -> str:
    """An anonymous pull token from a `WWW-Authenticate: Bearer realm=...` challenge."""
    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm = fields.pop("realm")
    with urllib.request.urlopen(f"{realm}?{urllib.parse.urlencode(fields)}", timeout=30) as r:
        answer = json.load(r)
    return answer.get("token") or answer["access_token"]


def resolve(ref: str, scheme: str = "https") -> str:
    """The digest the registry serves for `ref`'s tag now (Docker registry HTTP API v2)."""
    registry, repository, tag = parse(ref)
    url = f"{scheme}://{registry}/v2/{repository}/manifests/{tag}"
    headers = {"Accept": ACCEPT}
    for method in ("HEAD", "GET"):  # HEAD first: Docker Hub does not count it against its limit
        request = urllib.request.Request(url, method=method, headers=headers)
        try:
            response = urllib.request.urlopen(request, timeout=30)
        except HTTPError as error:
            if error.code != 401 or "Authorization" in headers:
                raise
            headers["Authorization"] = f"Bearer {_token(error.headers['WWW-Authenticate'])}"
            request = urllib.request.Request(url, method=method, headers=headers)
            response = urllib.request.urlopen(request, timeout=30)
        with response:
            if digest := response.headers.get("Docker-Content-Digest"):
                return digest
            if method == "GET":  # no header: the digest is the hash of the manifest served
                return "sha256:" + hashlib.sha256(response.read()).hexdigest()
    raise RuntimeError(f"{ref}: the registry gave no digest")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="list unpinned references, exit 1")
    mode.add_argument("--resolve-only", action="store_true", help="print the pins as JSON")
    mode.add_argument("--pins", help='JSON {"ref": "ref@sha256:..."}: pin from it, no network')
    args = parser.parse_args(argv)

    texts = {path: path.read_text() for path in args.files}
    refs = sorted({ref for text in texts.values() for ref in unpinned(text)})
    if args.check:
        for ref in refs:
            print(f"not pinned by digest: {ref}", file=sys.stderr)
        return 1 if refs else 0
    if args.pins is not None:
        given = json.loads(args.pins)
        if missing := [ref for ref in refs if ref not in given]:
            print(f"no pin given for: {', '.join(missing)}", file=sys.stderr)
            return 2
        pins = {ref: given[ref] for ref in refs}
    else:
        pins = {ref: f"{ref}@{resolve(ref)}" for ref in refs}
    if args.resolve_only:
        print(json.dumps(pins, separators=(",", ":")))
        return 0
    for path, text in texts.items():
        pinned = pin_text(text, lambda ref: pins[ref].rpartition("@")[2])
        if pinned != text:
            path.write_text(pinned)
    for ref, pin in pins.items():
        print(f"{ref} -> {pin}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
