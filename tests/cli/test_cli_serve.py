"""``trajectories serve`` end to end: a real client process exports OTLP, the CLI stores trajectories.

The client records with the instrumentation and ``configure(otlp_endpoint=...)`` (the SDK's
own OTLP/HTTP exporter) and prints what its handles saw; the server is the real entry point
in a subprocess. SIGTERM must flush: trajectories the client left without a root are stored
flagged incomplete, and the complete ones equal what the client saw.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

from tests.helpers.paths import ROOT
from trajectories import SQLiteTrajectoryStore, Trajectory
from trajectories.attributes import TRAJECTORY_INCOMPLETE_ATTRIBUTE

CLIENT = textwrap.dedent(
    """
    import sys
    import anyio
    from trajectories import configure, step, trajectory, current_step, TrajectoryFailed, RootCause

    @step(tool="search_kb")
    async def search(q: str) -> list[str]:
        await anyio.sleep(0)
        return [q]

    @step
    def think(n: int) -> int:
        if n % 3 == 2:
            current_step().partial(achieved="draft", missing="sources")
        return n

    async def agent(i: int) -> None:
        try:
            async with trajectory("support", query=f"question {i}", session_id=f"s-{i}") as t:
                await search(f"q{i}")
                think(i)
                if i % 4 == 3:
                    raise TrajectoryFailed(RootCause.tool_failure("search_kb", "timeout"))
        except TrajectoryFailed:
            pass
        print(t.result.to_json(), flush=True)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for i in range(12):
                tg.start_soon(agent, i)

    config = configure("serve-client", otlp_endpoint=sys.argv[1], store=False)
    anyio.run(main)
    config.flush()
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(base + "/health", timeout=1):
                return
        except OSError:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)


def test_serve_stores_what_a_real_otlp_client_recorded(tmp_path: Path) -> None:
    db = tmp_path / "served.db"
    port = _free_port()
    src = str(ROOT / "src")
    env = dict(os.environ, TRAJECTORIES_DB=str(db), PYTHONPATH=os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])))
    server = subprocess.Popen(
        [sys.executable, "-m", "trajectories", "serve", "--port", str(port), "--max-age", "60"],
        env=env,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, server)
        client = subprocess.run(
            [sys.executable, "-c", CLIENT, base], env=env, capture_output=True, text=True, timeout=120, check=True
        )
        seen = {t.id: t for t in (Trajectory.from_json(line) for line in client.stdout.splitlines())}
        assert len(seen) == 12

        # a trajectory whose root never arrives: only a step span, sent by hand
        orphan = {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": "ab" * 16,
                                    "spanId": "cd" * 8,
                                    "parentSpanId": "ef" * 8,
                                    "name": "orphan-step",
                                    "startTimeUnixNano": "1700000000000000000",
                                    "endTimeUnixNano": "1700000000500000000",
                                    "attributes": [
                                        {"key": "trajectory.id", "value": {"intValue": "4242"}},
                                        {"key": "trajectory.step.index", "value": {"intValue": "0"}},
                                        {"key": "trajectory.step.action", "value": {"stringValue": "orphan-step"}},
                                        {"key": "trajectory.step.outcome", "value": {"stringValue": "success"}},
                                    ],
                                }
                            ]
                        }
                    ]
                }
            ]
        }
        request = urllib.request.Request(
            base + "/v1/traces", data=json.dumps(orphan).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode in (0, -signal.SIGTERM), stderr.decode()  # uvicorn re-raises the signal once it has stopped
    assert b"stopped; 13 trajectories (1 incomplete, 0 from agent frameworks)" in stderr

    with SQLiteTrajectoryStore(db) as store:
        for tid, expected in seen.items():
            got = store.get(tid)
            assert got.steps == expected.steps
            assert got.verdict == expected.verdict
            assert got.quality == expected.quality
            assert got.metadata == expected.metadata
            assert got.uuid == expected.uuid
        orphan_t = store.get(4242)
        assert orphan_t.metadata.attributes[TRAJECTORY_INCOMPLETE_ATTRIBUTE] == "true"
        assert [s.action for s in orphan_t.steps] == ["orphan-step"]
        assert orphan_t.verdict.kind == "partial"
    kinds = sorted(t.verdict.kind for t in seen.values())
    assert kinds.count("failure") == 3  # i = 3, 7, 11
