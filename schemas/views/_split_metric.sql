-- _split_metric (internal): the score rule of a split, for every metric it
-- declared. One row per split x metric (current record).
--
-- best: the best finite validation value (max when the split declared the
-- metric higher-is-better, else min); NaN and +-inf are ignored.
-- n_epochs_to_best: the 1-based epoch of the first occurrence of that best
-- value. Both are NULL when the split has no finite validation value of the
-- metric. The Python twin of this rule, for values still in memory, is
-- reports._base.best_of.
WITH extremes AS (
    SELECT
        project, client, round, trial, split, metric,
        min(value) AS min_value,
        arg_min(epoch, struct_pack(value := value, epoch := epoch)) AS min_epoch,
        max(value) AS max_value,
        arg_max(epoch, struct_pack(value := value, epoch := -epoch)) AS max_epoch
    FROM _metric_values
    WHERE phase = 'valid' AND isfinite(value)
    GROUP BY project, client, round, trial, split, metric
)
SELECT
    d.project,
    d.client,
    d.round,
    d.trial,
    d.split,
    d.metric,
    d.higher_is_better,
    CASE WHEN d.higher_is_better THEN x.max_value
         WHEN NOT d.higher_is_better THEN x.min_value END AS best,
    CASE WHEN d.higher_is_better THEN x.max_epoch
         WHEN NOT d.higher_is_better THEN x.min_epoch END AS n_epochs_to_best
FROM _metric_scope AS d
LEFT JOIN extremes AS x
    ON x.project = d.project AND x.client = d.client AND x.round = d.round
    AND x.trial = d.trial AND x.split = d.split AND x.metric = d.metric
