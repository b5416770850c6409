-- _trial_metric (internal): the score rule of a trial, for every metric its
-- validation splits declared. One row per trial x metric.
--
-- score: the mean, over the trial's validation splits (split >= 0) that are
-- SUCCESS and have a best value, of those best values; defined only when
-- the trial itself is SUCCESS. n_epochs_to_best: the mean n_epochs_to_best
-- of those same splits, whatever the trial's status. higher_is_better: the
-- direction declared in the trial's highest-numbered validation split that
-- declared the metric.
SELECT
    m.project,
    m.client,
    m.round,
    m.trial,
    m.metric,
    arg_max(m.higher_is_better, m.split) AS higher_is_better,
    CASE WHEN any_value(t.status) = 'SUCCESS' THEN
        avg(m.best) FILTER (WHERE s.status = 'SUCCESS' AND m.best IS NOT NULL)
    END AS score,
    avg(m.n_epochs_to_best) FILTER (WHERE s.status = 'SUCCESS' AND m.best IS NOT NULL)
        AS n_epochs_to_best
FROM _split_metric AS m
JOIN _scope_state AS s
    ON s.level = 'split' AND s.project = m.project AND s.client = m.client
    AND s.round = m.round AND s.trial = m.trial AND s.split = m.split
LEFT JOIN _scope_state AS t
    ON t.level = 'trial' AND t.project = m.project AND t.client = m.client
    AND t.round = m.round AND t.trial = m.trial
WHERE m.split >= 0
GROUP BY m.project, m.client, m.round, m.trial, m.metric
