-- One trial of one round, as in the trials view (no row when it does not exist).
SELECT *
FROM trials
WHERE project = $project AND client = $client AND round = $round AND trial = $trial
