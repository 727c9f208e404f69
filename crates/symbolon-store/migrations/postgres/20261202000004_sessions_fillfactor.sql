-- Leave a fifth of each sessions page free, so that a rotation's UPDATE (generation,
-- rotated_at, last_used_at: no indexed column) can put the new row version on the same
-- page: a HOT update, which writes no index entries. With full pages every rotation
-- added an entry to each of the three indexes, and at 10^7 sessions refresh ran 40 %
-- slower than at 10^3 (BENCHMARKS.md). Takes effect for pages written from now on; no
-- rewrite, and only a brief lock.
ALTER TABLE sessions SET (fillfactor = 80);
