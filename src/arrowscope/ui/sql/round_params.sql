-- round_params: every trial's hyperparameters, one row per trial and name.
SELECT trial, name, value, value_num
FROM params
WHERE project = $project AND client = $client AND round = $round
ORDER BY name, trial
