"""The audit log: an append-only, hash-chained record of what was asked and answered (verdicts,
draw attempts, replenishments, verifications), in SQLite or PostgreSQL. Used by the front ends
(the command line's --log, the HTTP service); the engine itself never writes it."""
