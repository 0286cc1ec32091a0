"""The storage layer on both backends: streamed in and out, capped while reading, atomic."""

from __future__ import annotations

import hashlib
import io
import os
import time
import tracemalloc

import pytest

from corpchat.services import storage
from corpchat.services.storage import CHUNK, LocalStorage, MissingObject, TooLarge

MB = 1024 * 1024


def _chunks(total: int, size: int = CHUNK):
    block = os.urandom(size)
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        yield block[:n]
        sent += n


def test_put_read_range_delete(backend):
    data = os.urandom(3 * CHUNK + 123)
    stored = backend.put(io.BytesIO(data), max_bytes=10 * MB)
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.head_bytes == data[: storage.HEAD_BYTES]
    assert backend.size(stored.key) == len(data)
    assert b"".join(backend.open_range(stored.key)) == data
    assert b"".join(backend.open_range(stored.key, 10, 20)) == data[10:21]
    assert b"".join(backend.open_range(stored.key, CHUNK - 5, 2 * CHUNK + 7)) == data[CHUNK - 5: 2 * CHUNK + 8]
    assert b"".join(backend.open_range(stored.key, len(data) - 3)) == data[-3:]
    backend.delete(stored.key)
    with pytest.raises(MissingObject):
        backend.size(stored.key)
    with pytest.raises(MissingObject):
        b"".join(backend.open_range(stored.key))


def test_keys_are_random_and_foreign_keys_refused(backend):
    a = backend.put([b"same"], 100)
    b = backend.put([b"same"], 100)
    assert a.key != b.key and len(a.key) >= 32
    for bad in ("../etc/passwd", "/etc/passwd", "..", "", "A" * 40, a.key + "/x"):
        with pytest.raises(MissingObject):
            backend.size(bad)


def test_oversize_refused_while_reading_and_cleaned_up(backend):
    consumed = []

    def endless():
        for chunk in _chunks(50 * MB):
            consumed.append(len(chunk))
            yield chunk

    with pytest.raises(TooLarge):
        backend.put(endless(), max_bytes=MB)
    # Refused at the first chunk past the cap, not after reading the whole body.
    assert sum(consumed) <= MB + CHUNK
    assert not os.listdir(backend.tmp_dir()) or all(
        not name.startswith("up-") for name in os.listdir(backend.tmp_dir()))
    exact = backend.put(_chunks(MB), max_bytes=MB)
    assert exact.size == MB


def test_local_files_live_outside_public_dirs_and_appear_atomically(tmp_path):
    from corpchat import config

    default = config.load().storage_dir
    assert default.endswith(os.path.join(".data", "files"))
    store = LocalStorage(tmp_path / "files")
    upload = store.begin(10 * MB)
    upload.write(b"partial")
    assert not [p for p in (tmp_path / "files").rglob("*") if p.is_file() and not p.name.startswith("up-")]
    stored = upload.commit()
    assert store.local_path(stored.key).read_bytes() == b"partial"
    assert not list((tmp_path / "files" / ".tmp").iterdir())


@pytest.mark.parametrize("total_mb", [64])
def test_memory_does_not_grow_with_size(backend, total_mb):
    """tracemalloc peak for a 64 MB round trip stays a few chunks (plus S3 multipart parts)."""
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        stored = backend.put(_chunks(total_mb * MB), max_bytes=200 * MB)
        t_put = time.perf_counter() - t0
        _, peak_put = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        t0 = time.perf_counter()
        read = sum(len(c) for c in backend.open_range(stored.key))
        t_get = time.perf_counter() - t0
        _, peak_get = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read == total_mb * MB
    print(f"\n[{backend.name}] put {total_mb / t_put:.0f} MB/s peak {peak_put / MB:.1f} MB; "
          f"read {total_mb / t_get:.0f} MB/s peak {peak_get / MB:.1f} MB")
    assert peak_put < 40 * MB
    assert peak_get < 8 * MB
    backend.delete(stored.key)


def test_backend_chosen_in_settings(seaweed, tmp_path):
    import dataclasses

    from corpchat import config
    from tests.storage_fixtures import ACCESS_KEY, SECRET_KEY

    base = dataclasses.replace(config.settings, storage_dir=str(tmp_path))
    assert isinstance(storage.from_settings(base), LocalStorage)
    s3 = storage.from_settings(dataclasses.replace(
        base, storage_backend="s3", s3_endpoint=seaweed.endpoint, s3_bucket="corpchat-settings",
        s3_access_key=ACCESS_KEY, s3_secret_key=SECRET_KEY))
    assert isinstance(s3, storage.S3Storage) and s3.tmp_dir() == str(tmp_path / ".tmp")
    assert b"".join(s3.open_range(s3.put([b"via settings"], 100).key)) == b"via settings"
    for broken in ({"storage_backend": "ftp"}, {"storage_backend": "s3", "s3_bucket": ""}):
        with pytest.raises(config.ConfigError):
            storage.from_settings(dataclasses.replace(base, **broken))
