"""The overview page over a PostgreSQL store (a real server: ``make postgres``): the figures the
page shows are the store's own, and the same as over SQLite holding the same trajectories."""

from __future__ import annotations

import html as markup
import re
from collections import Counter
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.helpers.ui import FILLER, XSS, fill_ui_store, ui_trajectories
from trajectories._internal.ui.app import create_app
from trajectories.model import FailureOutcome
from trajectories.store import SQLiteTrajectoryStore, open_store

pytestmark = pytest.mark.postgres


def figures(html: str, table: str) -> dict[str, tuple[str, ...]]:
    """A table of the overview page (its id) as {first cell: the other cells}, the texts shown."""
    body = re.search(rf'id="{table}">(.*?)</table>', html, re.S)
    assert body is not None, table
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S):
        cells = [markup.unescape(re.sub(r"<[^>]+>", "", c).strip()) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        if cells and cells[0] not in ("action", "tool", "none"):
            rows[cells[0]] = tuple(cells[1:])
    return rows


def test_overview_page_over_postgres_shows_the_stores_figures(pg_url: str, tmp_path: Path) -> None:
    ts = ui_trajectories()
    with open_store(pg_url) as pg, SQLiteTrajectoryStore(tmp_path / "same.db") as lite:
        fill_ui_store(pg)
        fill_ui_store(lite)
        page = TestClient(create_app(pg)).get("/overview")
        assert page.status_code == 200
        html = page.text
        assert "no overview" not in html
        assert f"{5 + FILLER} trajectories" in html
        verdicts = Counter(t.verdict.kind for t in ts)
        kinds = ("success", "failure", "partial", "recovered_via_reflection")
        assert figures(html, "verdicts") == {k: ("", str(verdicts[k])) for k in kinds}
        assert figures(html, "root-causes") == {"tool_failure": ("", "2"), "unknown": ("", "1")}
        failing = figures(html, "failing-actions")
        steps = [s for t in ts for s in t.steps]
        assert {a: int(cells[1]) for a, cells in failing.items()} == Counter(
            s.action for s in steps if isinstance(s.outcome, FailureOutcome)
        )
        assert failing["delete_account"] == ("1", "1", "20.0", "20")
        assert figures(html, "slowest-tools")["kb"] == ("2", "0", "25.0", "30")
        assert figures(html, "models")["m-small"] == ("", f"{50 + 10 * FILLER} in / {10 + 2 * FILLER} out")
        assert XSS not in html  # the hostile action, tool and model are shown escaped
        assert "&lt;script&gt;" in html
        # The same trajectories over SQLite: the same page (the chart included), cell for cell.
        assert TestClient(create_app(lite)).get("/overview").text == html
        failures = TestClient(create_app(pg)).get("/overview?verdict=failure").text
        assert "2 trajectories" in failures
        assert failures == TestClient(create_app(lite)).get("/overview?verdict=failure").text
