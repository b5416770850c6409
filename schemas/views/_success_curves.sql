-- _success_curves (internal): the averaged learning curve of a successful
-- trial. One row per SUCCESS trial x metric x epoch: the mean validation
-- value over the trial's SUCCESS validation splits that reached that epoch
-- (ragged curves average over fewer splits at their tail; a NaN makes that
-- epoch's mean NaN).
SELECT
    m.project,
    m.client,
    m.round,
    m.trial,
    m.metric,
    m.epoch,
    avg(m.value) AS value,
    count(*) AS n_splits
FROM metrics AS m
JOIN _scope_state AS s
    ON s.level = 'split' AND s.status = 'SUCCESS' AND s.project = m.project
    AND s.client = m.client AND s.round = m.round AND s.trial = m.trial
    AND s.split = m.split
JOIN _scope_state AS t
    ON t.level = 'trial' AND t.status = 'SUCCESS' AND t.project = m.project
    AND t.client = m.client AND t.round = m.round AND t.trial = m.trial
WHERE m.phase = 'valid' AND m.split >= 0
GROUP BY m.project, m.client, m.round, m.trial, m.metric, m.epoch
