// A round: its trials (table), learning curves of the chosen trials, parallel
// coordinates, score against each hyperparameter, failed and aborted trials.
import { h, clear, fmtNumber, fmtTime, roundTitle, pageHref, section, badge } from "../dom.js";
import { TrialTable } from "../table.js";
import { drawCurves, drawParallel, drawScoreScatters, lazy, PARALLEL_LINES } from "../charts.js";

function direction(higher) {
  if (higher === null || higher === undefined) return "";
  return higher ? " (higher is better)" : " (lower is better)";
}

function summary(info) {
  const best = info.best_trial === null ? "—" : `${fmtNumber(info.best_score)} (trial ${info.best_trial})`;
  return h("dl", { class: "facts" },
    h("dt", { text: "main metric" }), h("dd", { text: `${info.main_metric_name ?? "—"}${direction(info.higher_is_better)}` }),
    h("dt", { text: "trials" }), h("dd", { id: "n-trials", text: String(info.n_trials) }),
    h("dt", { text: "successful" }), h("dd", { text: String(info.n_success) }),
    h("dt", { text: "best score" }), h("dd", { id: "best-score", text: best }),
    h("dt", { text: "created" }), h("dd", { text: fmtTime(info.created_at_ms) }));
}

function failureList(failures) {
  if (!failures.length) return h("p", { class: "muted", text: "No failed or aborted trial." });
  return h("ul", { class: "failures", id: "failures" }, failures.map((f) => h("li", {},
    h("div", {}, badge(f.status), ` trial ${f.trial} · ${fmtTime(f.ended_at_ms)} · `,
      h("code", { class: "error", text: f.error ?? "(no error recorded)" })),
    f.traceback ? h("details", {}, h("summary", { text: "traceback" }),
      h("pre", { class: "traceback", text: f.traceback })) : null)));
}

/**
 * Render the round page into `main`. Returns {update, dispose}: `update()` asks
 * the source whether the round changed and redraws only then. The table shows
 * at once; each chart is drawn when it scrolls into view (see charts.lazy).
 */
export async function renderRound(main, key, source) {
  const state = { payload: null, etag: null, metric: null, phase: null, selected: [],
    touched: false };
  const title = h("h1", { text: roundTitle(key) });
  const facts = h("div");
  const metricSelect = h("select", { id: "metric-select" });
  const phaseSelect = h("select", { id: "phase-select" });
  const curvesNote = h("p", { class: "muted", id: "curves-note" });
  const curves = h("div", { id: "curves", class: "chart" });
  const parallel = h("div", { id: "parallel", class: "chart tall" });
  const scatters = h("div", { id: "scatters", class: "grid" });
  const failures = h("div");
  const table = new TrialTable({
    filename: `${key.project}-${key.client}-round${key.round}-trials.csv`,
    trialHref: source.live ? (trial) => pageHref("trial", { ...key, trial }) : null,
    onSelect: (selected) => {
      state.touched = true;
      state.selected = [...selected];
      curvesChart.set(drawSelected);
    },
  });
  const curvesChart = lazy(curves);
  const parallelChart = lazy(parallel);
  const scattersChart = lazy(scatters);
  function orderedSelection() {
    // Best first, the order of the round's ranking (payload.selected) then trial number.
    const rank = new Map(state.payload.selected.map((t, i) => [t, i]));
    return [...state.selected].sort((a, b) => (rank.get(a) ?? 1e12) - (rank.get(b) ?? 1e12) || a - b);
  }

  async function drawSelected() {
    const trials = orderedSelection();
    if (!state.metric) {
      curvesNote.textContent = "No values logged yet.";
      return;
    }
    curvesNote.textContent = trials.length ? "" : "Tick trials in the table to draw their curves.";
    let answer;
    const preloaded = state.payload.curves;
    const covers = preloaded.metric === state.metric && preloaded.phase === state.phase &&
      trials.every((t) => preloaded.trials[String(t)]);
    if (covers) answer = preloaded;
    else answer = await source.curves(key, state.metric, state.phase, trials);
    if (source.heldTrials) {
      const missing = trials.filter((t) => !source.heldTrials.has(String(t)));
      if (missing.length) curvesNote.textContent =
        `This report holds the curves of the best trials only; not of trial ${missing.join(", ")}.`;
    }
    await drawCurves(curves, answer.trials, trials, state.metric, state.phase);
  }

  function fillSelectors(metrics) {
    const names = [...new Set(metrics.map((m) => m.metric))];
    const phases = [...new Set(metrics.map((m) => m.phase))];
    clear(metricSelect).append(...names.map((m) => h("option", { value: m, text: m })));
    clear(phaseSelect).append(...phases.map((p) => h("option", { value: p, text: p })));
    if (state.metric !== null) metricSelect.value = state.metric;
    if (state.phase !== null) phaseSelect.value = state.phase;
  }
  metricSelect.addEventListener("change", () => {
    state.metric = metricSelect.value;
    curvesChart.set(drawSelected);
  });
  phaseSelect.addEventListener("change", () => {
    state.phase = phaseSelect.value;
    curvesChart.set(drawSelected);
  });

  async function apply(payload) {
    state.payload = payload;
    if (!state.touched) state.selected = [...payload.selected];
    if (state.metric === null || !payload.metrics.some((m) => m.metric === state.metric)) {
      state.metric = payload.curves.metric;
      state.phase = payload.curves.phase;
    }
    clear(facts).append(summary(payload.round));
    fillSelectors(payload.metrics);
    table.setData(payload, state.selected);
    clear(failures).append(failureList(payload.failures));
    curvesChart.set(drawSelected);
    parallelChart.set(() => drawParallel(parallel, payload));
    scattersChart.set(async () => {
      clear(scatters);
      await drawScoreScatters(scatters, payload, (name) => {
        const cell = h("div", { class: "chart small" });
        scatters.append(h("figure", {}, h("figcaption", { text: name }), cell));
        return cell;
      });
      scatters.dataset.drawn = String((Number(scatters.dataset.drawn) || 0) + 1);
    });
  }

  // The page is laid out with its data, so charts below the table start out of view.
  const first = await source.round(key);
  state.etag = first.etag;
  clear(main).append(title, facts,
    section("Trials", table.element),
    section("Learning curves",
      h("div", { class: "filters" }, h("label", {}, "Metric ", metricSelect), h("label", {}, "Phase ", phaseSelect)),
      curvesNote, curves),
    section("Parallel coordinates", h("p", { class: "muted",
      text: "One axis per hyperparameter, then the score; each line is a successful trial" +
        ` (the ${PARALLEL_LINES.toLocaleString("en")} best when there are more).` }), parallel),
    section("Score against each hyperparameter", scatters),
    section("Failed and aborted trials", failures));

  await apply(first);
  return {
    async update() {
      const answer = await source.round(key, state.etag);
      if (answer.unchanged) return false;
      state.etag = answer.etag;
      await apply(answer);
      return true;
    },
    dispose() {
      for (const chart of [curvesChart, parallelChart, scattersChart]) chart.dispose();
    },
  };
}
