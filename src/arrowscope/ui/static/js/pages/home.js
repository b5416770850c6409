// Home: every project › client › round with trial counts by status, the best
// score and the last activity; tick rounds to compare them.
import { h, clear, fmtNumber, fmtTime, pageHref, section } from "../dom.js";

const COUNTS = [["n_success", "success"], ["n_failed", "failed"], ["n_aborted", "aborted"],
  ["n_running", "running"], ["n_planned", "planned"]];

function roundRow(row, chosen, onChange) {
  if (row.round === null) {
    return h("tr", {}, h("td", { text: row.project }), h("td", { text: row.client ?? "—" }),
      h("td", { colspan: 10, class: "muted", text: row.client === null ? "no client yet" : "no round yet" }));
  }
  const key = { project: row.project, client: row.client, round: row.round };
  const id = JSON.stringify([row.project, row.client, row.round]);
  const arrow = row.higher_is_better === null ? "" : row.higher_is_better ? " ↑" : " ↓";
  return h("tr", { class: "round-row" },
    h("td", { text: row.project }), h("td", { text: row.client }),
    h("td", {}, h("a", { href: pageHref("round", key), class: "round-link", text: `round ${row.round}` })),
    h("td", { text: `${row.main_metric_name ?? "—"}${arrow}` }),
    h("td", { class: "num", text: String(row.n_trials) }),
    COUNTS.map(([field]) => h("td", { class: `num count ${row[field] ? "" : "zero"}`, text: String(row[field]) })),
    h("td", { class: "num" }, row.best_trial === null ? "—" : h("span", {},
      fmtNumber(row.best_score), " ", h("a", { href: pageHref("trial", { ...key, trial: row.best_trial }),
        class: "muted", text: `(trial ${row.best_trial})` }))),
    h("td", { text: fmtTime(row.last_activity_ms) }),
    h("td", {}, h("input", { type: "checkbox", class: "compare-pick", checked: chosen.has(id),
      "aria-label": "compare this round", onchange: (e) => onChange(id, e.target.checked) })));
}

/** Render the home page into `main`; returns {update, dispose}. */
export async function renderHome(main, source) {
  const chosen = new Set();
  const compareButton = h("button", { type: "button", id: "compare-button", disabled: true,
    text: "Compare the ticked rounds", onclick: () => {
      location.hash = pageHref("compare", { r: [...chosen] });
    } });
  const body = h("tbody");
  const onChange = (id, on) => {
    if (on) chosen.add(id); else chosen.delete(id);
    compareButton.disabled = chosen.size < 2;
  };
  clear(main).append(h("h1", { text: "Runs" }), section("Projects › clients › rounds",
    h("div", { class: "scroll" }, h("table", { class: "data", id: "rounds" },
      h("thead", {}, h("tr", {}, ["project", "client", "round", "main metric", "trials",
        ...COUNTS.map(([, label]) => label), "best score", "last activity", "compare"]
        .map((label) => h("th", { text: label })))), body)),
    h("p", {}, compareButton)));
  let etag = null;
  function apply(answer) {
    etag = answer.etag;
    clear(body).append(...answer.rounds.map((row) => roundRow(row, chosen, onChange)));
    if (!answer.rounds.length) body.append(h("tr", {}, h("td", { colspan: 14, class: "muted",
      text: "No project yet: log a search with arrowscope.Root.at(this directory)." })));
  }
  apply(await source.home());
  return {
    async update() {
      const answer = await source.home(etag);
      if (answer.unchanged) return false;
      apply(answer);
      return true;
    },
    dispose() {},
  };
}
