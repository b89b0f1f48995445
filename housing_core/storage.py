"""Key -> bytes stores: a local directory or an S3 prefix, behind one small interface.

Asset files, serving bundles and reports all go through a store, so only the location differs
between environments. Every write is atomic for readers: a local write is a temp file renamed
into place, an S3 PUT is all-or-nothing. Ordered multi-object publication (bundle files, then
manifest, then the `current` pointer) is built on top of that in `bundle.py`.

S3 clients come from boto3, which honours AWS_ENDPOINT_URL_S3 (a local S3 server in tests) and
retries transient errors (throttling, 5xx, connection resets) with exponential backoff.
Why this is not fsspec / universal-pathlib (and the IO manager not Dagster's UPathIOManager):
docs/decisions/store.md.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

S3_RETRIES = {"max_attempts": 6, "mode": "standard"}  # exponential backoff with jitter


class Store(Protocol):
    def describe(self) -> str: ...
    def write(self, key: str, data: bytes) -> None: ...
    def read(self, key: str) -> bytes: ...
    def copy_to(self, key: str, path: Path) -> None: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...


FILE_MODE = 0o644


class LocalStore:
    """A directory as a key -> bytes store; every write is atomic (temp file + rename) and
    readable by others (0644: mkstemp's 0600 kept a container with another uid from reading
    bundles and reports)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def describe(self) -> str:
        return str(self.root)

    def write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def read(self, key: str) -> bytes:
        path = self.root / key
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist")
        return path.read_bytes()

    def copy_to(self, key: str, path: Path) -> None:
        """Copy a key to a local file without holding it in memory."""
        source = self.root / key
        if not source.exists():
            raise FileNotFoundError(f"{source} does not exist")
        shutil.copyfile(source, path)

    def exists(self, key: str) -> bool:
        return (self.root / key).exists()

    def list(self, prefix: str) -> list[str]:
        """Keys under `prefix` (a folder), sorted; temp files of unfinished writes are skipped."""
        base = self.root / prefix
        if not base.is_dir():
            return []
        return sorted(
            str(p.relative_to(self.root))
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )


class S3Store:
    """`s3://bucket/prefix` as a key -> bytes store."""

    def __init__(self, uri: str, client=None):
        if not uri.startswith("s3://"):
            raise ValueError(f"not an s3:// URI: {uri}")
        self.bucket, _, prefix = uri[5:].partition("/")
        if not self.bucket:
            raise ValueError(f"no bucket in {uri}")
        self.prefix = prefix.strip("/")
        self._client = client

    @property
    def client(self):
        if self._client is None:
            self._client = s3_client()
        return self._client

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def write(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def read(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except self.client.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(f"{self.describe()}/{key} does not exist") from exc

    def copy_to(self, key: str, path: Path) -> None:
        """Download a key to a local file in parts, never whole in memory."""
        from botocore.exceptions import ClientError

        try:
            self.client.download_file(self.bucket, self._key(key), str(path))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(f"{self.describe()}/{key} does not exist") from exc
            raise

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def list(self, prefix: str) -> list[str]:
        start = self._key(prefix.strip("/")) + "/"
        keys = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start
        ):
            keys += [o["Key"] for o in page.get("Contents", [])]
        cut = len(self.prefix) + 1 if self.prefix else 0
        return sorted(k[cut:] for k in keys)


def s3_client():
    """boto3 S3 client with retries; the endpoint comes from AWS_ENDPOINT_URL_S3 when set."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(retries=S3_RETRIES))


def store_for(location: str | Path) -> LocalStore | S3Store:
    location = str(location)
    return S3Store(location) if location.startswith("s3://") else LocalStore(location)
