-- rounds: one row per round.
--
-- main_metric_name: from the round's latest round event. higher_is_better:
-- the main metric's direction (_metric_direction: as declared by the
-- highest-numbered trial that recorded it; NULL when no trial did).
-- n_trials: trials with events; n_success: those whose status is SUCCESS.
-- best_trial / best_score: among SUCCESS trials with a score, the best by
-- that direction, ties going to the lowest trial id (NULL when none).
-- created_at: the round's first round event.
WITH direction AS (
    SELECT d.project, d.client, d.round, d.higher_is_better
    FROM _metric_direction AS d
    JOIN _round_state AS r
        ON r.project = d.project AND r.client = d.client AND r.round = d.round
        AND r.main_metric_name = d.metric
),
round_trials AS (
    SELECT
        t.project, t.client, t.round,
        count(*) AS n_trials,
        count(*) FILTER (WHERE t.status = 'SUCCESS') AS n_success,
        arg_min(
            struct_pack(trial := t.trial, score := t.score),
            struct_pack(
                loss := CASE WHEN d.higher_is_better THEN -t.score ELSE t.score END,
                trial := t.trial
            )
        ) FILTER (
            WHERE t.status = 'SUCCESS' AND t.score IS NOT NULL
                AND d.higher_is_better IS NOT NULL
        ) AS best
    FROM trials AS t
    LEFT JOIN direction AS d
        ON d.project = t.project AND d.client = t.client AND d.round = t.round
    GROUP BY t.project, t.client, t.round
)
SELECT
    r.project,
    r.client,
    r.round,
    r.main_metric_name,
    d.higher_is_better,
    coalesce(t.n_trials, 0) AS n_trials,
    coalesce(t.n_success, 0) AS n_success,
    t.best.trial AS best_trial,
    t.best.score AS best_score,
    r.created_at
FROM _round_state AS r
LEFT JOIN direction AS d
    ON d.project = r.project AND d.client = r.client AND d.round = r.round
LEFT JOIN round_trials AS t
    ON t.project = r.project AND t.client = r.client AND t.round = r.round
ORDER BY r.project, r.client, r.round
