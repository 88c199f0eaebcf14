"""Security of the receiver, the store and file paths (docs/security.md).

- ``trajectories serve`` binds to loopback unless told otherwise and warns when it is told
  to listen elsewhere without a token; the bearer token is compared with
  ``hmac.compare_digest`` before the body is read.
- Body size and the memory of what waits for its root are bounded.
- Payload content never reaches the logs, on any error path.
- SQL is parameterised: injection-looking strings through every listing/filter/search
  argument and through stored fields leave the database intact and match only themselves.
- No file path is derived from input data; names that look like paths stay data.
"""

from __future__ import annotations

import gzip
import hmac
import inspect
import json
import logging
import select
import socket
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers.otlp import otlp_json, protobuf_body
from tests.helpers.paths import ROOT
from tests.helpers.store import step as stored_step
from tests.helpers.store import traj
from trajectories import TrajectoryExporter
from trajectories import attributes as A
from trajectories._internal.cli import otlp_cmds
from trajectories._internal.cli.main import main as cli_main
from trajectories._internal.otlp import server as server_mod
from trajectories._internal.otlp.receiver import ReceiverStats, create_app
from trajectories._internal.otlp.server import running_in_thread
from trajectories.export import ListSink
from trajectories.model import StepOutcome, Verdict
from trajectories.store import SQLiteTrajectoryStore, TrajectoryFilter

TOKEN = "correct-horse-battery-staple"
MARKER = "PAYLOAD-MARKER-7f3a9c"
PB = "application/x-protobuf"
JS = "application/json"


# --------------------------------------------------------------------------- exposure


def test_serve_binds_to_loopback_by_default() -> None:
    parser = _serve_parser()
    assert parser.parse_args(["serve"]).host == "127.0.0.1"
    assert inspect.signature(server_mod.run).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(server_mod.running_in_thread).parameters["host"].default == "127.0.0.1"
    with running_in_thread(create_app(lambda spans: None)) as base:
        assert base.startswith("http://127.0.0.1:")


def _serve_parser() -> Any:
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    otlp_cmds.register(sub, argparse.ArgumentParser(add_help=False))
    return parser


@pytest.mark.parametrize(
    ("host", "token", "warned"), [("0.0.0.0", None, True), ("0.0.0.0", TOKEN, False), ("127.0.0.1", None, False)]
)
def test_serve_warns_when_exposed_without_a_token(
    host: str,
    token: str | None,
    warned: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    bound: list[str] = []
    monkeypatch.setattr(server_mod, "run", lambda app, *, host, port: bound.append(host))
    monkeypatch.delenv(otlp_cmds.ENV_TOKEN, raising=False)
    args = ["serve", "--db", str(tmp_path / "t.db"), "--host", host] + (["--token", token] if token else [])
    assert cli_main(args) == 0
    assert bound == [host]
    assert ("without a bearer token" in capsys.readouterr().err) is warned


def test_token_is_compared_in_constant_time_before_the_body_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr("trajectories._internal.otlp.receiver.hmac.compare_digest", spy)
    received: list[Any] = []
    stats = ReceiverStats()
    app = create_app(received.extend, token=TOKEN, max_body=1024, stats=stats)
    wrong: list[str | bytes | None] = [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"bearer {TOKEN}",
        f"Basic {TOKEN}",
        TOKEN,
        ("Bearer " + "ü" * 5).encode("latin-1"),  # not ASCII: still a 401, not a 500
        b"Bearer \xff\xfe",
    ]
    with TestClient(app) as client:
        for value in wrong:
            headers: dict[str, Any] = {"Content-Type": JS} if value is None else {"Content-Type": JS, "Authorization": value}
            # a body over the limit: the 401 comes first, without reading (or refusing) it
            response = client.post("/v1/traces", content=b"{" * 5000, headers=headers)
            assert response.status_code == 401, value
        assert (
            client.post("/v1/traces", content=b"{}", headers={"Content-Type": JS, "Authorization": f"Bearer {TOKEN}"}).status_code
            == 200
        )
    assert len(compared) == len(wrong) + 1  # every request, right or wrong, went through compare_digest
    assert all(expected == f"Bearer {TOKEN}".encode() for _, expected in compared)
    assert (stats.unauthorized, stats.too_large, stats.bad_requests) == (len(wrong), 0, 0)


def test_token_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[Any] = []
    monkeypatch.setenv(otlp_cmds.ENV_TOKEN, TOKEN)
    monkeypatch.setattr(server_mod, "run", lambda app, *, host, port: seen.append(app))
    assert cli_main(["serve", "--db", str(tmp_path / "t.db")]) == 0
    with TestClient(seen[0]) as client:
        assert client.post("/v1/traces", content=b"{}", headers={"Content-Type": JS}).status_code == 401
        assert (
            client.post("/v1/traces", content=b"{}", headers={"Content-Type": JS, "Authorization": f"Bearer {TOKEN}"}).status_code
            == 200
        )


# --------------------------------------------------------------------------- limits


def test_a_streamed_body_is_refused_once_past_the_limit_not_read_whole() -> None:
    """Against the real server: a chunked upload of up to 1 GiB is answered 413 after about max_body."""
    limit = 64 * 1024
    stats = ReceiverStats()
    with running_in_thread(create_app(lambda spans: None, max_body=limit, stats=stats)) as base:
        host, port = base.removeprefix("http://").split(":")
        sent = 0
        answer = b""
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                f"POST /v1/traces HTTP/1.1\r\nHost: {host}\r\nContent-Type: {PB}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            )
            chunk = b"10000\r\n" + b"\x00" * 0x10000 + b"\r\n"
            try:
                while sent < 1 << 30:
                    if select.select([sock], [], [], 0)[0]:
                        break
                    sock.sendall(chunk)
                    sent += 0x10000
            except OSError:  # the server closed the connection after answering
                pass
            sock.settimeout(5)
            try:
                answer = sock.recv(200)
            except OSError:
                answer = b""
    print(f"[security] streamed upload refused after {sent} of up to {1 << 30} bytes sent (limit {limit})")
    assert stats.too_large == 1
    assert answer.startswith(b"HTTP/1.1 413") or answer == b""  # (a reset can beat the answer)
    assert sent < 64 * 1024 * 1024  # refused early: socket buffers, not the whole upload


def test_pending_memory_is_bounded_in_bytes(tmp_path: Path) -> None:
    """Rootless spans with large attributes: the buffer stays under max_pending_bytes; nothing is lost."""
    sink = ListSink()
    cap = 1 << 20
    exporter = TrajectoryExporter([sink], max_pending_bytes=cap, dead_letter_path=tmp_path / "d.jsonl")
    stats = ReceiverStats()
    app = create_app(exporter.export_records, max_body=256 * 1024, stats=stats)
    peak = 0
    n = 100
    with TestClient(app) as client:
        for i in range(n):
            span = {
                "traceId": f"{i + 1:032x}",
                "spanId": f"{i + 1:016x}",
                "parentSpanId": "ff" * 8,  # the root never comes
                "name": "step",
                "startTimeUnixNano": "1700000000000000000",
                "endTimeUnixNano": "1700000000000000001",
                "attributes": [
                    {"key": A.TRAJECTORY_ID, "value": {"intValue": str(i + 1)}},
                    {"key": A.STEP_INDEX, "value": {"intValue": "0"}},
                    {"key": A.STEP_RATIONALE, "value": {"stringValue": "r" * 100_000}},
                ],
            }
            body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()
            assert client.post("/v1/traces", content=body, headers={"Content-Type": JS}).status_code == 200
            peak = max(peak, exporter.stats.pending_bytes)
    evicted = exporter.stats.evicted_traces
    exporter.shutdown()
    print(f"[security] pending memory: {n} rootless 100 kB spans, peak {peak} bytes held (cap {cap}), {evicted} evicted")
    assert peak <= cap
    assert evicted >= n - cap // 100_000
    assert len(sink) == n  # evicted and drained ones come out flagged incomplete: none lost
    assert all(t.metadata.attributes.get(A.TRAJECTORY_INCOMPLETE_ATTRIBUTE) == "true" for t in sink)


def test_serve_sets_a_pending_bytes_cap() -> None:
    args = _serve_parser().parse_args(["serve"])
    assert args.max_pending_bytes == 256 * 1024 * 1024
    assert args.max_body == 16 * 1024 * 1024


# --------------------------------------------------------------------------- logs


def test_payload_content_never_reaches_the_logs(
    search_spans: list[Any], caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Every error path, with the marker in bodies, ids, names, attributes and headers: not in any log."""
    marked = otlp_json(search_spans)
    span0 = marked["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span0["name"] = MARKER
    span0["attributes"].append({"key": MARKER, "value": {"stringValue": MARKER}})
    span0["attributes"].append({"key": A.STEP_ATTRIBUTES_PREFIX + "k", "value": {"stringValue": MARKER}})
    bad_span = {"traceId": MARKER, "spanId": MARKER, "name": MARKER}
    marked["resourceSpans"][0]["scopeSpans"][0]["spans"].append(bad_span)

    reached = [0]

    def failing_sink(trajectory: Any) -> None:
        reached[0] += MARKER in trajectory.to_json()  # the payload did reach the trajectory...
        raise OSError("disk full")  # ...and the sink fails: retried, then dead-lettered

    exporter = TrajectoryExporter([failing_sink], retry_attempts=1, dead_letter_path=tmp_path / "dead.jsonl")
    failing_consumer_calls = [0]

    def consumer(spans: list[Any]) -> None:
        if any(s.name == "boom" for s in spans):
            failing_consumer_calls[0] += 1
            raise ValueError(f"consumer failed on {MARKER}")
        exporter.export_records(spans)

    boom = otlp_json(search_spans)
    boom["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"] = "boom"
    boom["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"].append({"key": "k", "value": {"stringValue": MARKER}})
    requests: list[tuple[bytes, dict[str, str]]] = [
        (MARKER.encode() * 10, {"Content-Type": PB}),
        (b"{" + MARKER.encode(), {"Content-Type": JS}),
        (MARKER.encode(), {"Content-Type": JS, "Content-Encoding": "gzip"}),
        (MARKER.encode(), {"Content-Type": JS, "Content-Encoding": MARKER}),
        (MARKER.encode(), {"Content-Type": f"text/{MARKER}"}),
        (MARKER.encode() * 20_000, {"Content-Type": PB}),
        (gzip.compress(MARKER.encode() * 50_000), {"Content-Type": JS, "Content-Encoding": "gzip"}),
        (json.dumps(marked).encode(), {"Content-Type": JS}),
        (json.dumps(boom).encode(), {"Content-Type": JS}),
        (json.dumps([MARKER]).encode(), {"Content-Type": JS}),
    ]
    logging.getLogger().setLevel(logging.INFO)
    with caplog.at_level(logging.INFO), running_in_thread(create_app(consumer, max_body=128 * 1024)) as base:
        import urllib.error
        import urllib.request

        statuses = []
        for body, headers in requests:
            request = urllib.request.Request(base + "/v1/traces", data=body, method="POST", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
        exporter.shutdown()  # the failing sink: retried, then dead-lettered (a warning each)
    out, err = capfd.readouterr()
    print(f"[security] logs: {len(requests)} marked requests, statuses {statuses}, {len(caplog.records)} log records")
    assert statuses == [400, 400, 400, 400, 415, 413, 413, 200, 503, 400]
    assert failing_consumer_calls[0] == 1
    assert reached[0] == 1
    assert caplog.records  # the error paths did log (counts and kinds)...
    assert MARKER not in caplog.text  # ...never the payload
    assert MARKER not in err
    assert MARKER not in out


# --------------------------------------------------------------------------- SQL

INJECTIONS = [
    "x' OR '1'='1",
    "'; DROP TABLE trajectories; --",
    '" OR 1=1 --',
    "1; DELETE FROM trajectories",
    "%' UNION SELECT id, json FROM trajectories --",
    "\\'; ATTACH DATABASE '/tmp/evil.db' AS evil; --",
    "name) VALUES ('x'); --",
    "%",
    "_",
    "\x00",
]


def _tables(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return sorted(conn.execute("SELECT type, name FROM sqlite_master").fetchall())


def test_sql_is_parameterised_everywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "t.db"
    store = SQLiteTrajectoryStore(db)
    normal = [traj(i, [stored_step(0, "search")], name="agent", session="s", user="u") for i in range(1, 6)]
    hostile = [
        traj(
            100 + i,
            [stored_step(0, text), stored_step(1, "act", StepOutcome.failure(text))],
            Verdict.partial(0.5),
            name=text,
            session=text,
            user=text,
            request_type=text,
            lessons=[text],
        )
        for i, text in enumerate(INJECTIONS)
    ]
    store.add_many(normal + hostile)  # stored fields that look like SQL
    tables = _tables(db)
    total = store.count()
    tried = 0
    for text in INJECTIONS:
        for f in (TrajectoryFilter(name=text), TrajectoryFilter(session_id=text), TrajectoryFilter(user_id=text)):
            hits = store.list(f, limit=None)
            tried += 1
            assert [t.metadata.session_id for t in hits] == [text]  # only itself: compared as a value, never as SQL
            assert store.count(f) == 1
        for bad in (
            lambda text=text: TrajectoryFilter(verdict=text),
            lambda text=text: store.get_by_uuid(text),
            lambda text=text: store.get(text),
            lambda text=text: store.similar(text, k=3, verdict=text),
            lambda text=text: store.delete([text]),
        ):
            tried += 1
            with pytest.raises((TypeError, ValueError)):
                bad()
        tried += 1
        try:  # text search: embedded, never in SQL ("%" embeds to zeros: a ValueError saying so)
            found = len(store.similar(text, k=50))
        except ValueError as exc:
            assert "all zeros" in str(exc)  # noqa: PT017
            found = 0
        assert found <= 50
    stats = store.stats(top_actions=100)
    assert {a for a, _ in stats.top_actions} >= set(INJECTIONS)
    store.close()
    for text in INJECTIONS:  # and through the command line
        for argv in (
            ["list", "--name", text, "--json"],
            ["list", "--session", text, "--user", text, "--json"],
            ["search", text, "--json"],
            ["show", text],
            ["analyze", text],
        ):
            tried += 1
            cli_main([argv[0], "--db", str(db), *argv[1:]])
    capsys.readouterr()
    print(f"[security] SQL: {len(INJECTIONS)} injection strings stored and tried through {tried} arguments; table intact")
    assert _tables(db) == tables
    store = SQLiteTrajectoryStore(db)
    assert store.count() == total == len(normal) + len(hostile)
    assert [store.get(t.id) for t in normal + hostile] == normal + hostile
    store.close()


def test_no_sql_is_built_from_values() -> None:
    """The only f-strings in SQL are column lists and an integer PRAGMA; every value is a ? parameter."""
    import re

    root = ROOT / "src" / "trajectories" / "_internal" / "store"
    offenders = []
    for path in root.glob("*.py"):
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"execute(many)?\(\s*f[\"']", line) or re.search(r"f[\"'](SELECT|INSERT|UPDATE|DELETE)\b", line):
                allowed = (
                    "{ROW_COLUMNS}",
                    "{where}",
                    "{int(self._timeout * 1000)}",
                    "{', '.join('?' * 17)}",
                    "{','.join('?' * len(chunk))}",  # placeholders only: the ids are parameters
                    "{marks}",  # sqlite_credit.py: ",".join("?" * len(chunk)), placeholders only
                    "{_COLUMN_LIST}",  # postgres.py: its constant column list and %s placeholders
                    "{_PLACEHOLDERS}",
                )
                expressions = re.findall(r"\{[^}]*\}", line)
                if not all(e in allowed for e in expressions):
                    offenders.append(f"{path.name}:{no}: {line.strip()}")
    assert offenders == []


# --------------------------------------------------------------------------- paths


def test_names_that_look_like_paths_stay_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, search_spans: list[Any]) -> None:
    """No file name is derived from input: trajectory/service/span names like ../x or /abs are only stored."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    escaped = f"escaped-{uuid.uuid4().hex}"
    absolute = tmp_path / f"absolute-{uuid.uuid4().hex}"
    names = [f"../{escaped}", f"../../{escaped}", str(absolute), f"..\\{escaped}", "/etc/passwd", "~/x", "nul", "a/../../b"]
    doc = otlp_json(search_spans)
    root = next(s for s in doc["resourceSpans"][0]["scopeSpans"][0]["spans"] if s["name"].startswith("invoke_agent"))
    for name in names:
        for key in (A.GEN_AI_AGENT_NAME, A.SESSION_ID, A.TRAJECTORY_REQUEST_TYPE, A.TRAJECTORY_ATTRIBUTES_PREFIX + name):
            root["attributes"].append({"key": key, "value": {"stringValue": name}})
    doc["resourceSpans"][0]["resource"] = {"attributes": [{"key": "service.name", "value": {"stringValue": names[0]}}]}
    otlp_file = work / "in.otlp.jsonl"
    otlp_file.write_text(json.dumps(doc) + "\n", encoding="utf-8")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    # import (collector file), and serve's assembly with every sink a path can reach
    assert cli_main(["import", str(otlp_file), "--db", str(work / "t.db")]) == 0
    exporter = TrajectoryExporter([ListSink()], dead_letter_path=work / "dead.jsonl")
    with TestClient(create_app(exporter.export_records)) as client:
        assert client.post("/v1/traces", content=json.dumps(doc).encode(), headers={"Content-Type": JS}).status_code == 200
        assert client.post("/v1/traces", content=protobuf_body(search_spans), headers={"Content-Type": PB}).status_code == 200
    exporter.shutdown()
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    created = sorted(set(after) - set(before))
    assert all(str(p).startswith("work") for p in created), created
    assert {p.name for p in created} <= {"t.db", "t.db-wal", "t.db-shm"}
    assert not (tmp_path / escaped).exists()
    assert not absolute.exists()
    store = SQLiteTrajectoryStore(work / "t.db")
    (stored,) = store.list()
    assert stored.metadata.attributes[A.TRAJECTORY_NAME_ATTRIBUTE] == names[-1]  # the name is just data
    store.close()


def test_dead_letter_path_is_fixed_when_the_exporter_is_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dead-letter file is the operator's path, resolved once: a later chdir or a trajectory's name cannot move it."""
    monkeypatch.chdir(tmp_path)

    def failing(trajectory: Any) -> None:
        raise OSError("down")

    exporter = TrajectoryExporter([failing], retry_attempts=1, dead_letter_path="dead.jsonl")
    assert exporter.dead_letter_path == str(tmp_path / "dead.jsonl")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    exporter.export_records(
        [
            _record(
                1,
                {
                    A.TRAJECTORY_ID: 9,
                    A.GEN_AI_OPERATION_NAME: "invoke_agent",
                    A.GEN_AI_AGENT_NAME: "../../escape",
                    A.TRAJECTORY_STEP_COUNT: 0,
                },
            )
        ]
    )
    exporter.shutdown()
    assert (tmp_path / "dead.jsonl").exists()
    assert list(elsewhere.iterdir()) == []
    assert exporter.stats.dead_lettered == 1


def _record(span_id: int, attributes: dict[str, Any]) -> Any:
    from trajectories._internal.records import SpanRecord

    return SpanRecord(1, span_id, None, "root", 1, 2, attributes)


def test_os_module_paths_are_not_used_with_payload_values() -> None:
    """Audit: every open()/makedirs in src takes an operator-given path (CLI option, configure(), exporter argument)."""
    import re

    src = ROOT / "src" / "trajectories"
    sites = []
    for path in src.rglob("*.py"):
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\bopen\(|os\.makedirs\(|\.write_text\(|\.mkdir\(|sqlite3\.connect\(", line) and "def " not in line:
                sites.append(f"{path.relative_to(src)}:{no}")
    # each site, and where its path comes from:
    known = {
        "_internal/otlp/files.py": "import FILE (CLI argument)",
        "_internal/export/delivery.py": "dead_letter_path (exporter argument / --dead-letter), resolved at construction",
        "_internal/model/serde/jsonl.py": "write_jsonl/read_jsonl dest/src: --jsonl, export/import FILE, jsonl_path=",
        "_internal/cli/otlp_cmds.py": "import FILE (CLI argument), sniffed for OTLP",
        "_internal/export/sinks.py": "JsonlSink(path): --jsonl FILE, configure(jsonl_path=)",
        "_internal/store/sqlite.py": "the database: --db, $TRAJECTORIES_DB, configure(store=path), default ./trajectories.db",
    }
    assert {s.split(":")[0] for s in sites} <= set(known), sites  # (the table docs/security.md states)
