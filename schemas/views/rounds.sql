-- rounds: one row per round.
--
-- main_metric_name: from the round's latest round event. higher_is_better:
-- the main metric's direction, taken from the highest-id trial that declared
-- the metric in a validation split, and from that trial's highest-id
-- validation split declaring it (NULL when no trial recorded the metric).
-- n_trials: trials with events; n_success: those whose status is SUCCESS.
-- best_trial / best_score: among SUCCESS trials with a score, the best by
-- that direction, ties going to the lowest trial id (NULL when none).
-- created_at: the round's first round event.
WITH direction AS (
    SELECT
        m.project, m.client, m.round,
        arg_max_null(m.higher_is_better, struct_pack(trial := m.trial, split := m.split))
            AS higher_is_better
    FROM _scope_state AS m
    JOIN _round_state AS r
        ON r.project = m.project AND r.client = m.client AND r.round = m.round
        AND r.main_metric_name = m.metric
    WHERE m.level = 'metric' AND m.split >= 0
    GROUP BY m.project, m.client, m.round
),
round_trials AS (
    -- one pass over the round's trials: counts, and the best eligible trial
    -- (SUCCESS with a score), ties going to the lowest trial id
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
