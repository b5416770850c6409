// SQL: a read-only query box over the views; results as a table, CSV download.
import { h, clear, fmtNumber, pageHref } from "../dom.js";

const EXAMPLES = [
  ["best trials", "select project, client, round, trial, score, hyperparams\nfrom trials\nwhere status = 'SUCCESS'\norder by score desc\nlimit 10"],
  ["rounds", "from rounds"],
  ["learning rate vs score", "select p.value_num as lr, t.score\nfrom params p join trials t using (project, client, round, trial)\nwhere p.name = 'lr' and t.status = 'SUCCESS'"],
  ["failures", "select trial, status, error from trials where status in ('FAILED', 'ABORTED')"],
];
const SHOWN = 1000;

function cell(value) {
  if (value === null) return h("td", { class: "muted", text: "NULL" });
  if (typeof value === "number") return h("td", { class: "num", text: fmtNumber(value) });
  return h("td", { text: typeof value === "object" ? JSON.stringify(value) : String(value) });
}

/** Render the SQL page; `params.q` prefills (and runs) a query. */
export async function renderSql(main, params, source) {
  const box = h("textarea", { id: "sql-query", rows: 8, spellcheck: false,
    "aria-label": "SQL query over the views" });
  box.value = params.get("q") || EXAMPLES[0][1];
  const status = h("p", { id: "sql-status", class: "muted" });
  const result = h("div", { id: "sql-result", class: "scroll" });
  const csv = h("a", { id: "sql-csv", class: "button", hidden: true, text: "Download CSV" });
  async function run() {
    const query = box.value;
    history.replaceState(null, "", pageHref("sql", { q: query }));
    status.textContent = "running…";
    status.className = "muted";
    clear(result);
    csv.hidden = true;
    const started = performance.now();
    try {
      const answer = await source.sql(query);
      if (answer.error) throw new Error(answer.error);
      const ms = performance.now() - started;
      const shown = answer.rows.slice(0, SHOWN);
      status.textContent = `${answer.rows.length}${answer.truncated ? "+" : ""} row(s) in ${ms.toFixed(0)} ms` +
        (answer.rows.length > shown.length ? `; the first ${shown.length} shown (the CSV has them all)` : "");
      result.append(h("table", { class: "data", id: "sql-table" },
        h("thead", {}, h("tr", {}, answer.columns.map((c, i) => h("th", { text: c, title: answer.types[i] })))),
        h("tbody", {}, shown.map((row) => h("tr", {}, row.map(cell))))));
      csv.href = source.sqlCsvUrl(query);
      csv.setAttribute("download", "query.csv");
      csv.hidden = false;
    } catch (error) {
      status.className = "error";
      status.id = "sql-status";
      status.textContent = error.message;
    }
  }
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); run(); }
  });
  clear(main).append(h("h1", { text: "SQL" }),
    h("p", { class: "muted" }, "Read-only SQL over the views metrics, events, rounds, trials, splits, ",
      "curves, params and catalog (DuckDB). Ctrl+Enter runs."),
    h("div", { class: "examples" }, "Examples: ", EXAMPLES.map(([label, text]) => h("button", {
      type: "button", class: "link", text: label, onclick: () => { box.value = text; run(); } }))),
    box, h("p", {}, h("button", { type: "button", id: "sql-run", text: "Run", onclick: run }), " ", csv),
    status, result);
  if (params.get("q")) await run();
  return { async update() { return false; }, dispose() {} };
}
