"""Config tests run in an empty working directory with none of crocbot's variables in the environment."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
API_KEY = "kK3yF0rT3st1ngOnlyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
API_SECRET = base64.b64encode(b"not-a-real-secret-but-64-bytes-long-for-the-format-check-0123456").decode()
WEBHOOK = "https://discord.com/api/webhooks/123456/s3cr3t-t0k3n-f0r-t3sts"


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith(("CROCBOT_", "KRAKEN_")) or name == "REAL_TRADING":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path
