-- _round_state (internal): one row per round that has events, with its main
-- metric (its latest round event), when it was created (its first round
-- event; the first event of any kind when no round event exists), and the
-- greatest clock of all its events.
WITH partitions AS (
    SELECT
        project, client, round,
        min("at") AS first_event_at,
        max(coalesce(clock, epoch_us("at"))) AS last_clock
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
    coalesce(r.first_at, p.first_event_at) AS created_at,
    p.last_clock
FROM partitions AS p
LEFT JOIN round_events AS r
    ON r.project = p.project AND r.client = p.client AND r.round = p.round
