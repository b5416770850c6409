"""The static report: one self-contained HTML file with a round's table and charts.

Everything is inlined — the data as JSON, plotly.js, the app's CSS and its
modules bundled into one script — so the file opens anywhere, offline, and
its Content-Security-Policy forbids it to load or send anything. It holds the
curves of the round's best trials (every metric and phase); the others can
be ticked in the table but have no curve in the file.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any, Final

from arrowscope.ui import pages
from arrowscope.ui.assets import PLOTLY, asset_table, bundle
from arrowscope.ui.live import LiveData
from arrowscope.ui.pages import NotFound, RoundKey

#: Trials whose curves the report holds: the best ones.
CURVE_TRIALS: Final = 10
_CSP: Final = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)


def choose_round(
    data: LiveData, project: str | None, client: str | None, round: int | None
) -> RoundKey:
    """The one round matching the filters; without ``round``, the latest of its client.

    Raises:
        NotFound: no round matches, or several clients do (name one).
    """
    rows = json.loads(pages.home(data).body)["rounds"]
    rounds = [
        RoundKey(r["project"], r["client"], r["round"])
        for r in rows
        if r["round"] is not None
        and project in (None, r["project"])
        and client in (None, r["client"])
        and round in (None, r["round"])
    ]
    if not rounds:
        given = {"project": project, "client": client, "round": round}
        wanted = ", ".join(f"{k}={v!r}" for k, v in given.items() if v is not None)
        raise NotFound(f"no round matches {wanted}" if wanted else "there is no round yet")
    clients = sorted({(k.project, k.client) for k in rounds})
    if len(clients) > 1:
        names = ", ".join(f"{p} › {c}" for p, c in clients)
        raise NotFound(
            f"{len(clients)} clients match ({names}); choose one with --project/--client"
        )
    return max(rounds, key=lambda k: k.round)


def report_data(data: LiveData, key: RoundKey) -> dict[str, Any]:
    """What the report inlines: the round page's JSON and the best trials' curves."""
    round_payload = json.loads(pages.round_page(data, key).body)
    info = round_payload["round"]
    best = pages.best_trials(round_payload["trials"], info["higher_is_better"], CURVE_TRIALS)
    curves: dict[str, Any] = {}
    for pair in round_payload["metrics"]:
        answer = json.loads(pages.curves(data, key, pair["metric"], pair["phase"], best).body)
        curves[f"{pair['metric']}\u0000{pair['phase']}"] = answer["trials"]
    return {"key": key._asdict(), "round": round_payload, "curves": curves, "curve_trials": best}


def render(report: dict[str, Any]) -> str:
    """The report's HTML text."""
    assets = asset_table()
    css = assets["style.css"].read().decode("utf-8")
    plotly = assets[PLOTLY].read().decode("utf-8")
    script = bundle("js/report.js")
    for name, text in (("plotly.js", plotly), ("the app's script", script)):
        if "</script" in text.lower():
            raise ValueError(f"{name} contains '</script' and cannot be inlined")
    # JSON in a script element: '<' escaped so no text can close the element.
    data = json.dumps(report, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    key = report["key"]
    title = f"{key['project']} › {key['client']} › round {key['round']} — arrowscope report"
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{css}</style>",
            f"<script>{plotly}</script>",
            "</head><body>",
            '<header class="top"><span class="brand">arrowscope</span>'
            '<span class="live">static report</span></header>',
            '<main id="main"><p class="muted">Loading…</p></main>',
            f'<script type="application/json" id="arrowscope-data">{data}</script>',
            f"<script>{script}</script>",
            "</body></html>",
        ]
    )


def write_report(
    source: object,
    out: str | os.PathLike[str],
    project: str | None = None,
    client: str | None = None,
    round: int | None = None,
) -> RoundKey:
    """Write the report of one round of ``source`` to ``out``; returns the round.

    Raises:
        NotFound: see :func:`choose_round`.
    """
    data = LiveData(source)
    data.open()
    try:
        key = choose_round(data, project, client, round)
        text = render(report_data(data, key))
    finally:
        data.close()
    path = Path(out)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return key
