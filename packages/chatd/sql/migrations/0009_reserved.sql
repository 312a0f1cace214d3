-- A placeholder: migration 0009 is written on another branch in parallel (issue 12), and migrations must
-- be contiguous. Delete this file when that branch's 0009_*.sql is merged next to 0011_context_window.sql.
SELECT 1;
