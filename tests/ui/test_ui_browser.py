"""What a person sees in the app, in a real browser (headless Chromium).

Every test runs on ``checked_page``: it also fails on any console error,
any dialog (a hostile value that ran as HTML would open one) and any request
that is not to the local server.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import _ui_data as d
import pytest
from _ui_harness import HERE, Watched, environment, start_ui, stop, watch
from playwright.sync_api import expect

from arrowscope import cli

#: These tests start processes (the app, Chromium).
pytestmark = pytest.mark.slow

ROUND0 = f"#/round?project={d.PROJECT}&client={d.CLIENT}&round=0"
N_HYPERPARAMS = 4  # act, depth, lr, opt


def open_page(w: Watched, url: str, fragment: str) -> Any:
    """Show the app's page ``fragment`` (``#/…``) and wait until it is drawn.

    The first call loads the app; later ones change the fragment only, as a
    click on a link does (an extra ``visit`` parameter, which pages ignore,
    makes each one a new visit). ``data-visit`` counts the pages shown.
    """
    page = w.page
    visit = page.evaluate("document.getElementById('main')?.dataset.visit ?? null")
    sep = "&" if "?" in fragment else "?"
    page.goto(f"{url}/{fragment}{sep}visit={int(visit or 0) + 1}")
    page.wait_for_function(
        "v => { const m = document.getElementById('main');"
        " return m.dataset.visit !== v && m.dataset.ready === 'true'; }",
        arg=visit,
        timeout=20_000,
    )
    return page


def first_column(page: Any, column: int = 1) -> list[str]:
    """The text of one column of the trial table, top to bottom."""
    return page.locator(f"#trials tbody tr td:nth-child({column + 1})").all_text_contents()


def legend(page: Any, chart: str) -> list[str]:
    return page.locator(f"{chart} .legend .traces .legendtext").all_text_contents()


def scrolled_to(page: Any, chart: str) -> Any:
    """The chart ``chart``, scrolled into view (round page charts draw once seen)."""
    page.locator(chart).scroll_into_view_if_needed()
    return page.locator(chart)


def test_round_page_ranks_draws_and_shows_hostile_text_as_text(
    checked_page: Watched, ui_url: str
) -> None:
    page = open_page(checked_page, ui_url, ROUND0)
    best = d.ranking()
    trials = first_column(page)
    assert trials[:3] == [str(t) for t in best[:3]]  # the best trial first
    assert page.locator("#trials tbody tr").first.get_attribute("class") == "best"

    # One curve per selected trial: the five best at first, then one more ticked.
    expect(scrolled_to(page, "#curves").locator(".legend .traces")).to_have_count(5)
    assert legend(page, "#curves") == [f"trial {t}" for t in best[:5]]
    page.locator(f"#trials tr[data-trial='{best[5]}'] input.select-trial").check()
    expect(scrolled_to(page, "#curves").locator(".legend .traces")).to_have_count(6)
    page.locator(f"#trials tr[data-trial='{best[0]}'] input.select-trial").uncheck()
    expect(scrolled_to(page, "#curves").locator(".legend .traces")).to_have_count(5)

    # Parallel coordinates: one axis per hyperparameter, plus the score.
    axes = scrolled_to(page, "#parallel").locator(".axis-title")
    expect(axes).to_have_count(N_HYPERPARAMS + 1)
    # Score against each hyperparameter; lr is log-uniform, so its axis is logarithmic.
    expect(scrolled_to(page, "#scatters").locator("figure")).to_have_count(N_HYPERPARAMS)
    expect(page.locator("#scatters figure .js-plotly-plot")).to_have_count(N_HYPERPARAMS)
    types = page.evaluate(
        "[...document.querySelectorAll('#scatters figure')].map(f => "
        "[f.querySelector('figcaption').textContent, f.querySelector('.js-plotly-plot')"
        ".layout.xaxis.type])"
    )
    assert dict(types)["lr"] == "log" and dict(types)["depth"] == "linear"

    # Hostile text shows as the characters typed; no element was made from it.
    hostile_cells = page.locator("#trials td", has_text=d.HOSTILE)
    assert hostile_cells.count() >= 1
    assert hostile_cells.first.text_content() == d.HOSTILE
    assert page.locator("img").count() == 0
    errors = page.locator("#failures code.error").all_text_contents()
    assert errors == [f"ValueError: {d.HOSTILE_ERROR}"] * 2
    page.locator("#failures details summary").first.click()
    assert "Traceback" in page.locator("#failures pre.traceback").first.text_content()


def test_round_table_sorts_filters_and_downloads_csv(checked_page: Watched, ui_url: str) -> None:
    page = open_page(checked_page, ui_url, ROUND0)
    page.locator("#trials th", has_text="trial").first.click()
    assert first_column(page)[:3] == ["0", "1", "2"]
    page.locator("#trials th", has_text="trial").first.click()
    assert first_column(page)[0] == str(d.N_TRIALS - 1)

    page.select_option("#status-filter", "FAILED")
    assert sorted(first_column(page)) == sorted(str(t) for t in d.FAILING)
    page.select_option("#status-filter", "")
    third_best = d.best_valid_score(d.ranking()[2])
    page.locator(".filters input[placeholder=min]").first.fill(f"{third_best + 1e-9:.9f}")
    expect(page.locator("#trials tbody tr")).to_have_count(2)

    with page.expect_download() as download:
        page.click("#csv-download")
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert rows[0][:3] == ["trial", "status", "score (acc)"]
    assert {"act", "depth", "lr"} <= set(rows[0])
    assert "opt" not in rows[0]  # one value in every trial: hidden unless asked for
    assert [r[0] for r in rows[1:]] == [str(t) for t in sorted(d.ranking()[:2], reverse=True)]


def test_home_compare_and_trial_pages(checked_page: Watched, ui_url: str) -> None:
    page = open_page(checked_page, ui_url, "#/")
    rows = page.locator("#rounds tbody tr.round-row")
    expect(rows).to_have_count(3)
    first = rows.first.locator("td").all_text_contents()
    assert first[:3] == [d.PROJECT, d.LIVE, "round 0"]
    page.locator("#rounds tr", has_text=d.CLIENT).locator("input.compare-pick").first.check()
    page.locator("#rounds tr", has_text=d.CLIENT).locator("input.compare-pick").nth(1).check()
    page.click("#compare-button")
    page.wait_for_selector("#main[data-page=compare][data-ready=true]")
    expect(page.locator("#compare-table tbody tr")).to_have_count(2)
    expect(page.locator("#compare-boxes .boxlayer .trace")).to_have_count(2)
    expect(page.locator("#compare-curves .legend .traces")).to_have_count(2)

    trial = f"#/trial?project={d.PROJECT}&client={d.CLIENT}&round=0&trial=4"
    open_page(checked_page, ui_url, trial)
    expect(page.locator("#split-curves .legend .traces")).to_have_count(d.N_SPLITS)
    events = page.locator("#timeline li").all_text_contents()
    assert "PLANNED" in events[0] and "FAILED" in events[-1] and d.HOSTILE_ERROR in events[-1]
    assert page.locator("#hyperparams th").all_text_contents() == ["act", "depth", "lr", "opt"]


def test_sql_box_answers_and_refuses(checked_page: Watched, ui_url: str) -> None:
    page = open_page(checked_page, ui_url, "#/sql")
    page.fill(
        "#sql-query",
        f"select trial, score from trials where client = '{d.CLIENT}' and round = 0 "
        "and status = 'SUCCESS' order by score desc limit 3",
    )
    page.click("#sql-run")
    expect(page.locator("#sql-table tbody tr")).to_have_count(3)
    cells = page.locator("#sql-table tbody tr td:first-child").all_text_contents()
    assert cells == [str(t) for t in d.ranking()[:3]]
    with page.expect_download() as download:
        page.click("#sql-csv")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "trial,score" and len(lines) == 4

    for query, said in [
        ("copy (select 1) to 'out.csv'", "COPY"),
        ("select * from read_csv('/etc/passwd')", "read_csv"),
    ]:
        page.fill("#sql-query", query)
        page.click("#sql-run")
        expect(page.locator("#sql-status.error")).to_contain_text(said)
        expect(page.locator("#sql-table")).to_have_count(0)


def test_round_page_updates_itself_when_another_process_adds_a_trial(
    checked_page: Watched, ui_url: str, ui_data: Path
) -> None:
    page = open_page(checked_page, ui_url, f"#/round?project={d.PROJECT}&client={d.LIVE}&round=0")
    expect(page.locator("#n-trials")).to_have_text("2")
    page.evaluate("window.notReloaded = true")
    subprocess.run(
        [sys.executable, str(HERE / "_ui_data.py"), "add", str(ui_data)],
        check=True,
        env=environment(),
        capture_output=True,
    )
    expect(page.locator("#n-trials")).to_have_text("3", timeout=20_000)
    expect(page.locator("#trials tbody tr")).to_have_count(3)
    assert page.evaluate("window.notReloaded") is True


def test_off_loopback_needs_the_token(browser: Any, ui_data: Path) -> None:
    proc, url = start_ui(ui_data, "--host", "0.0.0.0")
    try:
        assert "?token=" in url
        base = url.split("?")[0].rstrip("/")
        for path in ("/", "/api/home", "/static/js/app.js"):
            try:
                urllib.request.urlopen(base + path, timeout=10)
                raise AssertionError(f"{path} answered without the token")
            except urllib.error.HTTPError as exc:
                assert exc.code == 401
        context = browser.new_context()
        w = watch(context, base)
        page = w.page
        page.goto(url)
        page.wait_for_selector("#main[data-ready=true]", timeout=20_000)
        expect(page.locator("#rounds tbody tr.round-row")).to_have_count(3)
        context.close()
        assert w.errors == [] and w.offsite == []
    finally:
        stop(proc)


def test_static_report_is_one_file_that_draws_offline(
    browser: Any, ui_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    args = ["report", str(ui_data), "--html", str(out), "--client", d.CLIENT, "--round", "0"]
    assert cli.main(args) == 0
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    w = watch(context, out.as_uri())
    page = w.page
    page.goto(out.as_uri())
    page.wait_for_selector("#main[data-ready=true]", timeout=20_000)
    assert first_column(page)[:3] == [str(t) for t in d.ranking()[:3]]
    expect(scrolled_to(page, "#curves").locator(".legend .traces")).to_have_count(5)
    expect(scrolled_to(page, "#parallel").locator(".axis-title")).to_have_count(N_HYPERPARAMS + 1)
    assert page.locator("#trials td", has_text=d.HOSTILE).first.text_content() == d.HOSTILE
    context.close()
    assert w.errors == [] and w.dialogs == [] and w.offsite == []
    assert w.requests == [out.as_uri()]
