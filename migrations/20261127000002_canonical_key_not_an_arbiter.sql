-- The finding id is the UUIDv5 of its canonical key, so the primary key already makes the key
-- unique. A second unique constraint on canonical_key is not the ON CONFLICT arbiter: two
-- pollers inserting the same new finding at once (its Security Hub copy and its native report)
-- made the loser fail on it instead of turning its insert into an update.
ALTER TABLE findings DROP CONSTRAINT findings_canonical_key_key;
