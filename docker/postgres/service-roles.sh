#!/bin/sh
# One Postgres role per service database, with rights on that database only (docker-compose.yml).
#
# The postgres image runs this once, when it initialises an empty data volume (it is mounted into
# /docker-entrypoint-initdb.d). It is idempotent, so on a volume that existed before, run it by hand:
#   docker compose exec postgres sh /docker-entrypoint-initdb.d/10-service-roles.sh
# For each service it creates the role gozon_<service> (LOGIN, password from <SERVICE>_DB_PASSWORD)
# and the database gozon_<service> owned by it, refuses every other role a connection to it (REVOKE
# ... FROM PUBLIC), and hands it whatever tables (with their sequences), types and functions an earlier migration
# run by the superuser left there. The services, and the migration one-shot, connect as these roles.
set -eu

: "${ORDERS_DB_PASSWORD:?ORDERS_DB_PASSWORD is required}"
: "${PAYMENTS_DB_PASSWORD:?PAYMENTS_DB_PASSWORD is required}"
: "${IDENTITY_DB_PASSWORD:?IDENTITY_DB_PASSWORD is required}"
prefix="${SERVICE_DB_PREFIX:-gozon}"

for service in orders payments identity; do
  case "$service" in
    orders) password="$ORDERS_DB_PASSWORD" ;;
    payments) password="$PAYMENTS_DB_PASSWORD" ;;
    identity) password="$IDENTITY_DB_PASSWORD" ;;
  esac
  name="${prefix}_${service}"
  # Names and the password travel as psql variables, quoted by format(%I / %L): never spliced as SQL.
  psql -v ON_ERROR_STOP=1 -X -q --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v name="$name" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'name')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'name', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'name') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'name', :'name') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'name') \gexec
\connect :"name"
SELECT format('ALTER TABLE public.%I OWNER TO %I', tablename, :'name')
  FROM pg_tables WHERE schemaname = 'public' \gexec
SELECT format('ALTER TYPE public.%I OWNER TO %I', t.typname, :'name')
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd') \gexec
SELECT format('ALTER FUNCTION public.%I(%s) OWNER TO %I', p.proname, pg_get_function_identity_arguments(p.oid), :'name')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = 'public' AND p.prokind = 'f' \gexec
SQL
done
