-- trial_values: every value the trial logged, per split, metric, phase and epoch.
SELECT split, metric, phase, epoch, value
FROM metrics
WHERE project = $project AND client = $client AND round = $round AND trial = $trial
ORDER BY metric, phase, split, epoch
