-- Per SUCCESS trial of one round ($trial: one trial) and epoch: the mean
-- valid value of $metric over the trial's SUCCESS validation splits.
SELECT trial, epoch, value
FROM _success_curves
WHERE project = $project AND client = $client AND round = $round AND metric = $metric
    AND ($trial IS NULL OR trial = $trial)
ORDER BY trial, epoch
