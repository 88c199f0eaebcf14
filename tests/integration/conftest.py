"""Start a real Arize Phoenix server (an OTLP receiver with a REST API) for the integration tests.

Phoenix lives in its own virtual environment (`make integration` creates `.venv-phoenix`),
so its many dependencies never mix with the SDK's. Set ``PHOENIX_BIN`` to use another one.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.paths import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


class Phoenix:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.otlp_endpoint = f"{base_url}/v1/traces"

    def spans(self, project: str, *, expected: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        """All spans of *project*, polling until at least *expected* have been ingested."""
        deadline = time.monotonic() + timeout
        while True:
            spans: list[dict[str, Any]] = []
            cursor: str | None = None
            try:
                while True:
                    url = f"{self.base_url}/v1/projects/{project}/spans?limit=1000"
                    if cursor:
                        url += f"&cursor={cursor}"
                    page = get_json(url)
                    spans.extend(page["data"])
                    cursor = page.get("next_cursor")
                    if not cursor:
                        break
            except urllib.error.HTTPError as exc:
                if exc.code != 404:  # the project appears with its first span
                    raise
            if len(spans) >= expected or time.monotonic() > deadline:
                return spans
            time.sleep(0.5)


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    binary = os.environ.get("PHOENIX_BIN") or str(ROOT / ".venv-phoenix" / "bin" / "phoenix")
    if not Path(binary).exists():
        pytest.fail(f"Phoenix is not installed at {binary}: run `make integration`, or set PHOENIX_BIN")
    workdir = tmp_path_factory.mktemp("phoenix")
    port = _free_port()
    env = dict(
        os.environ,
        PHOENIX_WORKING_DIR=str(workdir),
        PHOENIX_TELEMETRY_ENABLED="false",
        PHOENIX_HOST="127.0.0.1",
        PHOENIX_PORT=str(port),
        PHOENIX_GRPC_PORT=str(_free_port()),
    )
    log = open(workdir / "phoenix.log", "wb")  # noqa: SIM115 - closed at teardown
    process = subprocess.Popen([binary, "serve"], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log.close()
                tail = (workdir / "phoenix.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"Phoenix did not start (exit {process.poll()}):\n{tail}")
            time.sleep(0.3)
    try:
        yield Phoenix(base_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
