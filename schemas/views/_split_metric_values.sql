-- _split_metric_values (internal): the score rule of a split computed from
-- its values -- what _split_summary records at the split's exit. Reading
-- every value, it serves `arrowscope verify` and directories of storage
-- format 1, which have no summaries. One row per split x metric (current
-- record); columns as in _split_metric.
WITH valid AS (
    SELECT project, client, round, trial, split, metric, epoch, value
    FROM _metric_values
    WHERE phase = 'valid'
),
stats AS (
    SELECT
        project, client, round, trial, split, metric,
        count(*) AS n_valid,
        min(value) FILTER (WHERE isfinite(value)) AS min_value,
        arg_min(epoch, struct_pack(value := value, epoch := epoch))
            FILTER (WHERE isfinite(value)) AS min_epoch,
        max(value) FILTER (WHERE isfinite(value)) AS max_value,
        arg_max(epoch, struct_pack(value := value, epoch := -epoch))
            FILTER (WHERE isfinite(value)) AS max_epoch,
        arg_max(value, epoch) AS last,
        avg(value) AS mean
    FROM valid
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
    coalesce(x.n_valid, 0) AS n_valid,
    CASE WHEN d.higher_is_better THEN x.max_value
         WHEN NOT d.higher_is_better THEN x.min_value END AS best,
    CASE WHEN d.higher_is_better THEN x.max_epoch
         WHEN NOT d.higher_is_better THEN x.min_epoch END AS n_epochs_to_best,
    x.last,
    x.mean
FROM _metric_scope AS d
LEFT JOIN stats AS x
    ON x.project = d.project AND x.client = d.client AND x.round = d.round
    AND x.trial = d.trial AND x.split = d.split AND x.metric = d.metric
