// The app: pages are URL fragments (#/, #/round?…, #/trial?…, #/compare?…, #/sql);
// the page shown polls for changes every 2 s and redraws only when its data changed.
import { h, clear, fmtTime } from "./dom.js";
import { liveSource } from "./api.js";
import { plotly } from "./charts.js";
import { renderHome } from "./pages/home.js";
import { renderRound } from "./pages/round.js";
import { renderTrial } from "./pages/trial.js";
import { renderCompare } from "./pages/compare.js";
import { renderSql } from "./pages/sql.js";

const POLL_MS = 2000;
const source = liveSource();
const main = document.getElementById("main");
const live = document.getElementById("live");
let current = null;
let generation = 0;
let timer = null;

function roundKey(params) {
  return { project: params.get("project"), client: params.get("client"), round: Number(params.get("round")) };
}

async function show() {
  const mine = ++generation;
  clearTimeout(timer);
  if (current) current.dispose();
  current = null;
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const params = new URLSearchParams(query || "");
  main.dataset.page = path || "home";
  main.dataset.ready = "false";
  main.dataset.visit = String(mine);
  clear(main).append(h("p", { class: "muted", text: "Loading…" }));
  try {
    let page;
    if (path === "round") page = await renderRound(main, roundKey(params), source);
    else if (path === "trial") page = await renderTrial(main, roundKey(params), Number(params.get("trial")), source);
    else if (path === "compare") page = await renderCompare(main, params, source);
    else if (path === "sql") page = await renderSql(main, params, source);
    else page = await renderHome(main, source);
    if (mine !== generation) return;
    current = page;
    main.dataset.ready = "true";
    schedule(mine);
  } catch (error) {
    if (mine !== generation) return;
    clear(main).append(h("h1", { text: "Cannot show this page" }), h("p", { class: "error", text: error.message }));
    main.dataset.ready = "error";
    schedule(mine);
  }
}

function schedule(mine) {
  timer = setTimeout(async () => {
    if (mine !== generation) return;
    try {
      if (current) {
        const changed = await current.update();
        if (changed) main.dataset.updates = String((Number(main.dataset.updates) || 0) + 1);
      }
      const status = await source.status();
      live.textContent = `live · data version ${status.version} · checked ${fmtTime(Date.now()).slice(11)}`;
      live.className = "live";
    } catch (error) {
      live.textContent = `not updating: ${error.message}`;
      live.className = "live offline";
    }
    if (mine === generation) schedule(mine);
  }, POLL_MS);
}

window.addEventListener("hashchange", show);
// plotly.js (4.8 MB, preloaded by index.html) is evaluated once the first page
// is shown, so its parsing never delays the table; charts wait for it.
show().then(() => plotly());
