-- Schema version 8: the per-message host time a learned profile measured
-- (docs/cost-model.md §14, docs/learned-costs.md): the idle time before an
-- op that was ready, beyond the per-op overhead, per cross-rank message
-- its rank copied in that gap (median, relative dispersion, samples).
-- Profiles stored by schema 7 keep 0 (no per-message time; their P2P
-- latency then holds both copies, as it did). Applied inside the same
-- BEGIN IMMEDIATE transaction as every migration: all of it or none.

ALTER TABLE learned_profiles
  ADD COLUMN msg_overhead_time REAL NOT NULL DEFAULT 0
  CHECK (msg_overhead_time >= 0);
ALTER TABLE learned_profiles
  ADD COLUMN msg_overhead_dispersion REAL NOT NULL DEFAULT 0;
ALTER TABLE learned_profiles
  ADD COLUMN msg_overhead_count INTEGER NOT NULL DEFAULT 0
  CHECK (msg_overhead_count >= 0);
