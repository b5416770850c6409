// A trial: its hyperparameters, splits, learning curves per split and status timeline.
import { h, clear, fmtNumber, fmtTime, fmtDuration, roundTitle, pageHref, section, badge } from "../dom.js";
import { drawSplitCurves } from "../charts.js";

function keyValueTable(entries) {
  return h("table", { class: "data compact", id: "hyperparams" }, h("tbody", {},
    entries.map(([name, value]) => h("tr", {}, h("th", { text: name }),
      h("td", { text: typeof value === "number" ? fmtNumber(value) : JSON.stringify(value) })))));
}

function splitsTable(splits) {
  return h("table", { class: "data", id: "splits" },
    h("thead", {}, h("tr", {}, ["split", "status", "score", "epochs to best", "duration", "error"]
      .map((label) => h("th", { text: label })))),
    h("tbody", {}, splits.map((s) => h("tr", {},
      h("td", { text: s.split < 0 ? "retrain" : String(s.split) }), h("td", {}, badge(s.status)),
      h("td", { class: "num", text: fmtNumber(s.score) }),
      h("td", { class: "num", text: fmtNumber(s.n_epochs_to_best) }),
      h("td", { class: "num", text: fmtDuration(s.ended_at_ms !== null && s.started_at_ms !== null
        ? s.ended_at_ms - s.started_at_ms : null) }),
      h("td", {}, h("code", { class: "error", text: s.error ?? "" }))))));
}

function timeline(events) {
  return h("ol", { class: "timeline", id: "timeline" }, events.map((e) => h("li", {},
    h("time", { text: fmtTime(e.at_ms) }), " ",
    h("span", { text: e.level === "trial" ? "trial" : (e.split < 0 ? "retrain split" : `split ${e.split}`) }),
    " ", badge(e.status), e.error ? h("code", { class: "error", text: ` ${e.error}` }) : null)));
}

/** Render the trial page into `main`; returns {update, dispose}. */
export async function renderTrial(main, key, trial, source) {
  const state = { etag: null, metric: null, phase: null, payload: null };
  const metricSelect = h("select", { id: "trial-metric" });
  const phaseSelect = h("select", { id: "trial-phase" });
  const chart = h("div", { id: "split-curves", class: "chart" });
  const info = h("div");
  const hyper = h("div");
  const splits = h("div");
  const events = h("div");
  clear(main).append(
    h("p", {}, h("a", { href: pageHref("round", key), text: `← ${roundTitle(key)}` })),
    h("h1", { text: `Trial ${trial}` }), info,
    section("Hyperparameters", hyper),
    section("Learning curves per split", h("div", { class: "filters" },
      h("label", {}, "Metric ", metricSelect), h("label", {}, "Phase ", phaseSelect)), chart),
    section("Splits", splits),
    section("Status timeline", events));
  const redraw = () => drawSplitCurves(chart, state.payload.values, state.metric, state.phase);
  metricSelect.addEventListener("change", () => { state.metric = metricSelect.value; redraw(); });
  phaseSelect.addEventListener("change", () => { state.phase = phaseSelect.value; redraw(); });

  async function apply(payload) {
    state.etag = payload.etag;
    state.payload = payload;
    const t = payload.trial;
    clear(info).append(h("dl", { class: "facts" },
      h("dt", { text: "status" }), h("dd", {}, badge(t.status)),
      h("dt", { text: "score" }), h("dd", { id: "trial-score", text: fmtNumber(t.score) }),
      h("dt", { text: "epochs to best" }), h("dd", { text: fmtNumber(t.n_epochs_to_best) }),
      h("dt", { text: "started" }), h("dd", { text: fmtTime(t.started_at_ms) }),
      h("dt", { text: "ended" }), h("dd", { text: fmtTime(t.ended_at_ms) }),
      t.error ? [h("dt", { text: "error" }), h("dd", {}, h("code", { class: "error", text: t.error }))] : null));
    const hp = t.hyperparams ? JSON.parse(t.hyperparams) : {};
    clear(hyper).append(Object.keys(hp).length ? keyValueTable(Object.entries(hp))
      : h("p", { class: "muted", text: "No hyperparameters." }));
    clear(splits).append(splitsTable(payload.splits));
    clear(events).append(timeline(payload.events));
    const v = payload.values;
    const metrics = [...new Set(v.metric)];
    const phases = [...new Set(v.phase)];
    if (!metrics.includes(state.metric)) {
      const main = payload.round && payload.round.main_metric_name;
      state.metric = metrics.includes(main) ? main : metrics[0] ?? null;
    }
    if (!phases.includes(state.phase)) state.phase = phases.includes("valid") ? "valid" : phases[0] ?? null;
    clear(metricSelect).append(...metrics.map((m) => h("option", { value: m, text: m })));
    clear(phaseSelect).append(...phases.map((p) => h("option", { value: p, text: p })));
    metricSelect.value = state.metric ?? "";
    phaseSelect.value = state.phase ?? "";
    await redraw();
  }

  await apply(await source.trial(key, trial));
  return {
    async update() {
      const answer = await source.trial(key, trial, state.etag);
      if (answer.unchanged) return false;
      await apply(answer);
      return true;
    },
    dispose() {},
  };
}
