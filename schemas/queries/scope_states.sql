-- The current state of every trial and split of one round ($trial: of one
-- trial): its latest event (greatest at, then seq), and when it was created,
-- started and ended.
WITH ev AS (
    SELECT level, trial, split, status, hyperparams, error, "at", seq, writer
    FROM events
    WHERE project = $project AND client = $client AND round = $round
      AND level IN ('trial', 'split')
      AND ($trial IS NULL OR trial = $trial)
),
latest AS (
    SELECT level, trial, split, status, hyperparams, error, "at",
           min("at") FILTER (WHERE status = 'PLANNED') OVER scope AS created_at,
           max("at") FILTER (WHERE status = 'RUNNING') OVER scope AS started_at
    FROM ev
    WINDOW scope AS (PARTITION BY level, trial, split)
    QUALIFY row_number() OVER (
        PARTITION BY level, trial, split ORDER BY "at" DESC, seq DESC, writer DESC) = 1
)
SELECT level, trial, split, status, hyperparams, error, created_at, started_at,
       CASE WHEN status IN ('SUCCESS', 'FAILED', 'ABORTED') THEN "at" END AS ended_at
FROM latest
ORDER BY level DESC, trial, split
