"""``MetricResultsReport``: one metric's train and valid curves in one split."""

from __future__ import annotations

from collections.abc import Iterator

from arrowscope.reports._base import BaseReport, best_of, is_finite


class MetricResultsReport(BaseReport):
    """The values of one metric of one split, in epoch order.

    The three accessors ``get_train_scores``, ``get_valid_scores`` and
    ``is_higher_score_better`` read the store; a live ``MetricResults``
    answers them from its buffer. Every other method derives from them.
    NaN and ±inf are kept in the curves and ignored when looking for the best.
    """

    METRIC_COLUMN_NAME = "metric"
    EPOCH_COLUMN_NAME = "epoch"
    TRAIN_VAL_COLUMN_NAME = "phase"

    @property
    def metric_name(self) -> str:
        assert self.location.metric is not None
        return self.location.metric

    def _stored(self) -> tuple[bool, list[float], list[float]]:
        rows = self._reader.rows(
            "split_values", **self._params(trial=self.location.trial, split=self.location.split)
        )
        for _split, metric, hib, train, valid in rows:
            if metric == self.metric_name:
                return bool(hib), list(train), list(valid)
        raise KeyError(f"metric {self.metric_name!r} was not recorded in {self.location.parent()}")

    def get_train_scores(self) -> list[float]:
        """The train values, one per epoch."""
        return self._stored()[1]

    def get_valid_scores(self) -> list[float]:
        """The validation values, one per epoch."""
        return self._stored()[2]

    def is_higher_score_better(self) -> bool:
        """The direction declared when the metric was created in this split."""
        return self._stored()[0]

    def get_final_validation_score(self) -> float:
        """The last validation value. Raises IndexError when there is none."""
        return self.get_valid_scores()[-1]

    def get_best_validation_score(self) -> float | None:
        """The best finite validation value, or None."""
        best = best_of(self.get_valid_scores(), self.is_higher_score_better())
        return None if best is None else best[0]

    def get_n_epochs_to_best_validation_score(self) -> int | None:
        """The 1-based epoch where the best validation value first occurred, or None."""
        best = best_of(self.get_valid_scores(), self.is_higher_score_better())
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
