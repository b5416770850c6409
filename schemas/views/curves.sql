-- curves: one row per trial x metric x phase x epoch.
--
-- value: the mean of the values logged at that epoch by the trial's
-- validation splits (split >= 0) that reached it, whatever their status, so
-- ragged curves average over fewer splits at their tail; n_splits: how many
-- splits contributed. The retrain split (-1) is left out. Values are averaged
-- as logged: a NaN at an epoch makes that epoch's mean NaN.
SELECT
    project,
    client,
    round,
    trial,
    metric,
    phase,
    epoch,
    avg(value) AS value,
    count(*) AS n_splits
FROM metrics
WHERE split >= 0
GROUP BY project, client, round, trial, metric, phase, epoch
ORDER BY project, client, round, trial, metric, phase, epoch
