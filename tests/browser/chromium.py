"""Where the Chromium for the browser tests is: ATTUNE_CHROMIUM, or Debian's package."""

from __future__ import annotations

import os
import shutil


def chromium_path() -> str | None:
    configured = os.environ.get("ATTUNE_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None
