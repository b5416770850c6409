-- failures: the round's FAILED and ABORTED trials, latest first, with the
-- error and traceback of the event that set that status.
WITH tracebacks AS (
    SELECT trial, status, arg_max(traceback, "at") AS traceback
    FROM events
    WHERE project = $project AND client = $client AND round = $round
        AND level = 'trial' AND status IN ('FAILED', 'ABORTED')
    GROUP BY trial, status
)
SELECT t.trial, t.status, t.error, b.traceback, epoch_ms(t.ended_at) AS ended_at_ms
FROM trials AS t
LEFT JOIN tracebacks AS b ON b.trial = t.trial AND b.status = t.status
WHERE t.project = $project AND t.client = $client AND t.round = $round
    AND t.status IN ('FAILED', 'ABORTED')
ORDER BY t.ended_at DESC NULLS LAST, t.trial DESC
LIMIT $limit
