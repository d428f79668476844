-- Tenant lifecycle: cross-process cache invalidation and resumable offboarding.
--
-- Every change to the tenant directory (create, rename, suspend, resume, delete) notifies
-- channel 'wizreg_tenant' with the tenant's id, so every `wizreg serve` sharing this database
-- drops its cached tenant records at once instead of waiting for the cache TTL. NOTIFY is
-- delivered on commit only, so a rolled-back change notifies nobody. The payload is the id alone
-- (no school data travels on the channel).

create function wizreg.notify_tenant_change() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  perform pg_notify('wizreg_tenant', coalesce(new.id, old.id)::text);
  return null;
end
$$;
revoke all on function wizreg.notify_tenant_change() from public;

create trigger tenant_changed
  after insert or update or delete on wizreg.tenant
  for each row execute function wizreg.notify_tenant_change();

-- Set when offboarding starts (the tenant is suspended in the same statement). A tenant with
-- this mark is half-deleted: it serves nothing, cannot be resumed or imported into, and
-- deleting it again carries on where the last attempt stopped.
alter table wizreg.tenant add column offboarding_since timestamptz;
