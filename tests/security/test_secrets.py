"""No secrets in the repository or the images' build context. Every detector is also run on
samples it must catch, so a broken pattern fails loudly instead of passing an unsafe tree."""

import re
import subprocess

import pytest

from tests.conftest import REPO

# --- a. no secrets in the repository ----------------------------------------------------------

SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    "AWS secret access key": re.compile(
        r"(?i)aws_secret_access_key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])"
    ),
    "private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
}
# scheme://user:<password>@host, reported as "user:<password>@host".
URL_PASSWORD = re.compile(
    r"\b[A-Za-z][A-Za-z0-9+.-]*://([^\s:/@'\"`]+:([^\s/@'\"`]+)@[^\s/:'\"`]+)"
)
# ${VAR}, $VAR, {VAR}, <password>, {{ secret }} and *** are references or redactions.
PLACEHOLDER = re.compile(r"\$?\{\w+\}|\$\w+|<[^>]*>|\{\{.*\}\}|\*+")

# Inline credentials the repository may carry, each checked to still exist (a stale entry fails).
ALLOWED_URL_CREDENTIALS = {
    ("docs/deploy.md", "user:pw@db"): "placeholder in the table of production variables",
    ("deploy/cloudformation.yaml", "user:password@host"): "comment describing the secret's format",
}


def find_secrets(text: str) -> list[tuple[str, str]]:
    found = [(kind, m.group(0)) for kind, p in SECRET_PATTERNS.items() for m in p.finditer(text)]
    for m in URL_PASSWORD.finditer(text):
        if not PLACEHOLDER.fullmatch(m.group(2)):
            found.append(("URL with a password", m.group(1)))
    return found


def repository_files() -> list[str]:
    """Tracked files plus new ones not ignored: everything a commit could carry."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({name for name in listed.split("\0") if name and (REPO / name).is_file()})


@pytest.mark.parametrize(
    "sample",
    [
        "key = " + "AKIA" + "IOSFODNN7EXAMPLE",
        "ASIA" + "ABCDEFGHIJ012345",
        "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        '"AWS_SECRET_ACCESS_KEY": "' + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" + '"',
        "-----BEGIN " + "RSA PRIVATE KEY-----",
        "-----BEGIN " + "OPENSSH PRIVATE KEY-----",
        "-----BEGIN " + "PRIVATE KEY-----",
        "token: " + "ghp_" + "a1B2" * 9,
        "github_pat_" + "11ABCDEFG0" * 3,
        "HOUSING_OPTUNA_URL=postgresql://u:" + "s3cret@db.internal/optuna",
        "mlflow: https://ml:" + "p4ss@mlflow.internal:5000",
    ],
)
def test_the_secret_detectors_catch_what_they_are_for(sample):
    assert find_secrets(sample), sample


@pytest.mark.parametrize(
    "sample",
    [
        "postgresql://optuna@db/optuna",
        "http://mlflow:5000",
        "sqlite:////data/optuna/studies.db",
        "AWS_SECRET_ACCESS_KEY: minio-secret",
        "postgresql://user:${DB_PASSWORD}@db/optuna",
        "postgresql://u:***@db/optuna",
        "s3://bucket/prefix",
    ],
)
def test_the_secret_detectors_let_non_secrets_through(sample):
    assert not find_secrets(sample), sample


def test_no_secrets_in_the_repository():
    files = repository_files()
    assert "pyproject.toml" in files and "housing_serving/app.py" in files, "git saw no checkout"
    leaks, allowed_seen = [], set()
    for name in files:
        data = (REPO / name).read_bytes()
        if b"\0" in data[:8192]:  # images
            continue
        for kind, match in find_secrets(data.decode("utf-8", errors="replace")):
            if (name, match) in ALLOWED_URL_CREDENTIALS:
                allowed_seen.add((name, match))
            else:
                leaks.append(f"{name}: {kind}: {match}")
    assert not leaks, "secrets in the repository:\n" + "\n".join(leaks)
    stale = set(ALLOWED_URL_CREDENTIALS) - allowed_seen
    assert not stale, f"allow-list entries no longer in the repository, remove them: {stale}"


def _docker_excluded(path: str, patterns: list[str]) -> bool:
    """Docker's rule, simplified: a path is out when a pattern matches it or a parent folder."""
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.lstrip("!").strip("/")
        regex = "".join(
            "(?:.*/)?"
            if part == "**/"
            else ".*"
            if part == "**"
            else "[^/]*"
            if part == "*"
            else re.escape(part)
            for part in re.split(r"(\*\*/|\*\*|\*)", body)
        )
        parts = path.split("/")
        if any(re.fullmatch(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            excluded = not negate
    return excluded


def test_dockerignore_keeps_local_state_and_secrets_out_and_what_the_image_copies_in():
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    for path in (
        ".env",
        ".env.prod",
        "deploy/.env",
        ".venv/bin/python",
        ".housing/serving/current",
        ".housing/mlflow/mlflow.db",
        ".git/config",
        "mlruns/0/meta.yaml",
        "mlartifacts/1/model.json",
        ".hypothesis/examples/x",
        "housing_assets/__pycache__/settings.cpython-311.pyc",
        "tests/conftest.py",
    ):
        assert _docker_excluded(path, patterns), f"{path} would be sent to the Docker build"
    dockerfile = (REPO / "Dockerfile").read_text()
    copies = re.findall(r"^COPY (?!--from)(.+?) \S+$", dockerfile, flags=re.M)
    assert copies, "no COPY lines found in the Dockerfile"
    sources = [src for line in copies for src in line.split()]
    assert "." not in sources, "the Dockerfile copies the whole build context"
    for src in sources:
        assert (REPO / src).exists(), src
        assert not _docker_excluded(src, patterns), (
            f".dockerignore drops {src}, which the image needs"
        )
