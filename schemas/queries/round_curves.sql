-- Per SUCCESS trial of one round and per epoch: the mean valid value of
-- $metric over the trial's SUCCESS validation splits that reached that epoch.
WITH ev AS (
    SELECT level, trial, split, status, "at", seq, writer
    FROM events
    WHERE project = $project AND client = $client AND round = $round
      AND level IN ('trial', 'split')
),
state AS (
    SELECT level, trial, split, status
    FROM ev
    QUALIFY row_number() OVER (
        PARTITION BY level, trial, split ORDER BY "at" DESC, seq DESC, writer DESC) = 1
)
SELECT m.trial, m.epoch, avg(m.value) AS value
FROM metrics m
JOIN state s ON s.level = 'split' AND s.trial = m.trial AND s.split = m.split
JOIN state t ON t.level = 'trial' AND t.trial = m.trial
WHERE m.project = $project AND m.client = $client AND m.round = $round
  AND m.metric = $metric AND m.phase = 'valid' AND m.split >= 0
  AND s.status = 'SUCCESS' AND t.status = 'SUCCESS'
  AND ($trial IS NULL OR m.trial = $trial)
GROUP BY m.trial, m.epoch
ORDER BY m.trial, m.epoch
