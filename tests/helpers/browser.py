"""What the browser tests share: where chromium is, how it is launched, the viewer under test."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page

from trajectories.store import SQLiteTrajectoryStore

CHROMIUM = os.environ.get("TRAJECTORIES_CHROMIUM", "/usr/bin/chromium")
# Root in a container with no network: no sandbox, no GPU, nothing that phones home.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "browser-test-token"


@dataclass
class Viewer:
    base: str
    db: Path
    screenshots: Path

    def store(self) -> SQLiteTrajectoryStore:
        return SQLiteTrajectoryStore(self.db, create=False)


@dataclass
class Watched:
    page: Page
    base: str
    problems: list[str] = field(default_factory=list)
    expected_status: set[int] = field(default_factory=set)
