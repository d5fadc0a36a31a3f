-- lakebox catalog, migration 007: the process that runs an experiment, so that a run whose
-- caller was killed (kill -9, power loss) is recognised as interrupted instead of "running"
-- forever.

ALTER TABLE experiments ADD COLUMN owner_pid INTEGER;
ALTER TABLE experiments ADD COLUMN owner_host TEXT;
