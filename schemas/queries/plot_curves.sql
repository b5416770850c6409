-- The curves of the rounds matching $project, $client and $round (NULL
-- matches anything), for plotting.
SELECT *
FROM curves
WHERE ($project IS NULL OR project = $project)
    AND ($client IS NULL OR client = $client)
    AND ($round IS NULL OR round = $round)
ORDER BY project, client, round, trial, metric, phase, epoch
