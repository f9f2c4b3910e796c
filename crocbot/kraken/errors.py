"""Kraken's error strings as typed exceptions that say what the caller may do next.

REST answers `{"error": ["EOrder:Insufficient funds"], ...}` (a list); WS v2 answers `"error": "..."` (a string).
The classes sort them by what they mean for a trading bot:

- `BusinessRejection`: the exchange works and said no (funds, minimums, invalid arguments). Never retried, never
  counted by a circuit breaker.
- `RateLimitError`: too fast. Wait and try again later; the client's own model should prevent these.
- `AuthError`: key, signature, nonce or permission problems. Retrying does not help; a human must look.
- `RetryableError`: the service is unavailable, busy, throttled or failed internally. For a read, retry later.
  For an order, the outcome is unknown: the order may have been placed; look it up by `cl_ord_id`, never resend.
- `TransportError`: the request did not get a Kraken answer (timeout, connection, HTTP 5xx). Same as above.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "KrakenError",
    "BusinessRejection",
    "RateLimitError",
    "AuthError",
    "RetryableError",
    "TransportError",
    "error_from",
    "UNKNOWN_OUTCOME",
]

_RATE = (
    "EAPI:Rate limit exceeded",
    "EOrder:Rate limit exceeded",
    "EOrder:Domain rate limit exceeded",
    "EAuth:Rate limit exceeded",
    "EGeneral:Temporary lockout",
)
_AUTH = (
    "EAPI:Invalid key",
    "EAPI:Invalid signature",
    "EAPI:Invalid nonce",
    "EAPI:Invalid token",
    "EGeneral:Permission denied",
    "ESession:Invalid session",
    "EAPI:Feature disabled",
)
_RETRYABLE = (
    "EService:Unavailable",
    "EService:Busy",
    "EService:Throttled",
    "EService:Deadline elapsed",
    "EGeneral:Internal error",
)


class KrakenError(Exception):
    """One or more Kraken error strings; `codes` keeps them verbatim."""

    retryable = False
    unknown_outcome = False  # for an order call: it may have reached the matching engine

    def __init__(self, codes: Iterable[str], *, method: str = "") -> None:
        self.codes = tuple(codes)
        self.method = method
        where = f"{method}: " if method else ""
        super().__init__(where + "; ".join(self.codes))

    @property
    def code(self) -> str:
        return self.codes[0] if self.codes else ""


class BusinessRejection(KrakenError):
    pass


class RateLimitError(KrakenError):
    retryable = True


class AuthError(KrakenError):
    pass


class RetryableError(KrakenError):
    retryable = True
    unknown_outcome = True


class TransportError(KrakenError):
    retryable = True
    unknown_outcome = True


UNKNOWN_OUTCOME = (RetryableError, TransportError)


def error_from(codes: Iterable[str], *, method: str = "") -> KrakenError:
    """The most serious class among `codes` (a REST error list or a single WS error string)."""
    listed = [code for code in codes if code.startswith("E")] or list(codes)
    for prefixes, kind in ((_AUTH, AuthError), (_RATE, RateLimitError), (_RETRYABLE, RetryableError)):
        if any(code.startswith(prefixes) for code in listed):
            return kind(listed, method=method)
    return BusinessRejection(listed, method=method)
