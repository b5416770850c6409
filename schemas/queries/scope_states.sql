-- The state of every trial and split of one round ($trial: of one trial).
SELECT level, trial, split, status, hyperparams, error, created_at, started_at, ended_at,
       record, last_clock
FROM _scope_state
WHERE project = $project AND client = $client AND round = $round
    AND level IN ('trial', 'split')
    AND ($trial IS NULL OR trial = $trial)
ORDER BY level DESC, trial, split
