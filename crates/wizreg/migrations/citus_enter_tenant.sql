-- On Citus (run by the distribution step, not a numbered migration): enter_tenant must be the
-- plpgsql SET LOCAL form, which the coordinator forwards to the workers inside an explicit
-- transaction (with citus.propagate_set_commands = 'local'); set_config() never reaches them.
-- Also applies the school's own statement timeout, as migration 0004 does.
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
