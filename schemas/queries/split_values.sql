-- Every metric of the splits of one trial ($split: one split, or NULL for
-- all): its declared direction and its train and valid values in epoch order.
-- Values of a replaced retrain split (logged before its latest PLANNED event)
-- are left out.
WITH ev AS (
    SELECT level, split, metric, status, higher_is_better, "at", seq
    FROM events
    WHERE project = $project AND client = $client AND round = $round AND trial = $trial
      AND ($split IS NULL OR split = $split)
),
planned AS (
    SELECT split, max("at") AS since
    FROM ev WHERE level = 'split' AND status = 'PLANNED'
    GROUP BY split
),
direction AS (
    SELECT e.split, e.metric, coalesce(arg_min(e.higher_is_better, e."at"), true) AS hib
    FROM ev e LEFT JOIN planned p ON p.split = e.split
    WHERE e.level = 'metric' AND (e.split >= 0 OR p.since IS NULL OR e."at" >= p.since)
    GROUP BY e.split, e.metric
),
vals AS (
    SELECT m.split, m.metric,
           list(m.value ORDER BY m.epoch) FILTER (WHERE m.phase = 'train') AS train,
           list(m.value ORDER BY m.epoch) FILTER (WHERE m.phase = 'valid') AS valid
    FROM metrics m LEFT JOIN planned p ON p.split = m.split
    WHERE m.project = $project AND m.client = $client AND m.round = $round
      AND m.trial = $trial AND ($split IS NULL OR m.split = $split)
      AND (m.split >= 0 OR p.since IS NULL OR m.logged_at >= p.since)
    GROUP BY m.split, m.metric
)
SELECT d.split, d.metric, d.hib,
       coalesce(v.train, []::DOUBLE[]) AS train,
       coalesce(v.valid, []::DOUBLE[]) AS valid
FROM direction d LEFT JOIN vals v ON v.split = d.split AND v.metric = d.metric
ORDER BY d.split, d.metric
