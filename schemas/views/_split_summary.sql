-- _split_summary (internal): a split's validation curve of one metric, from
-- the summaries its writers recorded when the split exited (metric events
-- with valid_count set), without reading a value. One row per split x metric
-- (current record) that has a summary.
--
-- A split resumed by several processes has one summary per process, each
-- over the values it logged, with absolute epochs; they combine here:
-- n_valid and mean add up; best is the best of the bests in the declared
-- direction (ties: the earliest epoch); last is the value with the greatest
-- epoch.
WITH chunks AS (
    SELECT
        project, client, round, trial, split, coalesce(attempt, 0) AS record, metric,
        valid_count, valid_sum, valid_best, valid_best_epoch, valid_last, valid_last_epoch
    FROM events
    WHERE level = 'metric' AND valid_count IS NOT NULL
)
SELECT
    d.project,
    d.client,
    d.round,
    d.trial,
    d.split,
    d.metric,
    CAST(sum(c.valid_count) AS BIGINT) AS n_valid,
    arg_min(
        struct_pack(value := c.valid_best, epoch := c.valid_best_epoch),
        struct_pack(
            k := CASE WHEN d.higher_is_better THEN -c.valid_best ELSE c.valid_best END,
            e := c.valid_best_epoch
        )
    ) FILTER (WHERE c.valid_best IS NOT NULL) AS best,
    arg_max(c.valid_last, c.valid_last_epoch) AS last,
    CASE WHEN sum(c.valid_count) > 0 THEN sum(c.valid_sum) / sum(c.valid_count) END AS mean
FROM _metric_scope AS d
JOIN chunks AS c
    ON c.project = d.project AND c.client = d.client AND c.round = d.round
    AND c.trial = d.trial AND c.split = d.split AND c.record = d.record
    AND c.metric = d.metric
GROUP BY d.project, d.client, d.round, d.trial, d.split, d.metric
