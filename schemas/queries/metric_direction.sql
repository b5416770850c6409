-- The direction of $metric in one round: the flag declared in the last
-- validation split that has it, of the highest-id trial that recorded it.
-- $trial (nullable) restricts the search to one trial.
SELECT coalesce(arg_min(higher_is_better, "at"), true) AS higher_is_better
FROM events
WHERE project = $project AND client = $client AND round = $round
  AND level = 'metric' AND metric = $metric AND split >= 0
  AND ($trial IS NULL OR trial = $trial)
GROUP BY trial, split
ORDER BY trial DESC, split DESC
LIMIT 1
