-- _split_metric (internal): the score rule of a split, for every metric it
-- declared. One row per split x metric (current record).
--
-- best: the best finite validation value (max when the split declared the
-- metric higher-is-better, else min); NaN and +-inf are ignored.
-- n_epochs_to_best: the 1-based epoch of its first occurrence. Both are NULL
-- when the split has no finite validation value of the metric. n_valid,
-- last, mean: how many validation values, the last one, their mean.
--
-- They come from the summaries the split's writers recorded at its exit
-- (_split_summary), so no value is read. A split still running has none
-- yet: its columns are NULL (in-process reports answer from memory). For
-- directories of storage format 1, which have no summaries, the same rule is
-- computed from the values (_split_metric_values) when the session variable
-- arrowscope_format1 is true. The Python twin of the rule, for values in
-- memory, is arrowscope.summaries.best_of.
WITH from_values AS (
    SELECT *
    FROM _split_metric_values
    WHERE getvariable('arrowscope_format1')
)
SELECT
    d.project,
    d.client,
    d.round,
    d.trial,
    d.split,
    d.metric,
    d.higher_is_better,
    coalesce(s.n_valid, v.n_valid) AS n_valid,
    CASE WHEN s.n_valid IS NOT NULL THEN s.best.value ELSE v.best END AS best,
    CASE WHEN s.n_valid IS NOT NULL THEN s.best.epoch ELSE v.n_epochs_to_best END
        AS n_epochs_to_best,
    CASE WHEN s.n_valid IS NOT NULL THEN s.last ELSE v.last END AS last,
    CASE WHEN s.n_valid IS NOT NULL THEN s.mean ELSE v.mean END AS mean
FROM _metric_scope AS d
LEFT JOIN _split_summary AS s
    ON s.project = d.project AND s.client = d.client AND s.round = d.round
    AND s.trial = d.trial AND s.split = d.split AND s.metric = d.metric
LEFT JOIN from_values AS v
    ON v.project = d.project AND v.client = d.client AND v.round = d.round
    AND v.trial = d.trial AND v.split = d.split AND v.metric = d.metric
