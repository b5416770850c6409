// Compare: two or more rounds side by side: best score, score distribution,
// and the learning curve of each round's best trial.
import { h, clear, fmtNumber, roundTitle, pageHref, section } from "../dom.js";
import { drawBoxes, drawLines } from "../charts.js";

function parseKeys(values) {
  const keys = [];
  for (const text of values) {
    try {
      const [project, client, round] = JSON.parse(text);
      keys.push({ project, client, round });
    } catch (_) { /* a malformed entry is skipped */ }
  }
  return keys;
}

/** Render the compare page for the rounds named by `r` parameters; returns {update, dispose}. */
export async function renderCompare(main, params, source) {
  const keys = parseKeys(params.getAll("r"));
  if (keys.length < 2) {
    clear(main).append(h("h1", { text: "Compare rounds" }), h("p", { class: "muted" },
      "Tick two or more rounds on the ", h("a", { href: pageHref(""), text: "runs page" }),
      " and press “Compare the ticked rounds”."));
    return { async update() { return false; }, dispose() {} };
  }
  const answer = await source.compare(keys);
  const rounds = answer.rounds;
  const label = (r) => roundTitle(r.round);
  const metrics = [...new Set(rounds.map((r) => r.round.main_metric_name))];
  const boxes = h("div", { id: "compare-boxes", class: "chart" });
  const curves = h("div", { id: "compare-curves", class: "chart" });
  clear(main).append(h("h1", { text: "Compare rounds" }),
    section("Best scores", h("table", { class: "data", id: "compare-table" },
      h("thead", {}, h("tr", {}, ["round", "main metric", "trials", "successful", "best score", "best trial"]
        .map((text) => h("th", { text })))),
      h("tbody", {}, rounds.map((r) => h("tr", {},
        h("td", {}, h("a", { href: pageHref("round", r.round), text: label(r) })),
        h("td", { text: `${r.round.main_metric_name ?? "—"}${r.round.higher_is_better === null ? "" : r.round.higher_is_better ? " ↑" : " ↓"}` }),
        h("td", { class: "num", text: String(r.round.n_trials) }),
        h("td", { class: "num", text: String(r.round.n_success) }),
        h("td", { class: "num best-score", text: fmtNumber(r.round.best_score) }),
        h("td", { class: "num", text: r.round.best_trial ?? "—" })))))),
    metrics.length > 1 ? h("p", { class: "warning",
      text: `These rounds have different main metrics (${metrics.join(", ")}): their scores do not compare.` }) : null,
    section("Score distribution", boxes),
    section("Learning curve of each best trial (validation)", curves));
  await drawBoxes(boxes, rounds.map((r) => ({ label: label(r), values: r.scores })), metrics.join(" / "));
  await drawLines(curves, rounds.filter((r) => r.best_curve).map((r) => ({
    label: `${label(r)}, trial ${r.round.best_trial}`, x: r.best_curve.epoch, y: r.best_curve.mean,
  })), metrics.join(" / "));
  return { async update() { return false; }, dispose() {} };
}
