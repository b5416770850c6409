"""``RoundReport``: the trials of one round, ranked, summarised and framed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from arrowscope.hyperparams import HyperparameterSamples, wildcard_keys_union
from arrowscope.location import TrialStatus
from arrowscope.reports._base import BaseReport, parse_hyperparams, parse_status, render_hyperparam
from arrowscope.reports._rows import RoundState, ScopeState, TrialScore
from arrowscope.reports.trial import TrialReport

if TYPE_CHECKING:
    import polars as pl

    from arrowscope.store import Repository

SummaryRow = tuple[float | None, int, TrialStatus, dict[str, Any]]
#: How a split's validation values of a metric become its score (see ``ranked_trials``).
RANK_RULES = ("best", "last", "mean")


class RoundReport(BaseReport):
    """Best trial, summaries and frames of one round, each answered by DuckDB.

    A trial is *eligible* when it is SUCCESS and has a score for the metric.
    Ties between equal scores go to the lowest trial id.
    """

    ROUND_ID_COLUMN_NAME = "round_number"
    SUMMARY_STATUS_COLUMNS_NAME = "status"

    @property
    def round_number(self) -> int:
        assert self.location.round is not None
        return self.location.round

    @property
    def repository(self) -> Repository:
        """The repository this report reads (optimizers read the round's history from it)."""
        return self._reader.repository

    @property
    def main_metric_name(self) -> str | None:
        """The round's main metric, as last set."""
        state = self._round_state()
        return state.main_metric_name if state else None

    def _round_state(self) -> RoundState | None:
        rows = self._reader.records(RoundState, "round_state", **self._params())
        return rows[0] if rows else None

    def _child_ids(self) -> Sequence[int]:
        loc = self.location
        assert loc.project is not None and loc.client is not None
        return self._reader.repository.list_ids(loc.project, loc.client, loc.round)

    def _child(self, key: Any) -> TrialReport:
        return TrialReport(self._reader, self.location.child(key))

    def _metric(self, metric_name: str | None) -> str:
        metric = metric_name if metric_name is not None else self.main_metric_name
        if metric is None:
            raise ValueError(
                "metric name and main metric name are not defined: pass a metric name, "
                "or set the round's main metric with new_round(main_metric_name=...)"
            )
        return metric

    def is_higher_score_better(self, metric_name: str | None = None) -> bool:
        """The metric's direction, from the highest-id trial that recorded it."""
        metric = self._metric(metric_name)
        rows = self._reader.rows("metric_direction", **self._params(metric=metric))
        if not rows:
            raise ValueError(f"no trial of round {self.location} recorded metric {metric!r}")
        return bool(rows[0][0])

    def _scores(self, metric: str) -> list[tuple[int, TrialStatus, str | None, float | None]]:
        rows = self._reader.records(TrialScore, "trial_scores", **self._params(metric=metric))
        return [(r.trial, parse_status(r.status), r.hyperparams, r.score) for r in rows]

    def _ranked(
        self, metric_name: str | None
    ) -> list[tuple[float | None, int, TrialStatus, str | None]]:
        """``summary``'s rows and order, hyperparameters still as stored text."""
        metric = self._metric(metric_name)
        scores = self._scores(metric)
        try:
            higher = self.is_higher_score_better(metric)
        except ValueError:
            higher = None
        eligible = [row for row in scores if row[1] is TrialStatus.SUCCESS and row[3] is not None]
        eligible = eligible if higher is not None else []
        sign = -1.0 if higher else 1.0
        eligible.sort(key=lambda row: (sign * row[3], row[0]))  # type: ignore[operator]
        chosen = {row[0] for row in eligible}
        others = [row for row in scores if row[0] not in chosen]
        return [
            (score if trial in chosen else None, trial, status, text)
            for trial, status, text, score in eligible + others
        ]

    def summary(
        self, metric_name: str | None = None, use_wildcards: bool = False
    ) -> list[SummaryRow]:
        """``(score, trial_number, status, hyperparams)`` per trial: eligible ones best first."""
        return [
            (score, trial, status, _hps(text, use_wildcards))
            for score, trial, status, text in self._ranked(metric_name)
        ]

    def best_result_summary(
        self, metric_name: str | None = None, use_wildcards: bool = False
    ) -> SummaryRow | None:
        """The first row of ``summary``, or None on an empty round."""
        best = self._best_eligible(metric_name)
        if best is not None:
            return (
                best.score,
                best.trial,
                parse_status(best.status),
                _hps(best.hyperparams, use_wildcards),
            )
        ranked = self._ranked(metric_name)
        if not ranked:
            return None
        score, trial, status, text = ranked[0]
        return score, trial, status, _hps(text, use_wildcards)

    def get_best_trial_id(self, metric_name: str | None = None) -> int | None:
        """The id of the best eligible trial, or None when there is none."""
        best = self._best_eligible(metric_name)
        return None if best is None else best.trial

    def _best_eligible(self, metric_name: str | None) -> TrialScore | None:
        """The first row of ``summary`` when it is eligible, ranked by the database.

        Reads one row, not every trial's (``_ranked`` does that for ``summary``).
        """
        metric = self._metric(metric_name)
        try:
            higher = self.is_higher_score_better(metric)
        except ValueError:
            return None
        rows = self._reader.records(
            TrialScore, "trial_best", **self._params(metric=metric, higher=higher)
        )
        return rows[0] if rows else None

    def get_best_trial(self, metric_name: str | None = None) -> TrialReport | None:
        trial = self.get_best_trial_id(metric_name)
        return None if trial is None else self._child(trial)

    def get_best_hyperparams(self, metric_name: str | None = None) -> HyperparameterSamples:
        best = self.best_result_summary(metric_name)
        if best is None or best[0] is None:
            return HyperparameterSamples({})
        return HyperparameterSamples(best[3])

    def get_n_val_splits(self) -> int:
        """The number of validation splits of the first trial (0 on an empty round)."""
        return len(self[0]) if len(self) else 0

    def get_metric_names(self) -> list[str]:
        """Metric names in first-seen order, the main metric first."""
        rows = self._reader.rows("metric_names", **self._params(trial=None, split=None))
        names = [r[0] for r in rows]
        main = self.main_metric_name
        if main in names:
            names.remove(main)
            names.insert(0, main)
        return names

    def _states(self) -> list[tuple[int, TrialStatus, str | None]]:
        rows = self._reader.records(ScopeState, "scope_states", **self._params(trial=None))
        trials = [r for r in rows if r.level == "trial"]
        return [(r.trial, parse_status(r.status), r.hyperparams) for r in trials]

    def get_all_hyperparams(
        self, as_flat: bool = True, use_wildcards: bool = False
    ) -> list[dict[str, Any]]:
        """One entry per trial in id order: flat, wildcard or nested hyperparameters."""
        if use_wildcards and not as_flat:
            raise ValueError("use_wildcards=True needs as_flat=True")
        samples = [parse_hyperparams(text) for _t, _s, text in self._states()]
        if use_wildcards:
            return [s.to_wildcards() for s in samples]
        return [s.to_flat_dict() if as_flat else s.to_nested_dict() for s in samples]

    def list_hyperparameters_wildcards(self, discard_singles: bool = False) -> list[str]:
        """Every trial's wildcard keys, first-seen order; ``discard_singles`` keeps varying ones."""
        flats = [parse_hyperparams(text).to_flat_dict() for _t, _s, text in self._states()]
        return wildcard_keys_union(flats, discard_singles=discard_singles)

    def list_successful_avg_validation_scores(self) -> list[float | None]:
        """The main-metric score of every SUCCESS trial, in id order."""
        metric = self._metric(None)
        return [s for _t, status, _h, s in self._scores(metric) if status is TrialStatus.SUCCESS]

    @property
    def successful_trials(self) -> list[TrialReport]:
        return [self._child(t) for t, status, _h in self._states() if status is TrialStatus.SUCCESS]

    def to_round_scatterplot_df(
        self, metric_name: str | None = None, wildcards_to_keep: list[str] | None = None
    ) -> pl.DataFrame:
        """One row per trial in summary order: trial_number, status, <metric>, hyperparams."""
        import polars as pl

        metric = self._metric(metric_name)
        rows = self.summary(metric, use_wildcards=True)
        base: dict[str, list[Any]] = {
            "trial_number": [r[1] for r in rows],
            "status": [r[2].value for r in rows],
            metric: [r[0] for r in rows],
        }
        schema = {"trial_number": pl.Int64, "status": pl.String, metric: pl.Float64}
        return _with_hyperparams(base, schema, [r[3] for r in rows], wildcards_to_keep)

    def to_scores_over_time_df(
        self, metric_name: str | None = None, wildcards_to_keep: list[str] | None = None
    ) -> pl.DataFrame:
        """Per SUCCESS trial and epoch: the mean valid value over its SUCCESS splits."""
        import polars as pl

        metric = self._metric(metric_name)
        rows = self._reader.rows("round_curves", **self._params(metric=metric, trial=None))
        wildcards = {t: parse_hyperparams(h).to_wildcards() for t, _s, h in self._states()}
        base: dict[str, list[Any]] = {
            "trial_number": [r[0] for r in rows],
            "epoch": [r[1] for r in rows],
            metric: [r[2] for r in rows],
        }
        schema = {"trial_number": pl.Int64, "epoch": pl.Int64, metric: pl.Float64}
        hps = [wildcards.get(r[0], {}) for r in rows]
        return _with_hyperparams(base, schema, hps, wildcards_to_keep)

    # -- search analysis -------------------------------------------------------
    def ranked_trials(self, metric_name: str | None = None, rank: str = "best") -> pl.DataFrame:
        """The SUCCESS trials with a score, best first, scored by another rule if asked.

        ``rank`` says how a SUCCESS validation split's finite values of the metric become
        its score: ``"best"`` (the views' rule: the best value, so the ranking of
        ``summary``), ``"last"`` (the value of its last epoch) or ``"mean"`` (the mean over
        its epochs); a trial's score is then the mean over its splits. Ties go to the
        lowest trial id.

        Returns:
            Columns trial, score, n_splits, hyperparams (flat JSON text).

        Raises:
            ValueError: ``rank`` is not one of ``RANK_RULES``, or the metric is unknown.
        """
        import polars as pl

        metric = self._metric(metric_name)
        rule = _rank_rule(rank)
        rows = self._reader.rows("trial_scores_by", **self._params(metric=metric, rule=rule))
        try:
            higher = self.is_higher_score_better(metric)
        except ValueError:
            rows = []
            higher = True
        scored = [r for r in rows if r[2] is not None]
        scored.sort(key=lambda r: ((-r[2] if higher else r[2]), r[0]))
        return pl.DataFrame(
            {
                "trial": [r[0] for r in scored],
                "score": [r[2] for r in scored],
                "n_splits": [r[3] for r in scored],
                "hyperparams": [r[1] for r in scored],
            },
            schema={
                "trial": pl.Int64,
                "score": pl.Float64,
                "n_splits": pl.Int64,
                "hyperparams": pl.String,
            },
        )

    def scores_by(
        self, by: Sequence[str], metric_name: str | None = None, rank: str = "best"
    ) -> pl.DataFrame:
        """Trial scores grouped by some hyperparameters: "everything but the seed" analyses.

        Groups the SUCCESS trials with a score (scored as :meth:`ranked_trials` says) by
        the values of the flat hyperparameters ``by``; a trial without one of them falls
        in its null group. Groups come best mean first.

        Args:
            by: Flat hyperparameter names (``"opt__lr"``), at least one.
            metric_name: The metric; None for the main metric.
            rank: ``"best"``, ``"last"`` or ``"mean"`` (see :meth:`ranked_trials`).

        Returns:
            One row per group: the ``by`` columns, then ``n_trials``, ``mean``, ``std``
            (sample standard deviation; null for a single trial), ``best`` (in the
            metric's direction) and ``best_trial``.

        Raises:
            ValueError: ``by`` is empty, or as :meth:`ranked_trials`.

        Example:
            >>> import arrowscope as asc
            >>> root = asc.Root.in_memory()
            >>> runs = [({"lr": 0.1, "seed": s}, 0.5 + s / 10) for s in range(3)]
            >>> runs += [({"lr": 0.2, "seed": s}, 0.25) for s in range(2)]
            >>> with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
            ...     for hps, score in runs:
            ...         stub = asc.HyperparameterSamplerStub(hps)
            ...         r = r.with_optimizer(stub, asc.HyperparameterSpace({}))
            ...         with r.new_rvs_trial() as t, t.new_validation_split() as s:
            ...             with s.managed_metric("mse", higher_score_is_better=False) as m:
            ...                 m.add_valid_result(score)
            ...     r.scores_by(["lr"]).select("lr", "n_trials", "mean", "best").rows()
            [(0.2, 2, 0.25, 0.25), (0.1, 3, 0.6, 0.5)]
        """
        import polars as pl

        keys = [by] if isinstance(by, str) else list(by)
        if not keys:
            raise ValueError("scores_by needs at least one hyperparameter name in by")
        metric = self._metric(metric_name)
        trials = self.ranked_trials(metric, rank)
        try:
            higher = self.is_higher_score_better(metric)
        except ValueError:
            higher = True
        flat = [parse_hyperparams(text).to_flat_dict() for text in trials["hyperparams"]]
        columns = {key: [_group_value(hps.get(key)) for hps in flat] for key in keys}
        frame = pl.DataFrame(
            {**columns, "trial": trials["trial"], "score": trials["score"]}, strict=False
        )
        best = pl.col("score").max() if higher else pl.col("score").min()
        best_trial = pl.col("trial").sort_by(["score", "trial"], descending=[higher, False])
        grouped = frame.group_by(keys, maintain_order=True).agg(
            pl.len().cast(pl.Int64).alias("n_trials"),
            pl.col("score").mean().alias("mean"),
            pl.col("score").std().alias("std"),
            best.alias("best"),
            best_trial.first().alias("best_trial"),
        )
        return grouped.sort(["mean", *keys], descending=[higher, *[False] * len(keys)])

    def get_hyperparameter_importance(
        self, metric: str | None = None, evaluator: str = "fanova"
    ) -> pl.DataFrame:
        """How much each hyperparameter explains the score (Optuna's evaluators).

        Needs the ``optuna`` extra. See :func:`arrowscope.optuna.hyperparameter_importance`.

        Args:
            metric: The metric; None for the main metric.
            evaluator: ``"fanova"`` (default) or ``"ped-anova"``.

        Returns:
            Columns ``name`` and ``importance`` (summing to 1), most important first.
        """
        from arrowscope.optuna._importance import hyperparameter_importance

        space = getattr(self, "_space", None)
        return hyperparameter_importance(self, metric, evaluator, space=space)


def _hps(text: str | None, use_wildcards: bool) -> dict[str, Any]:
    samples = parse_hyperparams(text)
    return samples.to_wildcards() if use_wildcards else samples.to_flat_dict()


def _with_hyperparams(
    base: dict[str, list[Any]],
    schema: dict[str, Any],
    hps: list[dict[str, Any]],
    keep: list[str] | None,
) -> pl.DataFrame:
    """Append one rendered column per wildcard key (first-seen order, filtered by ``keep``)."""
    import polars as pl

    keys: list[str] = []
    for row in hps:
        keys.extend(k for k in row if k not in keys and (keep is None or k in keep))
    columns = dict(base)
    for key in keys:
        values = [render_hyperparam(row[key]) if key in row else None for row in hps]
        present = [v for v in values if v is not None]
        if all(isinstance(v, int) for v in present):
            schema[key] = pl.Int64
        elif all(isinstance(v, (int, float)) for v in present):
            schema[key] = pl.Float64
        else:
            values = [None if v is None else str(v) for v in values]
            schema[key] = pl.String
        columns[key] = values
    return pl.DataFrame(columns, schema=schema)


def _rank_rule(rank: str) -> str:
    if rank not in RANK_RULES:
        raise ValueError(f"rank={rank!r}: expected one of {', '.join(RANK_RULES)}")
    return rank


def _group_value(value: Any) -> Any:
    """A hyperparameter as a group key: numbers and strings kept, anything else as text."""
    if value is None or (isinstance(value, (int, float, str)) and not isinstance(value, bool)):
        return value
    return str(value)
