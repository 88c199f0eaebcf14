"""The viewer in a real browser: Debian's chromium driven by playwright (which never downloads one).

The store is filled by the real ``trajectories demo`` agent plus hand-built trajectories (every
verdict, nested steps, hostile markup); the server is the real ``trajectories ui`` command in a
subprocess, with a token. Each test's page fails the test on any console error, failed request,
HTTP error answer or request to another origin. Screenshots go to $TRAJECTORIES_SCREENSHOTS
(``make browser`` sets build/screenshots), else to the test's temporary directory.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.helpers.browser import CHROMIUM, LAUNCH_ARGS, TOKEN, Viewer, Watched
from tests.helpers.ui import fill_ui_store
from trajectories.store import SQLiteTrajectoryStore

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def viewer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Viewer]:
    root = tmp_path_factory.mktemp("viewer")
    db = root / "demo.db"
    env = {**os.environ, "TRAJECTORIES_DB": str(db)}
    env.pop("TRAJECTORIES_TOKEN", None)
    demo = subprocess.run([sys.executable, "-m", "trajectories", "demo"], env=env, capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stderr
    with SQLiteTrajectoryStore(db) as store:
        fill_ui_store(store)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "trajectories", "ui", "--port", str(port), "--token", TOKEN],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/", timeout=1)
        except urllib.error.HTTPError as exc:  # 401 without the token: it is up
            status = exc.code
            break
        except OSError:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "trajectories ui did not start"
            time.sleep(0.1)
    assert status == 401
    shots = Path(os.environ.get("TRAJECTORIES_SCREENSHOTS") or root / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    try:
        yield Viewer(base, db, shots)
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium (playwright must not download one)"
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
    yield b
    b.close()


@pytest.fixture
def watched(browser: Browser, viewer: Viewer) -> Iterator[Watched]:
    """A logged-in page (token given once in the address, then the cookie) that records problems."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    w = Watched(page, viewer.base)
    page.on("console", lambda m: w.problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: w.problems.append(f"page error: {e}"))

    def on_failed(r: object) -> None:
        url, failure = r.url, r.failure  # type: ignore[attr-defined]
        # Chromium fetches the icon on its own after "load" and cancels it when the test navigates on.
        if not (url.endswith("/static/favicon.svg") and failure == "net::ERR_ABORTED"):
            w.problems.append(f"request failed: {url} {failure}")

    page.on("requestfailed", on_failed)

    def on_response(r: object) -> None:
        status = r.status  # type: ignore[attr-defined]
        url = r.url  # type: ignore[attr-defined]
        if status >= 400 and status not in w.expected_status:
            w.problems.append(f"HTTP {status}: {url}")

    page.on("response", on_response)
    page.on("request", lambda r: None if r.url.startswith(viewer.base) else w.problems.append(f"other origin: {r.url}"))
    page.goto(f"{viewer.base}/?token={TOKEN}")
    assert page.url == viewer.base + "/"  # the token left the address
    yield w
    context.close()
    assert w.problems == []
