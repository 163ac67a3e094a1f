-- Run once by the postgres image, on its first start with an empty volume
-- (mounted into /docker-entrypoint-initdb.d). The same roles and database that
-- services.kit.dbadmin.provision creates for `make run` and the tests:
--   pursuit_owner owns the database and every table; migrations run as it.
--   pursuit_app is what services connect as: no superuser, owns nothing, so
--   row-level security applies to it.
-- Passwords come from the container's environment (compose.yaml gives dev defaults).

\set ON_ERROR_STOP on
\getenv owner_password PURSUIT_OWNER_PASSWORD
\getenv app_password PURSUIT_APP_PASSWORD

CREATE ROLE pursuit_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE pursuit_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_password';
CREATE DATABASE pursuit OWNER pursuit_owner;
GRANT CONNECT ON DATABASE pursuit TO pursuit_app;

\connect pursuit
-- Only the owner creates objects in public (alembic's version table lives there).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT ALL ON SCHEMA public TO pursuit_owner;
