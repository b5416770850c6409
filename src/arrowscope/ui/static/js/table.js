// The trial table of a round: sort by any column, filter by status, score and
// epochs to best, hyperparameters as columns (only those that differ unless
// asked), pages of 50 rows, a selection for the curves, CSV download.
import { h, clear, fmtNumber, fmtDuration, csvLine, download, badge } from "./dom.js";

const PAGE_ROWS = 50;
const STATUSES = ["SUCCESS", "FAILED", "ABORTED", "RUNNING", "PLANNED"];

function hyperparamValue(column, i) {
  if (column.kind === "number") return column.values[i];
  const code = column.codes[i];
  return code < 0 ? null : column.labels[code];
}

function compareValues(a, b) {
  const aMissing = a === null || a === undefined;
  const bMissing = b === null || b === undefined;
  if (aMissing || bMissing) return aMissing === bMissing ? 0 : aMissing ? 1 : -1;
  const aNum = typeof a === "number";
  const bNum = typeof b === "number";
  if (aNum && bNum) return a - b;
  if (aNum !== bNum) return aNum ? -1 : 1;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

function numberInput(placeholder, onInput) {
  return h("input", { type: "number", step: "any", placeholder, class: "narrow", oninput: onInput });
}

export class TrialTable {
  /**
   * @param {object} options trialHref(trial) -> URL or null; onSelect(Set of trials);
   *   filename: the CSV file's name.
   */
  constructor(options) {
    this.options = options;
    this.selected = new Set();
    this.sort = null;
    this.page = 0;
    this.showAll = false;
    this.filters = { status: "", scoreMin: null, scoreMax: null, epochsMin: null, epochsMax: null };
    const refilter = () => { this.page = 0; this.refresh(); };
    const numeric = (field) => (event) => {
      const text = event.target.value;
      this.filters[field] = text === "" ? null : Number(text);
      refilter();
    };
    this.statusSelect = h("select", { id: "status-filter", onchange: (e) => {
      this.filters.status = e.target.value; refilter();
    } }, h("option", { value: "", text: "every status" }),
    STATUSES.map((s) => h("option", { value: s, text: s })));
    this.allToggle = h("input", { type: "checkbox", id: "all-hyperparams", onchange: (e) => {
      this.showAll = e.target.checked; this.refresh();
    } });
    this.hiddenNote = h("span", { class: "muted" });
    this.counter = h("span", { class: "muted", id: "table-count" });
    this.head = h("thead");
    this.body = h("tbody");
    this.pager = h("div", { class: "pager" });
    this.element = h("div", { class: "trial-table" },
      h("div", { class: "filters" },
        h("label", {}, "Status ", this.statusSelect),
        h("label", {}, "Score ", numberInput("min", numeric("scoreMin")), " – ",
          numberInput("max", numeric("scoreMax"))),
        h("label", {}, "Epochs to best ", numberInput("min", numeric("epochsMin")), " – ",
          numberInput("max", numeric("epochsMax"))),
        h("label", {}, this.allToggle, " every hyperparameter"), this.hiddenNote,
        h("button", { type: "button", id: "csv-download", onclick: () => this.downloadCsv(),
          text: "Download CSV" })),
      h("div", { class: "scroll" }, h("table", { id: "trials", class: "data" }, this.head, this.body)),
      h("div", { class: "table-foot" }, this.counter, this.pager));
  }

  /** New data (a round payload); keeps sort, filters, page and selection. */
  setData(payload, selected) {
    this.payload = payload;
    this.selected = new Set(selected);
    const t = payload.trials;
    this.n = t.trial.length;
    const higher = payload.round.higher_is_better;
    if (!this.sort) this.sort = { id: "score", desc: higher === true };
    this.refresh();
  }

  columns() {
    const t = this.payload.trials;
    const main = this.payload.round.main_metric_name || "score";
    const href = this.options.trialHref;
    const cols = [
      { id: "select", label: "", sortable: false, render: (i) => h("input", {
        type: "checkbox", class: "select-trial", checked: this.selected.has(t.trial[i]),
        "aria-label": `show trial ${t.trial[i]} in the curves`,
        onchange: (e) => this.toggle(t.trial[i], e.target.checked) }) },
      { id: "trial", label: "trial", value: (i) => t.trial[i], render: (i) => {
        const url = href ? href(t.trial[i]) : null;
        return url ? h("a", { href: url, text: String(t.trial[i]) }) : String(t.trial[i]);
      } },
      { id: "status", label: "status", value: (i) => t.status[i], render: (i) => badge(t.status[i]) },
      { id: "score", label: `score (${main})`, value: (i) => t.score[i], numeric: true },
      { id: "epochs", label: "epochs to best", value: (i) => t.n_epochs_to_best[i], numeric: true },
      { id: "splits", label: "splits", value: (i) => t.n_splits[i], numeric: true },
    ];
    for (const column of this.payload.hyperparams) {
      if (!this.showAll && !column.varies) continue;
      cols.push({ id: `hp:${column.name}`, label: column.name, hyperparam: true,
        value: (i) => hyperparamValue(column, i), numeric: column.kind === "number" });
    }
    cols.push({ id: "duration", label: "duration", numeric: true, value: (i) =>
      t.ended_at_ms[i] !== null && t.started_at_ms[i] !== null ? t.ended_at_ms[i] - t.started_at_ms[i] : null,
    render: (i) => {
      const ms = t.ended_at_ms[i] !== null && t.started_at_ms[i] !== null
        ? t.ended_at_ms[i] - t.started_at_ms[i] : null;
      return fmtDuration(ms);
    } });
    return cols;
  }

  /** Row indices passing the filters, in the chosen order. */
  rows(cols) {
    const t = this.payload.trials;
    const f = this.filters;
    const out = [];
    for (let i = 0; i < this.n; i++) {
      if (f.status && t.status[i] !== f.status) continue;
      const score = t.score[i];
      if (f.scoreMin !== null && !(score !== null && score >= f.scoreMin)) continue;
      if (f.scoreMax !== null && !(score !== null && score <= f.scoreMax)) continue;
      const epochs = t.n_epochs_to_best[i];
      if (f.epochsMin !== null && !(epochs !== null && epochs >= f.epochsMin)) continue;
      if (f.epochsMax !== null && !(epochs !== null && epochs <= f.epochsMax)) continue;
      out.push(i);
    }
    const column = cols.find((c) => c.id === this.sort.id) || cols.find((c) => c.id === "trial");
    const sign = this.sort.desc ? -1 : 1;
    const values = new Array(this.n);
    for (const i of out) values[i] = column.value(i);
    out.sort((a, b) => {
      const va = values[a];
      const vb = values[b];
      const missing = (va === null || va === undefined) - (vb === null || vb === undefined);
      if (missing) return missing; // missing values last, whichever the direction
      return sign * compareValues(va, vb) || t.trial[a] - t.trial[b];
    });
    return out;
  }

  refresh() {
    const cols = this.columns();
    const rows = this.rows(cols);
    this.visible = { cols, rows };
    const hidden = this.payload.hyperparams.filter((c) => !c.varies).length;
    this.hiddenNote.textContent = !this.showAll && hidden
      ? `(${hidden} hyperparameter${hidden > 1 ? "s" : ""} with one value hidden)` : "";
    clear(this.head).append(h("tr", {}, cols.map((c) => this.headerCell(c))));
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_ROWS));
    this.page = Math.min(this.page, pages - 1);
    const start = this.page * PAGE_ROWS;
    const shown = rows.slice(start, start + PAGE_ROWS);
    const best = this.payload.round.best_trial;
    const t = this.payload.trials;
    clear(this.body).append(...shown.map((i) => h("tr", {
      class: t.trial[i] === best ? "best" : null, dataset: { trial: String(t.trial[i]) },
    }, cols.map((c) => h("td", { class: c.numeric ? "num" : null },
      c.render ? c.render(i) : (c.numeric ? fmtNumber(c.value(i)) : (c.value(i) ?? "—")))))));
    this.counter.textContent = rows.length
      ? `trials ${start + 1}–${start + shown.length} of ${rows.length}` +
        (rows.length < this.n ? ` (filtered from ${this.n})` : "")
      : `no trial matches (of ${this.n})`;
    clear(this.pager).append(
      h("button", { type: "button", disabled: this.page === 0, text: "‹ previous",
        onclick: () => { this.page -= 1; this.refresh(); } }),
      h("span", { text: ` page ${this.page + 1} of ${pages} ` }),
      h("button", { type: "button", disabled: this.page >= pages - 1, text: "next ›",
        onclick: () => { this.page += 1; this.refresh(); } }));
  }

  headerCell(column) {
    if (column.sortable === false) return h("th", { text: "" });
    const active = this.sort.id === column.id;
    const arrow = active ? (this.sort.desc ? " ▼" : " ▲") : "";
    return h("th", {
      class: `sortable${column.numeric ? " num" : ""}${column.hyperparam ? " hp" : ""}`,
      title: "sort by this column",
      "aria-sort": active ? (this.sort.desc ? "descending" : "ascending") : "none",
      onclick: () => {
        this.sort = { id: column.id, desc: active ? !this.sort.desc : false };
        this.refresh();
      },
    }, column.label, arrow);
  }

  toggle(trial, on) {
    if (on) this.selected.add(trial); else this.selected.delete(trial);
    this.options.onSelect(new Set(this.selected));
  }

  downloadCsv() {
    const cols = this.visible.cols.filter((c) => c.id !== "select");
    let text = csvLine(cols.map((c) => c.label));
    for (const i of this.visible.rows) text += csvLine(cols.map((c) => c.value(i)));
    download(this.options.filename || "trials.csv", text);
  }
}
