-- Tenants, houses and students, isolated by Row Level Security.
--
-- Rules every tenant table follows (checked by `wizreg audit`):
--   * tenant_id uuid not null, defaulting to the transaction's tenant, referencing tenant;
--   * every primary and unique key starts with tenant_id; foreign keys between tenant tables
--     are composite (tenant_id, x_id), so a row can never point into another school;
--   * RLS enabled and forced, with exactly one policy for all commands (USING and WITH CHECK);
--   * ids are UUIDv7 made by the application: no sequence leaks other schools' volumes.

create table wizreg.tenant (
  id uuid primary key,
  slug text not null constraint tenant_slug_format
    check (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'),
  name text not null constraint tenant_name_length check (char_length(name) between 1 and 200),
  status text not null default 'active' constraint tenant_status_known
    check (status in ('active', 'suspended')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint tenant_slug_key unique (slug)
);

-- The one door: sets the tenant for the current transaction only. A function rather than
-- set_config() because a Citus coordinator forwards SET LOCAL to its shards.
create function wizreg.enter_tenant(t uuid) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  if t is null then
    raise exception 'enter_tenant needs a tenant id' using errcode = '22004';
  end if;
  execute format('set local wizreg.current_tenant = %L', t);
end
$$;
revoke all on function wizreg.enter_tenant(uuid) from public;

create table wizreg.house (
  tenant_id uuid not null
    default nullif(current_setting('wizreg.current_tenant', true), '')::uuid
    references wizreg.tenant (id) on delete cascade,
  id uuid not null,
  name text not null constraint house_name_length check (char_length(name) between 1 and 200),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint house_pkey primary key (tenant_id, id),
  constraint house_name_key unique (tenant_id, name)
);

create table wizreg.student (
  tenant_id uuid not null
    default nullif(current_setting('wizreg.current_tenant', true), '')::uuid
    references wizreg.tenant (id) on delete cascade,
  id uuid not null,
  name text not null constraint student_name_length check (char_length(name) between 1 and 200),
  email text constraint student_email_length check (char_length(email) <= 254),
  house_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint student_pkey primary key (tenant_id, id),
  constraint student_email_key unique (tenant_id, email),
  constraint student_house_fkey foreign key (tenant_id, house_id)
    references wizreg.house (tenant_id, id) on delete set null (house_id)
);
create index student_house_idx on wizreg.student (tenant_id, house_id);

alter table wizreg.house enable row level security;
alter table wizreg.house force row level security;
create policy tenant_isolation on wizreg.house for all
  using (tenant_id = nullif(current_setting('wizreg.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('wizreg.current_tenant', true), '')::uuid);

alter table wizreg.student enable row level security;
alter table wizreg.student force row level security;
create policy tenant_isolation on wizreg.student for all
  using (tenant_id = nullif(current_setting('wizreg.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('wizreg.current_tenant', true), '')::uuid);

grant usage on schema wizreg to wizreg_app, wizreg_platform;
grant execute on function wizreg.enter_tenant(uuid) to wizreg_app, wizreg_platform;
grant select, insert, update, delete on wizreg.house, wizreg.student to wizreg_app;
-- The runtime role resolves slugs to ids; it never changes the tenant list.
grant select on wizreg.tenant to wizreg_app;
grant select, insert, update, delete on wizreg.tenant to wizreg_platform;
