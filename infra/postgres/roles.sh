#!/bin/sh
# Runs once, when the postgres container initialises an empty data directory
# (/docker-entrypoint-initdb.d). Creates the two login roles Attune's processes use; the
# owner (POSTGRES_USER) runs migrations, which grant them what they may do
# (shared/db/row_security.py). Neither owns a table or may bypass row-level security.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_password="$ATTUNE_APP_DB_PASSWORD" -v system_password="$ATTUNE_SYSTEM_DB_PASSWORD" <<'SQL'
CREATE ROLE attune_app LOGIN PASSWORD :'app_password' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE ROLE attune_system LOGIN PASSWORD :'system_password' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
SQL
