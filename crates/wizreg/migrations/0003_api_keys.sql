-- API keys: an ordinary tenant table. A key names its tenant and its id in the clear and proves
-- itself with a 256-bit secret, so verification runs inside that tenant's own transaction:
-- no cross-tenant read and no SECURITY DEFINER function is needed.
--
-- Only an HMAC-SHA256 of the whole key (keyed with the server's WIZREG_KEY_SECRET) is kept;
-- the secret itself is shown once, when the key is created.

create table wizreg.api_key (
  tenant_id uuid not null
    default nullif(current_setting('wizreg.current_tenant', true), '')::uuid
    references wizreg.tenant (id) on delete cascade,
  id uuid not null,
  hash bytea not null constraint api_key_hash_length check (octet_length(hash) = 32),
  -- The last characters of the key, so people can tell their keys apart.
  last_chars text not null constraint api_key_last_chars_length check (char_length(last_chars) = 4),
  created_at timestamptz not null default now(),
  revoked_at timestamptz,
  constraint api_key_pkey primary key (tenant_id, id)
);

alter table wizreg.api_key enable row level security;
alter table wizreg.api_key force row level security;
create policy tenant_isolation on wizreg.api_key for all
  using (tenant_id = nullif(current_setting('wizreg.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('wizreg.current_tenant', true), '')::uuid);

-- Revocation is an update; delete is for offboarding a tenant.
grant select, insert, update, delete on wizreg.api_key to wizreg_app;
