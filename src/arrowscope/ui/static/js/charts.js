// Charts drawn with plotly.js (served by the app itself). Every label goes
// through plotText, so names and values show as typed, never as markup.
import { plotText } from "./dom.js";

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
  "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] };
const FONT = { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12 };
/** Above this many points, scatter plots draw with WebGL. */
const GL_POINTS = 2000;

function layout(extra) {
  return { font: FONT, margin: { l: 60, r: 20, t: 30, b: 50 }, paper_bgcolor: "white",
    plot_bgcolor: "white", hovermode: "closest", ...extra };
}

function color(i, alpha) {
  const hex = PALETTE[i % PALETTE.length];
  if (alpha === undefined) return hex;
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

let loading = null;

/** plotly.js, loaded once: the app serves it (a static report inlines it). */
export function plotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/static/vendor/plotly.min.js";
      script.async = true;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => reject(new Error("cannot load plotly.js from the server"));
      document.head.append(script);
    });
  }
  return loading;
}

/** Draw (or redraw) a chart; `data-drawn` counts the draws. */
async function draw(element, traces, lay) {
  const Plotly = await plotly();
  await Plotly.react(element, traces, lay, CONFIG);
  element.dataset.drawn = String((Number(element.dataset.drawn) || 0) + 1);
}

/**
 * A chart drawn only once it is (nearly) on screen: `set(fn)` gives the latest
 * drawing; it runs now if the chart is in view, else when it scrolls into view.
 * Large rounds draw tens of thousands of lines: charts below the fold wait.
 */
export function lazy(element) {
  let pending = null;
  let visible = false;
  let running = Promise.resolve();
  const run = () => {
    if (!pending) return;
    const fn = pending;
    pending = null;
    running = running.then(fn).catch((error) => console.error("drawing failed:", error));
  };
  const observer = new IntersectionObserver((entries) => {
    visible = entries.some((e) => e.isIntersecting);
    if (visible) run();
  });
  observer.observe(element);
  return {
    set(fn) { pending = fn; if (visible) run(); },
    dispose() { observer.disconnect(); },
  };
}

function extent(values) {
  let low = Infinity;
  let high = -Infinity;
  for (const v of values) {
    if (v === null) continue;
    if (v < low) low = v;
    if (v > high) high = v;
  }
  return [low, high];
}

/** Plotly's finite numbers only (hyperparameter values may be "NaN" or "Infinity"). */
function isNum(v) {
  return typeof v === "number" && Number.isFinite(v);
}

/**
 * Learning curves: one line per trial (the mean over its validation splits) and
 * a band from the lowest to the highest split value at each epoch.
 */
export function drawCurves(element, bands, trials, metric, phase, labelOf = (t) => `trial ${t}`) {
  const traces = [];
  trials.forEach((trial, i) => {
    const band = bands[String(trial)];
    if (!band) return;
    const epochs = band.epoch;
    traces.push({
      x: [...epochs, ...[...epochs].reverse()], y: [...band.high, ...[...band.low].reverse()],
      fill: "toself", fillcolor: color(i, 0.15), line: { width: 0 }, hoverinfo: "skip",
      showlegend: false, legendgroup: String(trial), type: "scatter", mode: "lines",
      meta: { kind: "band" },
    });
    traces.push({
      x: epochs, y: band.mean, name: plotText(labelOf(trial)), legendgroup: String(trial),
      type: "scatter", mode: "lines+markers", marker: { size: 4 }, line: { color: color(i) },
      meta: { kind: "mean" },
      customdata: band.n_splits,
      hovertemplate: "epoch %{x}: %{y:.6g} (mean of %{customdata} splits)<extra>%{fullData.name}</extra>",
    });
  });
  return draw(element, traces, layout({
    xaxis: { title: { text: "epoch" } },
    yaxis: { title: { text: plotText(`${metric} (${phase})`) } },
    legend: { orientation: "h", y: -0.2 },
  }));
}

/** Per split of one trial: one line each. */
export function drawSplitCurves(element, values, metric, phase) {
  const bySplit = new Map();
  for (let i = 0; i < values.split.length; i++) {
    if (values.metric[i] !== metric || values.phase[i] !== phase) continue;
    const split = values.split[i];
    if (!bySplit.has(split)) bySplit.set(split, { x: [], y: [] });
    bySplit.get(split).x.push(values.epoch[i]);
    bySplit.get(split).y.push(values.value[i]);
  }
  const traces = [...bySplit.entries()].sort((a, b) => a[0] - b[0]).map(([split, xy], i) => ({
    ...xy, type: "scatter", mode: "lines+markers", marker: { size: 4 }, line: { color: color(i) },
    name: split < 0 ? "retrain" : `split ${split}`,
  }));
  return draw(element, traces, layout({
    xaxis: { title: { text: "epoch" } },
    yaxis: { title: { text: plotText(`${metric} (${phase})`) } },
    legend: { orientation: "h", y: -0.2 },
  }));
}

function dimension(column, rows) {
  if (column.kind === "text") {
    return { label: plotText(column.name), values: rows.map((i) => column.codes[i]),
      // Parallel-coordinates tick labels are plain text already (no markup read).
      tickvals: column.labels.map((_, k) => k), ticktext: column.labels,
      range: [-0.5, Math.max(0.5, column.labels.length - 0.5)] };
  }
  const raw = rows.map((i) => column.values[i]);
  if (column.log) {
    const logs = raw.map((v) => (isNum(v) && v > 0 ? Math.log10(v) : null));
    const [min, max] = extent(logs);
    const ticks = [];
    for (let e = Math.floor(min); e <= Math.ceil(max); e++) ticks.push(e);
    return { label: plotText(`${column.name} (log)`), values: logs, tickvals: ticks,
      ticktext: ticks.map((e) => `1e${e}`) };
  }
  return { label: plotText(column.name), values: raw.map((v) => (isNum(v) ? v : null)) };
}

/** Lines drawn at most by the parallel coordinates: the best ones. */
export const PARALLEL_LINES = 10000;

/**
 * Parallel coordinates: one axis per hyperparameter, then the score; colour =
 * score. A round of more than PARALLEL_LINES scored trials shows its best ones.
 */
export function drawParallel(element, payload) {
  const t = payload.trials;
  let rows = [];
  for (let i = 0; i < t.trial.length; i++) if (isNum(t.score[i])) rows.push(i);
  if (rows.length > PARALLEL_LINES) {
    const sign = payload.round.higher_is_better === false ? 1 : -1;
    rows = rows.sort((a, b) => sign * (t.score[a] - t.score[b])).slice(0, PARALLEL_LINES);
  }
  const metric = payload.round.main_metric_name || "score";
  const scores = rows.map((i) => t.score[i]);
  const dimensions = payload.hyperparams.map((column) => dimension(column, rows));
  dimensions.push({ label: plotText(`score (${metric})`), values: scores });
  const higher = payload.round.higher_is_better !== false;
  return draw(element, [{
    type: "parcoords", dimensions,
    line: { color: scores, colorscale: "Viridis", reversescale: !higher, showscale: true,
      colorbar: { title: { text: plotText(metric) } } },
  }], layout({ margin: { l: 70, r: 70, t: 50, b: 30 } }));
}

/** One small scatter per hyperparameter: the score against its value (log axis when log-scale). */
export function drawScoreScatters(container, payload, makeCell) {
  const t = payload.trials;
  const rows = [];
  for (let i = 0; i < t.trial.length; i++) if (isNum(t.score[i])) rows.push(i);
  const metric = payload.round.main_metric_name || "score";
  const type = rows.length > GL_POINTS ? "scattergl" : "scatter";
  const done = [];
  for (const column of payload.hyperparams) {
    const element = makeCell(column.name);
    const x = rows.map((i) => (column.kind === "text"
      ? (column.codes[i] < 0 ? null : plotText(column.labels[column.codes[i]]))
      : (isNum(column.values[i]) ? column.values[i] : null)));
    const xaxis = { title: { text: plotText(column.name) } };
    if (column.kind === "text") Object.assign(xaxis, { type: "category",
      categoryorder: "array", categoryarray: column.labels.map(plotText) });
    else if (column.log) xaxis.type = "log";
    done.push(draw(element, [{
      type, mode: "markers", x, y: rows.map((i) => t.score[i]),
      text: rows.map((i) => `trial ${t.trial[i]}`), marker: { size: 5, opacity: 0.6, color: PALETTE[0] },
      hovertemplate: "%{text}<br>%{x}: %{y:.6g}<extra></extra>",
    }], layout({ height: 260, margin: { l: 55, r: 10, t: 10, b: 45 }, xaxis,
      yaxis: { title: { text: plotText(metric) } } })));
  }
  return Promise.all(done);
}

/** Box plots of score distributions, one per labelled group. */
export function drawBoxes(element, groups, metric) {
  const traces = groups.map((g, i) => ({
    type: "box", y: g.values.filter(isNum), name: plotText(g.label), boxpoints: "outliers",
    marker: { color: color(i) },
  }));
  return draw(element, traces, layout({ yaxis: { title: { text: plotText(metric) } }, showlegend: false }));
}

/** Lines labelled per group: {label, x, y}. */
export function drawLines(element, lines, yTitle) {
  const traces = lines.map((l, i) => ({
    type: "scatter", mode: "lines+markers", marker: { size: 4 }, x: l.x, y: l.y,
    name: plotText(l.label), line: { color: color(i) },
  }));
  return draw(element, traces, layout({
    xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: plotText(yTitle) } },
    legend: { orientation: "h", y: -0.2 },
  }));
}

