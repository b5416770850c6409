-- params: one row per trial x hyperparameter, from the trial's latest
-- hyperparams (a flat JSON object, keys joined with "__").
--
-- value: the JSON scalar as text (strings without their quotes, booleans as
-- true/false, NULL for a JSON null); value_num: the value as a double when it
-- is a JSON number or one of the strings NaN, Infinity, -Infinity (how stored
-- JSON spells those floats), else NULL (booleans and strings included). Hyperparams
-- text that is not a JSON object is skipped.
WITH trial_hyperparams AS (
    SELECT project, client, round, trial, hyperparams
    FROM _scope_state
    WHERE level = 'trial'
        AND CASE WHEN json_valid(hyperparams) THEN json_type(hyperparams) = 'OBJECT'
                 ELSE false END
),
entries AS (
    SELECT
        project, client, round, trial,
        unnest(map_entries(CAST(CAST(hyperparams AS JSON) AS MAP(VARCHAR, JSON)))) AS entry
    FROM trial_hyperparams
)
SELECT
    project,
    client,
    round,
    trial,
    entry.key AS name,
    entry.value ->> '$' AS value,
    CASE WHEN json_type(entry.value) IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')
         THEN CAST(entry.value ->> '$' AS DOUBLE)
         WHEN entry.value ->> '$' IN ('NaN', 'Infinity', '-Infinity') THEN CAST(entry.value ->> '$' AS DOUBLE)
         END AS value_num
FROM entries
ORDER BY project, client, round, trial, name
