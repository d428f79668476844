-- A cheaper enter_tenant on plain PostgreSQL: what the API pipelines behind every BEGIN.
--
-- Measured with callgrind on the backend (instructions per pipelined read transaction: BEGIN,
-- enter_tenant, a primary-key select, COMMIT): the bare set_config(…, true) statement 189k,
-- 0004's plpgsql form 283k (its EXECUTE format('set local …') is parsed on every call, and the
-- tenant row is read for the school's statement timeout), a SQL-language function with two
-- statements 483k (a SQL function that is not inlined is parsed and planned on every call).
--
-- So enter_tenant is now a SQL function the planner inlines into the caller's prepared
-- statement: one expression, planned once per connection, costing what set_config costs. The
-- school's own statement timeout is still applied here, transaction-local, but its lookup (an
-- executor run of its own, ~40 % of the transaction above) happens only once any school has
-- ever had one: a sequence records that, set by a trigger before such a change commits.
--
-- Citus replaces this function with the plpgsql SET LOCAL form (set_config does not reach the
-- workers); nothing else here depends on which form is installed.

-- NULL until some school gets a statement timeout of its own; never reset (a deployment that
-- used overrides once keeps paying the lookup, as every deployment did before).
create sequence wizreg.statement_timeout_override_seen;
revoke all on sequence wizreg.statement_timeout_override_seen from public;
grant select on sequence wizreg.statement_timeout_override_seen to wizreg_app, wizreg_platform;
grant update on sequence wizreg.statement_timeout_override_seen to wizreg_platform;

create function wizreg.note_statement_timeout_override() returns trigger
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  -- setval is not transactional: the mark is there before the override can be seen.
  perform setval('wizreg.statement_timeout_override_seen', 1);
  return null;
end
$$;
revoke all on function wizreg.note_statement_timeout_override() from public;

create trigger tenant_statement_timeout_override
  after insert or update of statement_timeout_ms on wizreg.tenant
  for each row when (new.statement_timeout_ms is not null)
  execute function wizreg.note_statement_timeout_override();

select setval('wizreg.statement_timeout_override_seen', 1)
where exists (select from wizreg.tenant where statement_timeout_ms is not null);

-- Raised for a NULL tenant id: entering no school fails closed, as before.
create function wizreg.refuse_missing_tenant() returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  raise exception 'enter_tenant needs a tenant id' using errcode = '22004';
end
$$;

-- The school's statement timeout, if it has one, for this transaction only.
create function wizreg.apply_statement_timeout(t uuid) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  timeout_ms integer;
begin
  select statement_timeout_ms into timeout_ms from wizreg.tenant where id = t;
  if timeout_ms is not null then
    perform set_config('statement_timeout', timeout_ms::text, true);
  end if;
end
$$;

-- Inlinable: one SELECT of one void expression, no SET clause, not SECURITY DEFINER, every
-- name schema-qualified. CASE evaluates its branches in order, so the tenant is set before
-- the timeout, and nothing is set for a NULL id.
create or replace function wizreg.enter_tenant(t uuid) returns void
language sql volatile
as $$
  select case
    when t is null then wizreg.refuse_missing_tenant()
    when pg_catalog.set_config('wizreg.current_tenant', t::text, true) is null then null
    when pg_catalog.pg_sequence_last_value('wizreg.statement_timeout_override_seen') is not null
      then wizreg.apply_statement_timeout(t)
  end
$$;

revoke all on function wizreg.refuse_missing_tenant() from public;
revoke all on function wizreg.apply_statement_timeout(uuid) from public;
grant execute on function wizreg.refuse_missing_tenant(), wizreg.apply_statement_timeout(uuid)
  to wizreg_app, wizreg_platform;
