-- _scope_state (internal): one row per scope that has events -- a round, a
-- trial, a split, or a metric of one record of a split -- with its current
-- state and its lifecycle times. Every report reads a scope's state here.
--
-- The state of a scope is its latest event, ordered by the hybrid logical
-- clock (`clock`), then writer, then seq; format 1 files have no clock and
-- order by "at". Wall-clock times are data: they never decide the order.
-- Fields of the latest event are taken together, NULLs included (an error
-- cleared by a later success stays cleared); hyperparams keep the latest
-- non-null text.
--
-- record: a split's current record (the retrain split, -1, starts a new one
-- each time it is replaced; validation splits have record 0); for a metric
-- scope, the record of the split it was declared in. Metric scopes are kept
-- per record, so a replaced retrain split's metrics stay apart.
-- created_at: the latest PLANNED event's time; started_at: the latest
-- RUNNING event's; ended_at: the latest event's, when it is SUCCESS, FAILED
-- or ABORTED. last_clock: the greatest clock of the scope's events.
-- "at" is always quoted: AT is an SQL keyword.
WITH ordered_events AS (
    SELECT
        *,
        coalesce(attempt, 0) AS record,
        coalesce(clock, epoch_us("at")) AS order_clock
    FROM events
),
per_scope AS (
    SELECT
        project, client, round, level, trial, split, metric,
        CASE WHEN level = 'metric' THEN record END AS metric_record,
        arg_max_null(
            struct_pack(
                status := status,
                main_metric_name := main_metric_name,
                higher_is_better := higher_is_better,
                error := error,
                record := record,
                "at" := "at"
            ),
            struct_pack(c := order_clock, w := writer, s := seq)
        ) AS latest,
        arg_max(hyperparams, struct_pack(c := order_clock, w := writer, s := seq))
            AS hyperparams,
        arg_max("at", struct_pack(c := order_clock, w := writer, s := seq))
            FILTER (WHERE status = 'PLANNED') AS planned_at,
        arg_max("at", struct_pack(c := order_clock, w := writer, s := seq))
            FILTER (WHERE status = 'RUNNING') AS running_at,
        arg_min("at", struct_pack(c := order_clock, w := writer, s := seq)) AS first_at,
        max(order_clock) AS last_clock
    FROM ordered_events
    GROUP BY project, client, round, level, trial, split, metric, metric_record
)
SELECT
    project,
    client,
    round,
    level,
    trial,
    split,
    metric,
    coalesce(metric_record, latest.record) AS record,
    latest.status AS status,
    latest.main_metric_name AS main_metric_name,
    latest.higher_is_better AS higher_is_better,
    hyperparams,
    latest.error AS error,
    coalesce(planned_at, first_at) AS created_at,
    running_at AS started_at,
    CASE WHEN latest.status IN ('SUCCESS', 'FAILED', 'ABORTED') THEN latest."at" END
        AS ended_at,
    first_at,
    last_clock
FROM per_scope
