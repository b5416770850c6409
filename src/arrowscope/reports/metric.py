"""``MetricResultsReport``: one metric's train and valid curves in one split."""

from __future__ import annotations

from collections.abc import Iterator

from arrowscope.reports._base import BaseReport, is_finite
from arrowscope.reports._rows import SplitScore, SplitValues


class MetricResultsReport(BaseReport):
    """The values of one metric of one split, in epoch order.

    ``get_train_scores``, ``get_valid_scores``, ``is_higher_score_better``
    and ``_best`` read the store (the best value by the ``_split_metric``
    rule); a live ``MetricResults`` answers them from its buffer. Every
    other method derives from them. NaN and ±inf are kept in the curves and
    ignored when looking for the best.
    """

    METRIC_COLUMN_NAME = "metric"
    EPOCH_COLUMN_NAME = "epoch"
    TRAIN_VAL_COLUMN_NAME = "phase"

    @property
    def metric_name(self) -> str:
        assert self.location.metric is not None
        return self.location.metric

    def _split_params(self) -> dict[str, object]:
        return self._params(trial=self.location.trial, split=self.location.split)

    def _stored(self) -> SplitValues:
        for row in self._reader.records(SplitValues, "split_values", **self._split_params()):
            if row.metric == self.metric_name:
                return row
        raise KeyError(f"metric {self.metric_name!r} was not recorded in {self.location.parent()}")

    def _best(self) -> tuple[float, int] | None:
        """The best finite validation value and its 1-based epoch, or None."""
        for row in self._reader.records(SplitScore, "split_scores", **self._split_params()):
            if row.metric == self.metric_name:
                if row.best is None or row.n_epochs_to_best is None:
                    return None
                return row.best, row.n_epochs_to_best
        raise KeyError(f"metric {self.metric_name!r} was not recorded in {self.location.parent()}")

    def get_train_scores(self) -> list[float]:
        """The train values, one per epoch."""
        return list(self._stored().train)

    def get_valid_scores(self) -> list[float]:
        """The validation values, one per epoch."""
        return list(self._stored().valid)

    def is_higher_score_better(self) -> bool:
        """The direction declared when the metric was created in this split."""
        return bool(self._stored().higher_is_better)

    def get_final_validation_score(self) -> float:
        """The last validation value. Raises IndexError when there is none."""
        return self.get_valid_scores()[-1]

    def get_best_validation_score(self) -> float | None:
        """The best finite validation value, or None."""
        best = self._best()
        return None if best is None else best[0]

    def get_n_epochs_to_best_validation_score(self) -> int | None:
        """The 1-based epoch where the best validation value first occurred, or None."""
        best = self._best()
        return None if best is None else best[1]

    def is_new_best_score(self) -> bool:
        """True when the last validation value beats every earlier one strictly."""
        values = self.get_valid_scores()
        if not values or not is_finite(values[-1]):
            return False
        last, earlier = values[-1], [v for v in values[:-1] if is_finite(v)]
        if self.is_higher_score_better():
            return all(last > v for v in earlier)
        return all(last < v for v in earlier)

    def __len__(self) -> int:
        return len(self.get_valid_scores())

    def __iter__(self) -> Iterator[float]:
        return iter(self.get_valid_scores())
