"""Masks configured secrets wherever text leaves the process: log lines, exit reports, error messages.

Secrets are `SecretStr` in the config, so they do not print by accident; this is the second line of defence
for the day a secret reaches a string anyway (an exception quoting a request, a URL with a webhook token).
"""

from __future__ import annotations

import threading
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "Redactor", "REDACTOR", "redact", "MIN_SECRET_LENGTH"]

MASK = "***"
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words and numbers


class Redactor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._needles: tuple[str, ...] = ()

    def add(self, secret: str) -> None:
        """Mask `secret`, and its URL-encoded forms, from now on. Short values are refused, not ignored."""
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"a secret shorter than {MIN_SECRET_LENGTH} characters cannot be masked reliably")
        forms = {secret, quote(secret, safe=""), quote_plus(secret)}
        with self._lock:
            # Longest first, so a secret that contains another is masked whole.
            self._needles = tuple(sorted(set(self._needles) | forms, key=len, reverse=True))

    def clear(self) -> None:
        with self._lock:
            self._needles = ()

    def __call__(self, text: str) -> str:
        for needle in self._needles:
            if needle in text:
                text = text.replace(needle, MASK)
        return text


REDACTOR = Redactor()


def redact(text: str) -> str:
    return REDACTOR(text)
