"""The embedded instance: one `attune serve` process on one SQLite file, its lock, its
backups, and what it does after a restart."""
