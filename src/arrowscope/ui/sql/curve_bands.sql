-- curve_bands: for each chosen trial ($trials; NULL: every trial) and epoch,
-- the mean of the values its validation splits logged (the rule of the curves
-- view: splits >= 0, whatever their status) with their minimum and maximum,
-- for one metric and phase.
SELECT
    trial,
    epoch,
    avg(value) AS mean,
    min(value) AS low,
    max(value) AS high,
    count(*) AS n_splits
FROM metrics
WHERE project = $project AND client = $client AND round = $round
    AND metric = $metric AND phase = $phase AND split >= 0
    AND ($trials IS NULL OR list_contains($trials, trial))
GROUP BY trial, epoch
ORDER BY trial, epoch
