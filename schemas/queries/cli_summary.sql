-- Every project and client with its rounds: trial counts, best trial and best
-- score. A client without rounds gives one row with a NULL round; a project
-- without clients one row with a NULL client.
WITH clients AS (
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
    r.n_trials,
    r.n_success,
    r.best_trial,
    r.best_score
FROM projects AS p
LEFT JOIN clients AS c ON c.project = p.project
LEFT JOIN rounds AS r ON r.project = c.project AND r.client = c.client
ORDER BY p.project, c.client NULLS FIRST, r.round NULLS FIRST
