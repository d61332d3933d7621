-- PostgreSQL settings for the benchmarks: a production-like server on this 2-core, 24 GiB
-- machine instead of the packaged defaults (128 MB of shared buffers, a checkpoint every
-- 1 GB of WAL), which are sized for a laptop and made bulk writes checkpoint every 15 s.
-- Apply as the superuser, then restart the server:
--   psql -U postgres -h 127.0.0.1 -f bench/postgres-tuning.sql
--   pg_ctlcluster --skip-systemctl-redirect 15 main restart
-- Nothing here trades away durability: synchronous_commit and full_page_writes stay on.
ALTER SYSTEM SET shared_buffers = '6GB';          -- a quarter of RAM, the usual advice
ALTER SYSTEM SET effective_cache_size = '16GB';
ALTER SYSTEM SET max_wal_size = '16GB';           -- checkpoints by time, not by volume
ALTER SYSTEM SET checkpoint_timeout = '15min';
ALTER SYSTEM SET checkpoint_completion_target = 0.9;
ALTER SYSTEM SET wal_buffers = '64MB';
ALTER SYSTEM SET wal_compression = 'lz4';
ALTER SYSTEM SET maintenance_work_mem = '1GB';
ALTER SYSTEM SET work_mem = '64MB';
ALTER SYSTEM SET random_page_cost = 1.1;          -- SSD
ALTER SYSTEM SET effective_io_concurrency = 200;
