-- Per-tenant statement timeouts and idempotency keys.

-- A school may get its own statement timeout (a bigger tier, or a tighter leash). NULL: the
-- deployment's default, set per connection (WIZREG_STATEMENT_TIMEOUT_MS).
alter table wizreg.tenant
  add column statement_timeout_ms integer
    constraint tenant_statement_timeout_range
    check (statement_timeout_ms between 1 and 600000);

-- enter_tenant now also applies the tenant's override, still as one statement the request
-- pipelines behind BEGIN, and still transaction-local (SET LOCAL): the next transaction on
-- the connection is back to the connection default. It reads only the calling tenant's row of
-- the tenant directory, which the runtime role may already read.
create or replace function wizreg.enter_tenant(t uuid) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  timeout_ms integer;
begin
  if t is null then
    raise exception 'enter_tenant needs a tenant id' using errcode = '22004';
  end if;
  execute format('set local wizreg.current_tenant = %L', t);
  select statement_timeout_ms into timeout_ms from wizreg.tenant where id = t;
  if timeout_ms is not null then
    execute format('set local statement_timeout = %s', timeout_ms);
  end if;
end
$$;
revoke all on function wizreg.enter_tenant(uuid) from public;
grant execute on function wizreg.enter_tenant(uuid) to wizreg_app, wizreg_platform;

-- Idempotency keys: a POST retried with the same key gets the first answer back. One row per
-- (school, key), written in the same transaction as the record it created, so both commit or
-- neither does. "In progress" is not a row state: it is a transaction-scoped advisory lock on
-- (school, key), which every other request sees at once and which ends with the transaction,
-- so a crash never leaves a key stuck in progress.
create table wizreg.idempotency_key (
  tenant_id uuid not null
    default nullif(current_setting('wizreg.current_tenant', true), '')::uuid
    references wizreg.tenant (id) on delete cascade,
  key text not null constraint idempotency_key_length check (char_length(key) between 1 and 255),
  -- SHA-256 of method, path and the canonical JSON body.
  fingerprint bytea not null,
  response_status smallint not null,
  response_body text not null,
  response_location text,
  created_at timestamptz not null default now(),
  constraint idempotency_key_pkey primary key (tenant_id, key)
);
-- Lazy expiry deletes a school's old keys by age.
create index idempotency_key_age_idx on wizreg.idempotency_key (tenant_id, created_at);

alter table wizreg.idempotency_key enable row level security;
alter table wizreg.idempotency_key force row level security;
create policy tenant_isolation on wizreg.idempotency_key for all
  using (tenant_id = nullif(current_setting('wizreg.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('wizreg.current_tenant', true), '')::uuid);

grant select, insert, update, delete on wizreg.idempotency_key to wizreg_app;
