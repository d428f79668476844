-- Template: a tenant schema that the `tenancy` crate can keep isolated.
--
-- Copy it into your migrations and rename to taste; `tenancy::Convention::default()` matches
-- the names used here (schema `app`, setting `app.current_tenant`, column `tenant_id`,
-- runtime role `app_user`). Run it as a superuser, or as a role with CREATEROLE that owns the
-- database. It is safe to run again: roles are created only when missing, and the rest in one
-- transaction guarded by `if not exists`.
--
-- The rules every tenant table follows (`tenancy::audit` checks each one):
--   * a `tenant_id uuid not null` column, defaulting to the transaction's tenant;
--   * row level security enabled AND forced, with exactly one policy, for all commands, whose
--     USING and WITH CHECK both say `tenant_id = <the current tenant>`;
--   * every primary and unique key starts with tenant_id, and foreign keys between tenant
--     tables are composite (tenant_id, x_id), so a row can never point into another tenant;
--   * ids are UUIDs made by the application (v7): a sequence shared by every tenant leaks how
--     much the others write;
--   * the runtime role is not the owner, not a superuser, has no BYPASSRLS, may not create
--     objects or temporary tables, and gets SELECT/INSERT/UPDATE/DELETE only.

-- Roles are cluster-wide: create them once.
do $$
begin
  -- Owns every object; migrations run as it. Owners bypass RLS unless it is forced.
  if not exists (select from pg_roles where rolname = 'app_owner') then
    create role app_owner nologin;
  end if;
  -- The runtime role: the only role the service serves requests as.
  if not exists (select from pg_roles where rolname = 'app_user') then
    create role app_user login nosuperuser nobypassrls nocreatedb nocreaterole;
  end if;
  -- Temporary tables would let a pooled session keep state past its transaction.
  execute format('revoke temporary on database %I from public', current_database());
end
$$;

revoke create on schema public from public;
create schema if not exists app authorization app_owner;

begin;
set local role app_owner;

-- The tenant directory: one row per tenant (an organisation, an account, a customer). It holds
-- no tenant data, so it has no tenant column and no policy; the runtime role may only read it
-- (to turn a slug into an id).
create table if not exists app.account (
  id uuid primary key,
  slug text not null unique
    check (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'),
  name text not null check (char_length(name) between 1 and 200)
);

-- The one door: sets the tenant for the current transaction only (SET LOCAL), so it ends at
-- COMMIT or ROLLBACK and a pooled connection never carries it into the next request. The
-- tenant id is a bound, typed parameter: no SQL is built from it on the client.
--
-- On plain PostgreSQL a SQL-language function is cheaper (no plpgsql, no EXECUTE):
--   create function app.enter_tenant(t uuid) returns void language sql volatile
--     as $f$ select set_config('app.current_tenant', t::text, true) $f$;
-- but a Citus coordinator does not forward set_config() to its workers, while it does forward
-- SET LOCAL (with citus.propagate_set_commands = 'local' on the runtime role), so the
-- plpgsql form below works on both.
create or replace function app.enter_tenant(t uuid) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  if t is null then
    raise exception 'enter_tenant needs a tenant id' using errcode = '22004';
  end if;
  execute format('set local app.current_tenant = %L', t);
end
$$;
revoke all on function app.enter_tenant(uuid) from public;

-- Tenant tables. The default fills tenant_id from the current tenant; queries still name it
-- (`where tenant_id = $1`, `insert … (tenant_id, …) values ($1, …)`), which is what a sharded
-- cluster routes on.
create table if not exists app.project (
  tenant_id uuid not null
    default nullif(current_setting('app.current_tenant', true), '')::uuid
    references app.account (id) on delete cascade,
  id uuid not null,
  name text not null check (char_length(name) between 1 and 200),
  primary key (tenant_id, id),
  unique (tenant_id, name)
);

create table if not exists app.task (
  tenant_id uuid not null
    default nullif(current_setting('app.current_tenant', true), '')::uuid
    references app.account (id) on delete cascade,
  id uuid not null,
  project_id uuid not null,
  title text not null check (char_length(title) between 1 and 500),
  done boolean not null default false,
  primary key (tenant_id, id),
  foreign key (tenant_id, project_id) references app.project (tenant_id, id) on delete cascade
);
-- Indexes lead with tenant_id: the policy's comparison is then an index condition.
create index if not exists task_project_idx on app.task (tenant_id, project_id);

-- One policy per tenant table, for all commands. With no tenant set the setting reads '' (or
-- is missing), nullif turns that into NULL, and the comparison is never true: no rows are
-- visible and every write is refused (fail closed). Never add a second policy: permissive
-- policies are OR-ed together, so any second one widens access.
alter table app.project enable row level security;
alter table app.project force row level security;
drop policy if exists tenant_isolation on app.project;
create policy tenant_isolation on app.project for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

alter table app.task enable row level security;
alter table app.task force row level security;
drop policy if exists tenant_isolation on app.task;
create policy tenant_isolation on app.task for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

-- Grants: DML on tenant tables, read on the directory, the enter function. Nothing else (no
-- TRUNCATE, which ignores RLS; no REFERENCES or TRIGGER; no CREATE anywhere).
grant usage on schema app to app_user;
grant execute on function app.enter_tenant(uuid) to app_user;
grant select, insert, update, delete on app.project, app.task to app_user;
grant select on app.account to app_user;

commit;
