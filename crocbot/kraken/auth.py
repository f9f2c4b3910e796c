"""Signing private REST calls, and nonces that only ever increase, across threads and restarts.

`API-Sign = base64(HMAC-SHA512(key=base64decode(secret), msg=uri_path + SHA256(nonce + body)))`, where `body` is
the exact text sent (it contains the nonce too). Nonces are nanoseconds and strictly increasing per API key;
once Kraken has seen a large one, smaller ones fail for good, so the high-water mark is persisted: not on every
call (an fsync each) but as a lease some seconds ahead, which the next process starts above.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["sign", "NonceSource", "Signer", "signer_for"]

_LEASE_NS = 60 * 1_000_000_000


def sign(uri_path: str, body: str, nonce: int | str, secret: str) -> str:
    """Kraken's API-Sign header for one private REST request."""
    digest = hashlib.sha256((str(nonce) + body).encode("utf-8")).digest()
    mac = hmac.new(base64.b64decode(secret), uri_path.encode("utf-8") + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode("ascii")


class NonceSource:
    """Strictly increasing nanosecond nonces; survives restarts when given a file."""

    def __init__(
        self, path: Path | None = None, *, time_ns: Callable[[], int] = time.time_ns, lease_ns: int = _LEASE_NS
    ) -> None:
        self._path = path
        self._time_ns = time_ns
        self._lease_ns = lease_ns
        self._lock = threading.Lock()
        self._ceiling = self._read_ceiling()
        self._last = self._ceiling

    def _read_ceiling(self) -> int:
        if self._path is None or not self._path.exists():
            return 0
        text = self._path.read_text(encoding="ascii").strip()
        if not text.isdigit():
            raise ValueError(
                f"nonce file {self._path} is damaged ({text[:20]!r}); delete it only if this API key has not been "
                "used with larger nonces, or use a new key"
            )
        return int(text)

    def _write_ceiling(self, ceiling: int) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temp = self._path.with_suffix(".tmp")
        with temp.open("w", encoding="ascii") as handle:
            handle.write(str(ceiling))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self._path)

    def next(self) -> int:
        with self._lock:
            nonce = max(self._time_ns(), self._last + 1)
            if nonce > self._ceiling:
                ceiling = nonce + self._lease_ns
                self._write_ceiling(ceiling)  # durable before the nonce is used
                self._ceiling = ceiling
            self._last = nonce
            return nonce


class Signer:
    """The one signer of an API key: a nonce source and the lock that keeps signed requests in nonce order."""

    def __init__(self, api_key: str, api_secret: str, nonces: NonceSource) -> None:
        self.api_key = api_key
        self._secret = api_secret
        self.nonces = nonces
        self.lock = threading.Lock()  # held from taking a nonce until the request is answered

    def headers(self, uri_path: str, body: str, nonce: int) -> dict[str, str]:
        return {"API-Key": self.api_key, "API-Sign": sign(uri_path, body, nonce, self._secret)}

    def __repr__(self) -> str:
        return "Signer(<key hidden>)"


_signers: dict[str, Signer] = {}
_signers_lock = threading.Lock()


def signer_for(api_key: str, api_secret: str, nonce_file: Path | None) -> Signer:
    """One Signer per API key in this process, however many clients use the key."""
    fingerprint = hashlib.sha256(api_key.encode()).hexdigest()
    with _signers_lock:
        signer = _signers.get(fingerprint)
        if signer is None:
            signer = Signer(api_key, api_secret, NonceSource(nonce_file))
            _signers[fingerprint] = signer
        return signer
