// Where pages get their data: the live server, or the data inlined in a static report.

async function getJSON(url, options = {}) {
  const response = await fetch(url, { credentials: "same-origin", ...options });
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
    throw new Error(message);
  }
  const etag = response.headers.get("etag");
  if (body && typeof body === "object" && etag && !body.etag) body.etag = etag.replace(/"/g, "");
  return body;
}

function keyParams(key) {
  return { project: key.project, client: key.client, round: String(key.round) };
}

function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) query.append(name, String(item));
  }
  return `${path}?${query.toString()}`;
}

/** The app's JSON API (see ui/server.py). An `etag` asks "changed since?". */
export function liveSource() {
  return {
    live: true,
    status: () => getJSON("/api/status"),
    home: (etag) => getJSON(withQuery("/api/home", { etag })),
    round: (key, etag) => getJSON(withQuery("/api/round", { ...keyParams(key), etag })),
    curves: (key, metric, phase, trials) => getJSON(withQuery("/api/curves", {
      ...keyParams(key), metric, phase, trials: trials.join(","),
    })),
    trial: (key, trial, etag) => getJSON(withQuery("/api/trial", { ...keyParams(key), trial, etag })),
    compare: (keys) => getJSON(withQuery("/api/compare", {
      round: keys.map((k) => JSON.stringify([k.project, k.client, Number(k.round)])),
    })),
    sql: (query) => getJSON("/api/sql", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query }),
    }),
    sqlCsvUrl: (query) => withQuery("/api/sql.csv", { query }),
  };
}

/** A round's data inlined in a static report: the round and the curves it holds. */
export function staticSource(report) {
  return {
    live: false,
    round: async () => report.round,
    curves: async (key, metric, phase, trials) => {
      const held = report.curves[`${metric}\u0000${phase}`] || {};
      const out = {};
      for (const trial of trials) if (held[String(trial)]) out[String(trial)] = held[String(trial)];
      return { metric, phase, trials: out };
    },
    heldTrials: new Set(report.curve_trials.map(String)),
  };
}
