"""The viewer's ASGI app through Starlette's TestClient: headers, token, escaping, paging, filters."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.helpers.ui import FAILED_ID, FILLER, NESTED_ID, XSS, XSS_ID, fill_ui_store
from trajectories._internal.ui.app import COOKIE, CSP, PAGE_SIZE, create_app
from trajectories.store import SQLiteTrajectoryStore

TOTAL = 5 + FILLER


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteTrajectoryStore]:
    with SQLiteTrajectoryStore(tmp_path / "ui.db") as s:
        fill_ui_store(s)
        yield s


@pytest.fixture
def client(store: SQLiteTrajectoryStore) -> TestClient:
    return TestClient(create_app(store))


def row_ids(html: str) -> list[int]:
    return [int(m) for m in re.findall(r'<tr class="row [^"]*" data-id="traj-(\d+)"', html)]


@pytest.mark.parametrize(
    "path", ["/", "/overview", "/lessons", f"/trajectories/{FAILED_ID}", "/trajectories/99999", "/static/ui.css"]
)
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.headers["content-security-policy"] == CSP
    assert "script-src 'none'" in CSP
    assert "default-src 'self'" in CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"


def test_pages_have_no_scripts_and_no_inline_styles_or_other_origins(client: TestClient) -> None:
    for path in ("/", "/overview", "/lessons", f"/trajectories/{NESTED_ID}", f"/trajectories/{XSS_ID}"):
        html = client.get(path).text
        assert "<script" not in html
        assert "style=" not in html
        assert "<style" not in html
        assert not re.search(r'(src|href)="(https?:)?//', html)


def test_list_is_newest_first_and_paged_by_the_store(client: TestClient, store: SQLiteTrajectoryStore) -> None:
    first = client.get("/")
    assert f"{TOTAL} trajectories" in first.text
    ids = row_ids(first.text)
    assert len(ids) == PAGE_SIZE
    expected = [int(t.id) for t in store.list(limit=None)]
    assert ids == expected[:PAGE_SIZE]
    second = client.get("/?page=2")
    assert row_ids(second.text) == expected[PAGE_SIZE:]
    assert 'rel="prev"' in second.text
    assert 'rel="next"' not in second.text
    assert row_ids(client.get("/?page=99").text) == expected[PAGE_SIZE:]  # clamped to the last page


def test_failure_and_success_rows_are_marked_differently(client: TestClient) -> None:
    html = client.get("/").text
    assert re.search(rf'class="row verdict-row-failure" data-id="traj-{FAILED_ID}"', html)
    assert re.search(rf'class="row verdict-row-success" data-id="traj-{NESTED_ID}"', html)
    assert 'class="badge verdict-failure"' in html
    assert 'class="badge verdict-success"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("verdict=failure", {FAILED_ID, XSS_ID}),
        ("verdict=recovered", {4}),
        ("session=s-partial", {3}),
        ("user=u-2", {FAILED_ID}),
        ("name=billing", {4}),
        ("verdict=success&min_quality=0.99&since=2026-03-01", {NESTED_ID}),
        ("until=2026-02-28&name=filler&verdict=success&user=u-filler&session=s-filler-3", {1003}),
    ],
)
def test_filters_select_in_the_store(client: TestClient, query: str, expected: set[int]) -> None:
    html = client.get("/?" + query).text
    assert set(row_ids(html)) == expected
    assert f"{len(expected)} trajectories" in html


@pytest.mark.parametrize("query", ["since=yesterday", "min_quality=2", "min_quality=x", "verdict=great", "page=one"])
def test_bad_filter_values_are_a_400_page(client: TestClient, query: str) -> None:
    r = client.get("/?" + query)
    assert r.status_code == 400
    assert "Bad request" in r.text


def test_search_finds_similar_text_above_the_floor(client: TestClient) -> None:
    html = client.get("/?q=reset my password").text
    ids = row_ids(html)
    assert ids
    assert ids[0] == NESTED_ID
    assert "similar trajectories (similarity ≥ 0.25" in html
    punctuation = client.get("/?q=!!!")
    assert punctuation.status_code == 400
    assert "cannot search for this text" in punctuation.text
    nothing = client.get("/?q=zzqx vvkj").text
    assert row_ids(nothing) == []
    assert "no trajectories match" in nothing


def test_trajectory_page_shows_steps_nested_quality_parts_and_recall(client: TestClient) -> None:
    html = client.get(f"/trajectories/traj-{NESTED_ID}").text
    steps = re.findall(r'<tr class="step outcome-(\w+)" data-index="(\d)"(?: data-parent="(\d)")?', html)
    assert [(i, p) for _, i, p in steps] == [("0", ""), ("1", "0"), ("2", "1"), ("3", "")]
    assert 'class="action depth-2"' in html  # read_article under search_kb under plan
    bars = [float(x) for x in re.findall(r'<rect class="wf-bar outcome-\w+" x="([\d.]+)"', html)]
    assert bars == [0.0, 250.0, 500.0, 750.0]  # steps 25 ms apart in a 100 ms trajectory
    assert "mean step quality <b>1.000</b> × verdict factor <b>1.000</b>" in html
    assert "How do I reset my password?" in html
    assert f'<a href="/trajectories/{FAILED_ID}">traj-{FAILED_ID}</a>' in html
    assert "check the token first" in html
    assert "0.910" in html
    assert '<a href="/trajectories/7">traj-7</a>' in html
    # storing this run credited what it recalled: each memory recalled by 1 run, which succeeded
    assert re.search(
        rf'traj-{FAILED_ID}</a></td>\s*<td class="num">0.910</td>\s*<td class="num">1</td>\s*<td class="num">100%</td>', html
    )


def test_failed_step_shows_its_exception_and_the_root_cause(client: TestClient) -> None:
    html = client.get(f"/trajectories/{FAILED_ID}").text
    assert '<pre class="exception">PermissionError: account is locked</pre>' in html
    assert 'class="step outcome-failure"' in html
    assert "tool_failure" in html
    assert "verdict factor <b>0.300</b>" in html


def test_hostile_text_is_escaped_everywhere(client: TestClient) -> None:
    escaped = XSS.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
    for path in (f"/trajectories/{XSS_ID}", "/?verdict=failure", "/overview", "/lessons"):
        html = client.get(path).text
        assert "<script>" not in html, path
        assert "<img src=x" not in html, path
        assert escaped in html, path


def test_unknown_and_malformed_ids(client: TestClient) -> None:
    assert client.get("/trajectories/424242").status_code == 404
    assert client.get("/trajectories/not-an-id").status_code == 400


def test_overview_counts_come_from_the_store(client: TestClient) -> None:
    html = client.get("/overview").text
    assert f"{TOTAL} trajectories" in html
    assert re.search(r'id="failing-actions">.*?<td>delete_account</td><td class="num">1</td><td class="num">1</td>', html, re.S)
    assert re.search(r'id="models">.*?<th>m-large</th>', html, re.S)


def test_lessons_show_provenance(client: TestClient) -> None:
    html = client.get("/lessons").text
    assert f'<a href="/trajectories/{FAILED_ID}">traj-{FAILED_ID}</a>' in html
    assert '<a href="/trajectories/4">traj-4</a>' in html
    assert "never recalled" in html  # no run has recalled these lessons
    assert 'id="base-rate"' in html


def test_token_header_cookie_and_query(store: SQLiteTrajectoryStore) -> None:
    client = TestClient(create_app(store, token="s3cret"))
    assert client.get("/").status_code == 401
    assert client.get("/static/ui.css").status_code == 401
    assert client.get("/?token=wrong").status_code == 401
    assert client.get("/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    r = client.get("/?verdict=failure&token=s3cret", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/?verdict=failure"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "s3cret" not in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie.replace("Strict", "strict")
    assert client.get("/?verdict=failure").status_code == 200  # the client kept the cookie
    assert client.get("/static/ui.css").status_code == 200
    client.cookies.clear()
    assert client.get("/").status_code == 401


def test_other_host_headers_are_refused_when_bound_to_loopback(store: SQLiteTrajectoryStore) -> None:
    client = TestClient(create_app(store, allowed_hosts=["127.0.0.1", "localhost"]), base_url="http://127.0.0.1")
    assert client.get("/").status_code == 200
    assert client.get("/", headers={"host": "attacker.example"}).status_code == 400


def test_bad_arguments(store: SQLiteTrajectoryStore) -> None:
    with pytest.raises(TypeError):
        create_app("store.db")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="token"):
        create_app(store, token="")
