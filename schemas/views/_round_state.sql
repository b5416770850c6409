-- _round_state (internal): one row per round that has events, with its main
-- metric (from its latest round event) and when it was created (its first
-- round event; the first event of any kind when no round event exists).
WITH partitions AS (
    SELECT project, client, round, min("at") AS first_event_at
    FROM events
    GROUP BY project, client, round
),
round_events AS (
    SELECT project, client, round, main_metric_name, first_at
    FROM _scope_state
    WHERE level = 'round'
)
SELECT
    p.project,
    p.client,
    p.round,
    r.main_metric_name,
    coalesce(r.first_at, p.first_event_at) AS created_at
FROM partitions AS p
LEFT JOIN round_events AS r
    ON r.project = p.project AND r.client = p.client AND r.round = p.round
