-- home: one row per round (and one per project or client without rounds):
-- trial counts by status, the best trial and score, and the last activity
-- (the latest time a trial of the round was created, started or ended).
WITH counts AS (
    SELECT
        project, client, round,
        count(*) FILTER (WHERE status = 'SUCCESS') AS n_success,
        count(*) FILTER (WHERE status = 'FAILED') AS n_failed,
        count(*) FILTER (WHERE status = 'ABORTED') AS n_aborted,
        count(*) FILTER (WHERE status = 'RUNNING') AS n_running,
        count(*) FILTER (WHERE status = 'PLANNED') AS n_planned,
        max(greatest(created_at, started_at, ended_at)) AS last_trial_at
    FROM trials
    GROUP BY project, client, round
),
clients AS (
    SELECT project, client FROM catalog WHERE client IS NOT NULL
    UNION
    SELECT project, client FROM rounds
),
projects AS (
    SELECT project FROM catalog
    UNION
    SELECT project FROM clients
)
SELECT
    p.project,
    c.client,
    r.round,
    r.main_metric_name,
    r.higher_is_better,
    coalesce(r.n_trials, 0) AS n_trials,
    coalesce(n.n_success, 0) AS n_success,
    coalesce(n.n_failed, 0) AS n_failed,
    coalesce(n.n_aborted, 0) AS n_aborted,
    coalesce(n.n_running, 0) AS n_running,
    coalesce(n.n_planned, 0) AS n_planned,
    r.best_trial,
    r.best_score,
    epoch_ms(greatest(r.created_at, n.last_trial_at)) AS last_activity_ms
FROM projects AS p
LEFT JOIN clients AS c ON c.project = p.project
LEFT JOIN rounds AS r ON r.project = c.project AND r.client = c.client
LEFT JOIN counts AS n ON n.project = r.project AND n.client = r.client AND n.round = r.round
ORDER BY p.project, c.client NULLS FIRST, r.round NULLS FIRST
