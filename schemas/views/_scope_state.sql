-- _scope_state (internal): one row per scope that has events -- a round, a
-- trial, a split or a metric -- with its current state and its lifecycle times.
--
-- Events of one scope are ordered by "at", then seq, then writer; the last one
-- is the scope's state (DESIGN.md, "Stored tables"). Its fields are taken
-- together, NULLs included (an error cleared by a later success stays
-- cleared); hyperparams keep the latest non-null text.
-- "at" is always quoted: AT is an SQL keyword.
WITH ordered_events AS (
    SELECT
        *,
        struct_pack("at" := "at", seq := seq, writer := writer) AS event_order
    FROM events
),
per_scope AS (
    SELECT
        project, client, round, level, trial, split, metric,
        arg_max_null(
            struct_pack(
                status := status,
                main_metric_name := main_metric_name,
                higher_is_better := higher_is_better,
                error := error
            ),
            event_order
        ) AS latest,
        arg_max(hyperparams, event_order) AS hyperparams,
        min("at") AS first_at,
        max("at") AS last_at,
        min("at") FILTER (WHERE status = 'PLANNED') AS first_planned_at,
        max("at") FILTER (WHERE status = 'PLANNED') AS last_planned_at,
        max("at") FILTER (WHERE status = 'RUNNING') AS last_running_at
    FROM ordered_events
    GROUP BY project, client, round, level, trial, split, metric
)
SELECT
    project,
    client,
    round,
    level,
    trial,
    split,
    metric,
    latest.status AS status,
    latest.main_metric_name AS main_metric_name,
    latest.higher_is_better AS higher_is_better,
    hyperparams,
    latest.error AS error,
    first_at,
    last_at,
    first_planned_at,
    last_planned_at,
    last_running_at
FROM per_scope
