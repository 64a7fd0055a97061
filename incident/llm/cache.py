"""The on-disk answer cache: one JSON file per (digest text, model, prompt version).

Only redacted answers are stored (placeholders, never restored values), so the cache holds
nothing the digest did not already show.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def default_cache_dir() -> Path:
    """$INCIDENT_CACHE_DIR, else $XDG_CACHE_HOME/incident, else ~/.cache/incident."""
    explicit = os.environ.get("INCIDENT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "incident"


def cache_key(digest_text: str, model: str, prompt_version: str) -> str:
    h = hashlib.sha256()
    for part in (digest_text, model, prompt_version):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def load(folder: Path, key: str) -> dict[str, Any] | None:
    path = folder / f"{key}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        # A corrupt or unreadable entry is a miss; the fresh answer will overwrite it.
        return None
    return data if isinstance(data, dict) else None


def store(folder: Path, key: str, entry: dict[str, Any]) -> None:
    """Write atomically so a crash never leaves a half-written entry behind."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{key}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
    tmp.replace(folder / f"{key}.json")
