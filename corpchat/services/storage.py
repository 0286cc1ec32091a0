"""Where file bytes live: a local folder or any S3-compatible store, behind one small interface.

Bytes are streamed in and out in chunks and never held whole in memory. A write goes to a
private temporary file first (counted and hashed while it is written, refused the moment it
passes the cap), so a half-written or refused upload never becomes visible under a key, and the
metadata layer can probe the finished file (Pillow, PyAV) from a real path before it is kept.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from corpchat import config
from corpchat.services.errors import ServiceError

CHUNK = 256 * 1024
# Enough for magic-number sniffing and for image headers (PNG IHDR, JPEG SOF, WebP VP8X).
HEAD_BYTES = 64 * 1024
KEY_BYTES = 24
_KEY_RE = re.compile(r"[0-9a-f]{16,64}")


class TooLarge(ServiceError):
    code = "too_large"


class MissingObject(ServiceError):
    code = "not_found"


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    sha256: str
    head_bytes: bytes


def new_key() -> str:
    # Random, so a key reveals nothing and cannot be guessed; hex so it is safe as a file name.
    return secrets.token_hex(KEY_BYTES)


def _check_key(key: str) -> str:
    # Only keys this module made: nothing a caller passes can reach outside the folder or bucket.
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise MissingObject()
    return key


class Upload:
    """An upload in progress: `write` chunks, then `commit` (keep it) or `abort` (forget it)."""

    def __init__(self, storage: Storage, max_bytes: int):
        self.storage = storage
        self.max_bytes = max_bytes
        self.size = 0
        self._sha = hashlib.sha256()
        self._head = bytearray()
        fd, name = tempfile.mkstemp(prefix="up-", suffix=".part", dir=storage.tmp_dir())
        self.path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        if self._file is None:
            raise RuntimeError("upload already finished")
        self.size += len(data)
        if self.size > self.max_bytes:
            self.abort()
            raise TooLarge("err.file_too_large", max_bytes=self.max_bytes)
        if len(self._head) < HEAD_BYTES:
            self._head += data[: HEAD_BYTES - len(self._head)]
        self._sha.update(data)
        self._file.write(data)

    def replace(self, data: bytes) -> None:
        """After `finish_writing`: the file becomes `data` (size, hash and head follow)."""
        if self._file is not None:
            raise RuntimeError("upload still being written")
        self.path.write_bytes(data)
        self.size, self._sha, self._head = len(data), hashlib.sha256(data), bytearray(data[:HEAD_BYTES])

    def replace_file(self, path: Path) -> None:
        """After `finish_writing`: the file at `path` (same folder: a rename) becomes the upload,
        read once in chunks for its size, hash and head."""
        if self._file is not None:
            raise RuntimeError("upload still being written")
        os.replace(path, self.path)
        sha, head, size = hashlib.sha256(), bytearray(), 0
        with open(self.path, "rb") as f:
            while chunk := f.read(CHUNK):
                sha.update(chunk)
                size += len(chunk)
                if len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
        self.size, self._sha, self._head = size, sha, head

    @property
    def head_bytes(self) -> bytes:
        return bytes(self._head)

    def finish_writing(self) -> None:
        """Flush to disk; after this `path` holds the whole file, ready to probe."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def commit(self, key: str | None = None) -> StoredFile:
        self.finish_writing()
        key = key or new_key()
        try:
            self.storage._adopt(self.path, key)
        finally:
            self.path.unlink(missing_ok=True)
        return StoredFile(key, self.size, self._sha.hexdigest(), self.head_bytes)

    def abort(self) -> None:
        try:
            if self._file is not None:
                file, self._file = self._file, None
                file.close()  # on a full disk the flush of the buffered tail raises here
        finally:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is not None:
            self.abort()


class Storage:
    """The interface both backends implement."""

    name = "base"

    def tmp_dir(self) -> str:
        raise NotImplementedError

    def _adopt(self, path: Path, key: str) -> None:
        """Take a finished temporary file in under `key` (the temp file is removed afterwards)."""
        raise NotImplementedError

    def begin(self, max_bytes: int) -> Upload:
        return Upload(self, max_bytes)

    def put(self, stream: Iterable[bytes] | BinaryIO, max_bytes: int) -> StoredFile:
        """Stream `stream` (an iterable of chunks or a binary file) in; TooLarge past `max_bytes`."""
        chunks = iter(lambda: stream.read(CHUNK), b"") if hasattr(stream, "read") else stream
        with self.begin(max_bytes) as upload:
            for chunk in chunks:
                if chunk:
                    upload.write(chunk)
            return upload.commit()

    def sweep_tmp(self, older_than: float = 24 * 3600) -> int:
        """Remove temporary files left by a crash mid-upload; returns how many."""
        removed, cutoff = 0, time.time() - older_than
        for entry in os.scandir(self.tmp_dir()):
            if entry.name.startswith("up-") and entry.name.endswith(".part") and entry.stat().st_mtime < cutoff:
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
        return removed

    def size(self, key: str) -> int:
        raise NotImplementedError

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Chunks of bytes start..end inclusive (end None: to the end of the object)."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

class LocalStorage(Storage):
    name = "local"

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._tmp = self.root / ".tmp"
        # Same filesystem as the objects, so keeping an upload is an atomic rename.
        self._tmp.mkdir(parents=True, exist_ok=True, mode=0o700)

    def tmp_dir(self) -> str:
        return str(self._tmp)

    def _path(self, key: str) -> Path:
        key = _check_key(key)
        # Two levels of fan-out keep directories small with millions of files.
        return self.root / key[:2] / key[2:4] / key

    def _adopt(self, path: Path, key: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as exc:
            raise MissingObject() from exc

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        try:
            f = open(self._path(key), "rb")  # noqa: SIM115 (closed by the generator)
        except FileNotFoundError as exc:
            raise MissingObject() from exc
        return self._read(f, start, end)

    @staticmethod
    def _read(f: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
        with f:
            f.seek(start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                data = f.read(CHUNK if left is None else min(CHUNK, left))
                if not data:
                    return
                if left is not None:
                    left -= len(data)
                yield data

    def local_path(self, key: str) -> Path:
        return self._path(key)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Storage(Storage):
    name = "s3"

    def __init__(self, endpoint: str, bucket: str, access_key: str, secret_key: str,
                 region: str = "us-east-1", tmp_dir: str | None = None):
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = bucket
        self.client = boto3.client(
            "s3", endpoint_url=endpoint or None, aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None, region_name=region,
            # Path style: self-hosted stores rarely have wildcard DNS for bucket subdomains.
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                          retries={"max_attempts": 3, "mode": "standard"}),
        )
        # Multipart above 16 MB, with bounded parts in flight: memory stays ~4 x 8 MB per upload.
        self.transfer = TransferConfig(multipart_threshold=16 * 1024 * 1024,
                                       multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)
        self._tmp = tmp_dir or tempfile.gettempdir()

    def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def tmp_dir(self) -> str:
        return self._tmp

    def _adopt(self, path: Path, key: str) -> None:
        self.client.upload_file(str(path), self.bucket, _check_key(key), Config=self.transfer)

    def size(self, key: str) -> int:
        from botocore.exceptions import ClientError

        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=_check_key(key))["ContentLength"])
        except ClientError as exc:
            raise MissingObject() from exc

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        from botocore.exceptions import ClientError

        byte_range = f"bytes={start}-" + ("" if end is None else str(end))
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=_check_key(key), Range=byte_range)["Body"]
        except ClientError as exc:
            raise MissingObject() from exc
        return self._read(body)

    @staticmethod
    def _read(body) -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=_check_key(key))

def from_settings(s: config.Settings | None = None) -> Storage:
    s = s or config.settings
    if s.storage_backend == "local":
        return LocalStorage(s.storage_dir)
    if s.storage_backend == "s3":
        if not s.s3_bucket:
            raise config.ConfigError("STORAGE_BACKEND=s3 needs S3_BUCKET (see .env.example)")
        # Uploads are staged on local disk (probed there, then sent as a multipart upload).
        staging = Path(s.storage_dir) / ".tmp"
        staging.mkdir(parents=True, exist_ok=True, mode=0o700)
        store = S3Storage(s.s3_endpoint, s.s3_bucket, s.s3_access_key, s.s3_secret_key, s.s3_region, str(staging))
        store.ensure_bucket()
        return store
    raise config.ConfigError(f"STORAGE_BACKEND must be local or s3, got {s.storage_backend!r}")


_current: Storage | None = None


def current() -> Storage:
    """The configured backend, built on first use (S3 clients are thread-safe and reusable)."""
    global _current
    if _current is None:
        _current = from_settings()
        _current.sweep_tmp()
    return _current


def use(storage: Storage | None) -> None:
    """Swap the backend (tests run the same code against both)."""
    global _current
    _current = storage
