-- A slug is never shaped like a UUID. `X-Tenant` and `/admin/tenants/{id-or-slug}` read a
-- hyphenated UUID as an id, while a Host subdomain is always a slug: such a slug would name one
-- school there and another school here, and an operator acting "by slug" could suspend, export
-- or delete the wrong one.
--
-- A school that already has such a slug keeps its id, name and data; its slug becomes
-- `t-<old slug>` (still a DNS label, no longer UUID-shaped), with a warning naming both. The
-- rename notifies every server like any tenant change.
do $$
declare
  renamed record;
begin
  for renamed in
    select id, slug from wizreg.tenant
    where slug ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    order by id
  loop
    update wizreg.tenant set slug = 't-' || renamed.slug where id = renamed.id;
    raise warning 'tenant % had a slug shaped like a UUID (%); its slug is now t-%',
      renamed.id, renamed.slug, renamed.slug;
  end loop;
end
$$;

alter table wizreg.tenant
  add constraint tenant_slug_not_uuid
    check (slug !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$');
