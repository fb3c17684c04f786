-- Schema version 5: the clock a GPU sustains under dense matrix load.
-- Datasheet peaks are stated at the boost clock; in a long training run
-- every GPU of a node works near its power limit and the SM clock settles
-- lower. sustained_clock_ratio = sustained clock / the clock of the
-- datasheet peak; tensor-core work (GEMMs, attention) is priced at that
-- fraction of the peak. docs/hardware.md gives each figure's source; 1 where
-- no sustained-clock figure is published. Applied inside the same
-- BEGIN IMMEDIATE transaction as every migration: all of it or none.

ALTER TABLE gpus ADD COLUMN sustained_clock_ratio REAL NOT NULL DEFAULT 1
  CHECK (sustained_clock_ratio > 0 AND sustained_clock_ratio <= 1);

-- A100 SXM4 (40 and 80 GB): 1305 MHz sustained at the 400 W limit under
-- dense matrix work, against the 1410 MHz boost clock of the 312 TFLOP/s
-- datasheet peak.
UPDATE gpus SET sustained_clock_ratio = 1305.0 / 1410.0
  WHERE name IN ('a100', 'a100-40gb');
