"""``RootReport``, ``ProjectReport`` and ``ClientReport``: the levels above a round."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from arrowscope.location import DEFAULT_CLIENT, DEFAULT_PROJECT
from arrowscope.reports._base import BaseReport, hyperparams_text
from arrowscope.reports.round import RoundReport

if TYPE_CHECKING:
    import polars as pl

_BEST_COLUMNS = (
    "main metric name",
    "best score for main metric",
    "best trial status",
    "best hyperparameters",
)


def _best_schema() -> dict[str, pl.DataType]:
    """The polars types of the ``_BEST_COLUMNS``."""
    import polars as pl

    return dict(
        zip(_BEST_COLUMNS, (pl.String(), pl.Float64(), pl.String(), pl.String()), strict=True)
    )


class RootReport(BaseReport):
    """Every project of the repository, in name order.

    A store always shows ``default_project`` (holding ``default_client``),
    even before anything was written to it.
    """

    def _child_ids(self) -> Sequence[str]:
        return sorted({DEFAULT_PROJECT, *self._reader.repository.list_names()})

    def _child(self, key: Any) -> ProjectReport:
        return ProjectReport(self._reader, self.location.child(key))


class ProjectReport(BaseReport):
    """The clients of one project, in name order."""

    def _child_ids(self) -> Sequence[str]:
        assert self.location.project is not None
        names = set(self._reader.repository.list_names(self.location.project))
        if self.location.project == DEFAULT_PROJECT:
            names.add(DEFAULT_CLIENT)
        return sorted(names)

    def _child(self, key: Any) -> ClientReport:
        return ClientReport(self._reader, self.location.child(key))

    def to_clients_with_best_scores_df(self) -> pl.DataFrame:
        """One row per client (name order) built from its most recent round."""
        import polars as pl

        rows = []
        for client in self:
            last = client[-1] if len(client) else None
            rows.append({"client_name": client.get_id(), **_best_columns(last, "most recent ")})
        schema: dict[str, pl.DataType] = {
            ClientReport.CLIENT_ID_COLUMN_NAME: pl.String(),
            "most recent round_number": pl.Int64(),
            "n trials for most recent round": pl.Int64(),
            **_best_schema(),
        }
        return pl.DataFrame(rows, schema=schema, orient="row")


class ClientReport(BaseReport):
    """The rounds of one client, in id order."""

    CLIENT_ID_COLUMN_NAME = "client_name"

    def _child_ids(self) -> Sequence[int]:
        loc = self.location
        assert loc.project is not None and loc.client is not None
        return self._reader.repository.list_ids(loc.project, loc.client)

    def _child(self, key: Any) -> RoundReport:
        return RoundReport(self._reader, self.location.child(key))

    def to_rounds_with_best_scores_df(self) -> pl.DataFrame:
        """One row per round: its trial count and its best main-metric result."""
        import polars as pl

        rows = [_best_columns(rnd, "") for rnd in self]
        schema: dict[str, pl.DataType] = {
            "round_number": pl.Int64(),
            "n trials": pl.Int64(),
            **_best_schema(),
        }
        return pl.DataFrame(rows, schema=schema, orient="row")


def _best_columns(rnd: RoundReport | None, prefix: str) -> dict[str, Any]:
    round_col = f"{prefix}round_number"
    trials_col = "n trials for most recent round" if prefix else "n trials"
    if rnd is None:
        return {round_col: None, trials_col: 0, **dict.fromkeys(_BEST_COLUMNS)}
    metric = rnd.main_metric_name
    best = rnd.best_result_summary(metric, use_wildcards=True) if metric is not None else None
    row = {round_col: rnd.round_number, trials_col: len(rnd), "main metric name": metric}
    if best is None or best[0] is None:
        return {**row, **dict.fromkeys(list(_BEST_COLUMNS)[1:])}
    return {
        **row,
        "best score for main metric": best[0],
        "best trial status": best[2].value,
        "best hyperparameters": hyperparams_text(best[3]),
    }
