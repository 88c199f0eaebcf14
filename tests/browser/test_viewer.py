"""What a person checks in the viewer, in chromium: everything listed, failures stand out, each
step on the timeline, filters and search, hostile text shown as text, the overview and lessons."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.helpers.browser import TOKEN, Viewer, Watched
from tests.helpers.ui import FAILED_ID, XSS, XSS_ID


def _row_ids(w: Watched) -> list[str]:
    return [str(x) for x in w.page.locator("#trajectories tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)")]


def test_every_stored_trajectory_is_listed_across_pages(watched: Watched, viewer: Viewer) -> None:
    with viewer.store() as store:
        expected = [str(t.id) for t in store.list(limit=None)]
    page = watched.page
    expect(page.locator("#summary")).to_contain_text(f"{len(expected)} trajectories")
    seen = _row_ids(watched)
    page.screenshot(path=str(viewer.screenshots / "list.png"), full_page=True)
    while page.locator("a[rel=next]").count():
        page.locator("a[rel=next]").click()
        seen += _row_ids(watched)
    assert seen == expected  # all of them, newest first, none twice


def test_a_failure_looks_different_from_a_success(watched: Watched) -> None:
    page = watched.page
    failure = page.locator(f'tr[data-id="traj-{FAILED_ID}"]')
    success = page.locator("tr.verdict-row-success").first
    expect(failure).to_have_class(re.compile(r"\bverdict-row-failure\b"))
    expect(failure.locator(".badge")).to_have_text("failure")
    expect(success.locator(".badge")).to_have_text("success")
    colour = "e => getComputedStyle(e).backgroundColor"
    assert failure.locator(".badge").evaluate(colour) != success.locator(".badge").evaluate(colour)
    edge = "e => getComputedStyle(e.querySelector('td')).borderLeftColor"
    assert failure.evaluate(edge) != success.evaluate(edge)


def test_each_step_is_on_the_timeline(watched: Watched, viewer: Viewer) -> None:
    with viewer.store() as store:
        recovered = store.list(limit=None)
        demo = next(t for t in recovered if t.verdict.kind == "recovered_via_reflection" and t.metadata.session_id == "s-103")
    page = watched.page
    page.locator(f'tr[data-id="{demo.id}"] a').click()
    expect(page.locator("h1")).to_contain_text(str(demo.id))
    rows = page.locator("table.waterfall tr.step")
    expect(rows).to_have_count(len(demo.steps))
    for s in demo.steps:
        row = page.locator(f'table.waterfall tr.step[data-index="{s.index}"]')
        expect(row.locator("td.action")).to_contain_text(s.action)
        expect(row).to_have_class(re.compile(rf"\boutcome-{s.outcome.kind}\b"))
        expect(row).to_contain_text(f"{s.latency_ms} ms")
        box = row.locator("rect.wf-bar").bounding_box()
        assert box is not None
        assert box["width"] > 0
    starts = [
        page.locator(f'table.waterfall tr.step[data-index="{s.index}"] rect.wf-bar').bounding_box()["x"]  # type: ignore[index,unused-ignore]
        for s in sorted(demo.steps, key=lambda s: s.timestamp)
    ]
    assert starts == sorted(starts)  # a waterfall: each bar starts where its step started
    assert starts[-1] > starts[0]
    failed = [s for s in demo.steps if s.outcome.kind == "failure"]
    assert failed
    expect(page.locator("pre.exception").first).to_have_text(failed[0].outcome.error)  # type: ignore[attr-defined]
    expect(page.locator("#root-cause")).to_contain_text("tool_failure")
    expect(page.locator("#quality")).to_contain_text("verdict factor")
    page.screenshot(path=str(viewer.screenshots / "trajectory.png"), full_page=True)


def test_nested_steps_sit_under_their_parents(watched: Watched, viewer: Viewer) -> None:
    page = watched.page
    page.goto(f"{viewer.base}/trajectories/1")
    indents = [
        page.locator(f'tr.step[data-index="{i}"] td.action').evaluate("e => parseFloat(getComputedStyle(e).paddingLeft)")
        for i in range(4)
    ]
    assert indents[0] < indents[1] < indents[2]
    assert indents[3] == indents[0]
    expect(page.locator("#request")).to_contain_text("How do I reset my password?")
    expect(page.locator("#recalled a").first).to_have_text(f"traj-{FAILED_ID}")


def test_filters_and_search(watched: Watched, viewer: Viewer) -> None:
    page = watched.page
    page.select_option("select[name=verdict]", "failure")
    page.locator("form.filters button").click()
    assert "verdict=failure" in page.url
    badges = page.locator("#trajectories .badge")
    assert badges.count() >= 2
    assert set(badges.all_inner_texts()) == {"failure"}
    page.locator("form.filters a", has_text="clear").click()
    page.fill("input[name=session]", "s-partial")
    page.press("input[name=session]", "Enter")
    assert _row_ids(watched) == ["traj-3"]
    page.goto(viewer.base + "/")
    page.fill("input[name=q]", "forgot my password")
    page.press("input[name=q]", "Enter")
    expect(page.locator("#summary")).to_contain_text("similar trajectories")
    first = page.locator("#trajectories tbody tr").first
    first.locator("a").click()
    expect(page.locator("body")).to_contain_text("password")
    page.goto(viewer.base + "/?q=" + "zzqx vvkj wqpt")
    expect(page.locator(".empty")).to_have_text("no trajectories match")


def test_hostile_text_is_shown_as_text_and_never_runs(watched: Watched, viewer: Viewer) -> None:
    page = watched.page
    page.goto(f"{viewer.base}/trajectories/{XSS_ID}")
    expect(page.locator("td.action")).to_contain_text(XSS)
    expect(page.locator("pre.exception")).to_have_text(XSS)
    expect(page.locator("#lessons li")).to_have_text(XSS)
    expect(page.locator("#request pre")).to_have_text(XSS)
    assert page.locator("script").count() == 0
    assert page.locator("main img").count() == 0
    assert page.evaluate("() => window.__pwned === undefined")
    assert "pwned" not in page.title()
    for path in ("/?verdict=failure", "/overview", "/lessons"):
        page.goto(viewer.base + path)
        assert page.locator("script").count() == 0, path
        assert page.locator("main img").count() == 0, path
        expect(page.locator("main")).to_contain_text("<script>", use_inner_text=True)
    assert page.evaluate("() => window.__pwned === undefined")


def test_overview_and_lessons(watched: Watched, viewer: Viewer) -> None:
    page = watched.page
    page.locator("header nav a", has_text="Overview").click()
    expect(page.locator("svg.timechart rect.col").first).to_be_visible()
    expect(page.locator("#failing-tools")).to_contain_text("account_api")
    expect(page.locator("#models")).to_contain_text("sim-large")
    page.screenshot(path=str(viewer.screenshots / "overview.png"), full_page=True)
    page.locator("header nav a", has_text="Lessons").click()
    expect(page.locator("#key-lessons tbody tr")).to_have_count(1)
    page.locator("#key-lessons a", has_text=f"traj-{FAILED_ID}").click()
    expect(page.locator("h1")).to_contain_text(f"traj-{FAILED_ID}")
    page.screenshot(path=str(viewer.screenshots / "lessons-source.png"), full_page=True)


def test_without_the_token_nothing_is_shown(browser: Browser, viewer: Viewer) -> None:
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(viewer.base + "/")
    assert response is not None
    assert response.status == 401
    expect(page.locator("body")).to_contain_text("needs its token")
    assert page.locator("#trajectories").count() == 0
    response = page.goto(f"{viewer.base}/trajectories/{FAILED_ID}?token=not-{TOKEN}")
    assert response is not None
    assert response.status == 401
    context.close()
