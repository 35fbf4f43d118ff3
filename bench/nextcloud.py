"""EhrenamtsCloud on the lab: WebDAV upload/download MB/s (200 MB, chunked) and PROPFIND p50/p95 on a
1,000-file folder, with Nextcloud's memory caches (APCu, Redis) on and then off, as ratios from one run.

Needs the lab up and converged (`scripts/lab`); sends traffic only to the lab's cloud host. Restores the cache
settings at the end (also on failure).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.cloud_client import CHUNK, Cloud, User

SIZE = 200 * 1024 * 1024
FOLDER = "bench-1000"
PROPFINDS = 60
CACHE_KEYS = ("memcache.local", "memcache.locking", "memcache.distributed")


def chunks(total: int) -> list[bytes]:
    block = hashlib.sha256(b"bench").digest() * (CHUNK // 32)
    return [block[: min(CHUNK, total - offset)] for offset in range(0, total, CHUNK)]


def measure(user: User) -> dict[str, float]:
    data = chunks(SIZE)
    began = time.perf_counter()
    status = user.upload_chunked(iter(data), "bench-200mb.bin", SIZE)
    upload = time.perf_counter() - began
    assert status in (201, 204), status
    began = time.perf_counter()
    response = user.request("GET", user.files("bench-200mb.bin"), preload=False)
    size = sum(len(piece) for piece in response.stream(1024 * 1024))
    response.release_conn()
    download = time.perf_counter() - began
    assert size == SIZE
    timings = []
    for _ in range(PROPFINDS):
        began = time.perf_counter()
        listing = user.propfind(user.files(FOLDER))
        timings.append(time.perf_counter() - began)
        assert len(listing) == 1001
    timings.sort()
    return {
        "upload_mb_s": SIZE / upload / 1e6,
        "download_mb_s": SIZE / download / 1e6,
        "propfind_p50_ms": statistics.median(timings) * 1000,
        "propfind_p95_ms": timings[int(len(timings) * 0.95) - 1] * 1000,
    }


def prepare(cloud: Cloud) -> User:
    user = cloud.user("bench-club", secrets.token_urlsafe(18), quota="5 GB")
    user.request("MKCOL", user.files(FOLDER))
    present = set(user.propfind(user.files(FOLDER)))
    missing = [n for n in range(1000) if f"{user.files(FOLDER)}/f-{n:04d}.txt" not in present]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda n: user.request("PUT", user.files(f"{FOLDER}/f-{n:04d}.txt"), body=b"x\n"), missing))
    return user


def main() -> None:
    cloud = Cloud.of_lab()
    saved = {key: json.loads(cloud.occ("config:system:get", key, "--output=json")) for key in CACHE_KEYS}
    user = prepare(cloud)
    on = measure(user)
    try:
        for key in CACHE_KEYS:
            cloud.occ("config:system:delete", key)
        off = measure(User(cloud, user.name, user.password, cloud.pool()))
    finally:
        for key, value in saved.items():
            cloud.occ("config:system:set", key, f"--value='{value}'")
    print("EhrenamtsCloud on the lab (server-side encryption on, TLS, 1 client):")
    for name, unit in (("upload_mb_s", "MB/s"), ("download_mb_s", "MB/s"), ("propfind_p50_ms", "ms"),
                       ("propfind_p95_ms", "ms")):  # fmt: skip
        print(f"  {name:<16} caches on {on[name]:8.1f} {unit:<5} caches off {off[name]:8.1f} {unit:<5} "
              f"off/on {off[name] / on[name]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
