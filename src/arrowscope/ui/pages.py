"""What each page shows, as JSON: home, round, curves, trial and compare.

Every function takes a :class:`LiveData`, runs the queries of ``ui/sql``
over the public views, and returns the page's JSON as bytes, cached for the
current version of the data (a page asked again about unchanged data costs
no query). Round, curves and trial answers are *watched*: after a change of
the data they are computed again in the background, before a page polls.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from arrowscope.errors import ArrowscopeError
from arrowscope.ui import encode
from arrowscope.ui.live import LiveData

#: Trials whose curves the round page shows first: the best ones.
DEFAULT_SELECTED: Final = 5
#: Failed and aborted trials listed with their tracebacks (the latest first).
FAILURES_SHOWN: Final = 200
VALID: Final = "valid"


class NotFound(ArrowscopeError, LookupError):
    """The round or trial asked for does not exist."""


class RoundKey(NamedTuple):
    """A round: project, client and round number."""

    project: str
    client: str
    round: int


class Answer(NamedTuple):
    """A page's JSON and its tag (a hash of the JSON: equal tags, equal data)."""

    body: bytes
    etag: str


def _answer(value: Any) -> Answer:
    body = encode.dumps(value)
    return Answer(body, hashlib.blake2b(body, digest_size=12).hexdigest())


def home(data: LiveData) -> Answer:
    """Projects › clients › rounds with trial counts by status, best score, last activity."""
    return data.cached(
        ("home",), lambda: _answer({"rounds": encode.rows(data.fetch("home").arrow)})
    )


def round_page(data: LiveData, key: RoundKey) -> Answer:
    """The round, its trials with their hyperparameters, metrics, failures, best curves."""
    return data.cached(("round", *key), lambda: _answer(_round(data, key)), watch=True)


def _round(data: LiveData, key: RoundKey) -> dict[str, Any]:
    where = key._asdict()
    info = encode.rows(data.fetch("round", **where).arrow)
    if not info:
        raise NotFound(f"there is no round {key.round} of {key.project!r} › {key.client!r}")
    trials = encode.columns(data.fetch("round_trials", **where).arrow)
    params = data.fetch("round_params", **where).arrow
    metrics = encode.rows(data.fetch("round_metrics", **where).arrow)
    failures = encode.rows(data.fetch("failures", **where, limit=FAILURES_SHOWN).arrow)
    round_info = info[0]
    selected = best_trials(trials, round_info.get("higher_is_better"), DEFAULT_SELECTED)
    metric, phase = default_curve(metrics, round_info.get("main_metric_name"))
    curves = _bands(data, key, metric, phase, selected) if metric else {}
    return {
        "round": round_info,
        "trials": trials,
        "hyperparams": encode.hyperparameter_columns(trials["trial"], params),
        "metrics": metrics,
        "failures": failures,
        "selected": selected,
        "curves": {"metric": metric, "phase": phase, "trials": curves},
    }


def best_trials(
    trials: Mapping[str, Sequence[Any]], higher_is_better: bool | None, n: int
) -> list[int]:
    """The ``n`` best SUCCESS trials with a score, best first (ties: lowest trial).

    Args:
        trials: columns ``trial``, ``status`` and ``score`` (as :func:`encode.columns`).
        higher_is_better: the main metric's direction (None: no ranking).
        n: how many at most.
    """
    if higher_is_better is None:
        return []
    scored = [
        (score, trial)
        for trial, status, score in zip(
            trials["trial"], trials["status"], trials["score"], strict=True
        )
        if status == "SUCCESS" and score is not None
    ]
    sign = -1.0 if higher_is_better else 1.0
    scored.sort(key=lambda pair: (sign * pair[0], pair[1]))
    return [trial for _score, trial in scored[:n]]


def default_curve(metrics: Sequence[dict[str, Any]], main: str | None) -> tuple[str | None, str]:
    """The metric and phase a round page draws first: the main metric's validation values."""
    pairs = [(m["metric"], m["phase"]) for m in metrics]
    for wanted in ((main, VALID), (main, None), (None, VALID)):
        for metric, phase in pairs:
            if wanted[0] in (None, metric) and wanted[1] in (None, phase):
                return metric, phase
    return None, VALID


def curves(data: LiveData, key: RoundKey, metric: str, phase: str, trials: list[int]) -> Answer:
    """Mean, minimum and maximum over the validation splits, per chosen trial and epoch.

    The first choice of trials on a version of the data computes the bands of
    every trial of the round for that metric and phase (one pass over its
    values); later choices are cut from them.
    """
    chosen = sorted(set(trials))
    return data.cached(
        ("curves", *key, metric, phase, tuple(chosen)),
        lambda: _answer(
            {
                "metric": metric,
                "phase": phase,
                "trials": _bands(data, key, metric, phase, chosen, every=True),
            }
        ),
    )


def _bands(
    data: LiveData,
    key: RoundKey,
    metric: str,
    phase: str,
    trials: list[int],
    every: bool = False,
) -> dict[str, dict[str, list[Any]]]:
    """The bands of ``trials``: queried alone, or cut from every trial's (``every``)."""
    if not trials:
        return {}
    where = {**key._asdict(), "metric": metric, "phase": phase}
    all_key = ("bands", *key, metric, phase)
    if every or data.has(all_key):
        table = data.cached(all_key, lambda: data.fetch("curve_bands", **where, trials=None).arrow)
        wanted = pa.array(trials, table.schema.field("trial").type)
        table = table.filter(pc.is_in(table["trial"], value_set=wanted))
    else:
        table = data.fetch("curve_bands", **where, trials=trials).arrow
    cols = encode.columns(table)
    out: dict[str, dict[str, list[Any]]] = {}
    fields = ("epoch", "mean", "low", "high", "n_splits")
    for i, trial in enumerate(cols["trial"]):
        band = out.setdefault(str(trial), {f: [] for f in fields})
        for f in fields:
            band[f].append(cols[f][i])
    return out


def trial_page(data: LiveData, key: RoundKey, trial: int) -> Answer:
    """One trial: its state, hyperparameters, splits, values per split, status timeline."""
    return data.cached(
        ("trial", *key, trial), lambda: _answer(_trial(data, key, trial)), watch=True
    )


def _trial(data: LiveData, key: RoundKey, trial: int) -> dict[str, Any]:
    where = {**key._asdict(), "trial": trial}
    info = encode.rows(data.fetch("trial", **where).arrow)
    if not info:
        raise NotFound(
            f"round {key.round} of {key.project!r} › {key.client!r} has no trial {trial}"
        )
    round_info = encode.rows(data.fetch("round", **key._asdict()).arrow)
    return {
        "round": round_info[0] if round_info else None,
        "trial": info[0],
        "splits": encode.rows(data.fetch("trial_splits", **where).arrow),
        "values": encode.columns(data.fetch("trial_values", **where).arrow),
        "events": encode.rows(data.fetch("trial_events", **where).arrow),
    }


def compare(data: LiveData, keys: Sequence[RoundKey]) -> Answer:
    """Rounds side by side: their summary, score distribution and best trial's curve."""
    return data.cached(("compare", *keys), lambda: _answer(_compare(data, keys)))


def _compare(data: LiveData, keys: Sequence[RoundKey]) -> dict[str, Any]:
    out = []
    for key in keys:
        info = encode.rows(data.fetch("round", **key._asdict()).arrow)
        if not info:
            raise NotFound(f"there is no round {key.round} of {key.project!r} › {key.client!r}")
        scores = encode.columns(data.fetch("round_scores", **key._asdict()).arrow)
        best = info[0]["best_trial"]
        metric = info[0]["main_metric_name"]
        band = _bands(data, key, metric, VALID, [best]) if best is not None and metric else {}
        out.append({"round": info[0], "scores": scores["score"], "best_curve": band.get(str(best))})
    return {"rounds": out}
