-- _scope_state (internal): one row per scope that has events -- a round, a
-- trial, a split or a metric -- with its current state and its lifecycle times.
--
-- Events of one scope are ordered by "at", then seq, then writer; the last one
-- is the scope's state (DESIGN.md, "Stored tables"). arg_max_null keeps the
-- latest event's value even when it is NULL (an error cleared by a later
-- success); hyperparams keep the latest non-null text.
-- "at" is always quoted: AT is an SQL keyword.
WITH ordered_events AS (
    SELECT
        *,
        struct_pack("at" := "at", seq := seq, writer := writer) AS event_order
    FROM events
)
SELECT
    project,
    client,
    round,
    level,
    trial,
    split,
    metric,
    arg_max_null(status, event_order) AS status,
    arg_max_null(main_metric_name, event_order) AS main_metric_name,
    arg_max_null(higher_is_better, event_order) AS higher_is_better,
    arg_max(hyperparams, event_order) AS hyperparams,
    arg_max_null(error, event_order) AS error,
    min("at") AS first_at,
    max("at") AS last_at,
    min("at") FILTER (WHERE status = 'PLANNED') AS first_planned_at,
    max("at") FILTER (WHERE status = 'PLANNED') AS last_planned_at,
    max("at") FILTER (WHERE status = 'RUNNING') AS last_running_at
FROM ordered_events
GROUP BY project, client, round, level, trial, split, metric
