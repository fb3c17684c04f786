-- Schema version 7: the op-time scatter a learned profile measured
-- (docs/cost-model.md §13, docs/learned-costs.md): the robust sigma of
-- ln(op time / median of its stage and kind in its iteration) on the
-- profile, and the same log ratios' equally spaced quantiles (0th to 100th
-- percentile), which `--jitter auto` draws op times from. Profiles stored
-- by schema 6 keep sigma 0 and no quantiles (deterministic). Applied inside
-- the same BEGIN IMMEDIATE transaction as every migration: all of it or
-- none.

ALTER TABLE learned_profiles
  ADD COLUMN jitter_sigma REAL NOT NULL DEFAULT 0 CHECK (jitter_sigma >= 0);

CREATE TABLE learned_jitter (
  profile_id        INTEGER NOT NULL
                    REFERENCES learned_profiles(id) ON DELETE CASCADE,
  k                 INTEGER NOT NULL CHECK (k >= 0 AND k < 21),
  log_ratio         REAL NOT NULL CHECK (log_ratio >= -5 AND log_ratio <= 5),
  PRIMARY KEY (profile_id, k)
) STRICT, WITHOUT ROWID;
