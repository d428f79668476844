-- Roles and schema: run by the admin connection before the versioned migrations, every time
-- (idempotent). Roles are cluster-wide, so they are created only when missing.
do $$
begin
  if not exists (select from pg_roles where rolname = 'wizreg_owner') then
    create role wizreg_owner nologin;
  end if;
  -- The runtime role: the only role the API serves requests as.
  if not exists (select from pg_roles where rolname = 'wizreg_app') then
    create role wizreg_app login nosuperuser nobypassrls nocreatedb nocreaterole;
  end if;
  -- The platform role: tenant lifecycle (create, suspend, delete), never school data.
  if not exists (select from pg_roles where rolname = 'wizreg_platform') then
    create role wizreg_platform login nosuperuser nobypassrls nocreatedb nocreaterole;
  end if;
  -- A non-superuser administrator must be able to act as the owner to run migrations.
  if not (select rolsuper from pg_roles where rolname = current_user)
     and not pg_has_role(current_user, 'wizreg_owner', 'member') then
    execute format('grant wizreg_owner to %I', current_user);
  end if;
  -- Temporary tables would let a session keep state past its transaction.
  execute format('revoke temporary on database %I from public', current_database());
end
$$;

create schema if not exists wizreg authorization wizreg_owner;
revoke create on schema public from public;

create table if not exists wizreg.schema_migrations (
  version integer primary key,
  name text not null,
  applied_at timestamptz not null default now()
);
alter table wizreg.schema_migrations owner to wizreg_owner;
