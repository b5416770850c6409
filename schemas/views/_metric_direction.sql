-- _metric_direction (internal): the direction rule of a round. One row per
-- round x metric: higher_is_better as declared by the highest-numbered
-- trial that recorded the metric (that trial's own rule, _trial_metric).
SELECT
    project,
    client,
    round,
    metric,
    arg_max(higher_is_better, trial) AS higher_is_better
FROM _trial_metric
GROUP BY project, client, round, metric
