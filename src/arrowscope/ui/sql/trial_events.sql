-- trial_events: the status timeline of a trial and its splits, in time order.
SELECT epoch_ms("at") AS at_ms, level, split, status, error
FROM events
WHERE project = $project AND client = $client AND round = $round AND trial = $trial
    AND level IN ('trial', 'split') AND status IS NOT NULL
ORDER BY "at", writer, seq
