"""The walk-through and the admin lifecycle through a client generated from the live
/openapi.json by openapi-python-client, using only the generated code (no hand-written HTTP).

    python client_e2e.py <base url> <admin token>

Run by scripts/openapi-check.sh against a server with WIZREG_AUTH=api-key. Prints the
operations it called; exits non-zero on the first answer that is not the documented one.
"""

import sys
import uuid
from http import HTTPStatus

from wizreg_client import AuthenticatedClient, Client
from wizreg_client.api.api_keys import create_api_key, list_api_keys, revoke_api_key
from wizreg_client.api.houses import create_house, delete_house, get_house, list_houses, update_house
from wizreg_client.api.operations import get_metrics, get_openapi, healthz, readyz
from wizreg_client.api.portability import export_tenant, import_tenant
from wizreg_client.api.students import (
    create_student, delete_student, get_student, list_students, update_student,
)
from wizreg_client.api.tenants import (
    create_tenant, delete_tenant, get_tenant, list_tenants, update_tenant,
)
from wizreg_client.models import (
    ErrorBody, ErrorCode, HousePatch, NewHouse, NewStudent, NewTenant, StudentPatch, TenantPatch,
    TenantStatus,
)
from wizreg_client.types import UNSET, File

called = set()


def call(operation, expected, **kwargs):
    """Calls one generated operation and checks its status; returns the generated Response."""
    response = operation.sync_detailed(**kwargs)
    called.add(operation.__name__.rsplit(".", 1)[-1])
    if response.status_code != expected:
        sys.exit(f"{operation.__name__}: expected {expected}, got {response.status_code}: {response.content!r}")
    return response


def refused(operation, status, code, **kwargs):
    """Calls an operation that must be refused with `status` and error `code`."""
    response = call(operation, status, **kwargs)
    assert isinstance(response.parsed, ErrorBody), response.parsed
    assert response.parsed.error.code == code, response.parsed.error
    return response


def all_students(client, limit):
    """Every student, page by page, following X-Next-Cursor."""
    names, after, pages = [], UNSET, 0
    while True:
        page = call(list_students, HTTPStatus.OK, client=client, limit=limit, after=after)
        names += [s.name for s in page.parsed]
        pages += 1
        cursor = page.headers.get("x-next-cursor")
        if cursor is None:
            return names, pages
        assert 'rel="next"' in page.headers["link"], page.headers
        after = uuid.UUID(cursor)


def main(base_url, admin_token):
    admin = AuthenticatedClient(base_url=base_url, token=admin_token)
    anonymous = Client(base_url=base_url)
    call(healthz, HTTPStatus.OK, client=anonymous)
    call(readyz, HTTPStatus.OK, client=anonymous)
    assert call(get_openapi, HTTPStatus.OK, client=anonymous).parsed is not None
    call(get_metrics, HTTPStatus.OK, client=admin)  # on the main listener, behind the admin token

    # The admin lifecycle: a school, a key for it.
    slug = f"e2e-{uuid.uuid4().hex[:8]}"
    school = call(create_tenant, HTTPStatus.CREATED, client=admin,
                  body=NewTenant(slug=slug, name="Beauxbatons")).parsed
    assert school.slug == slug and school.status == TenantStatus.ACTIVE
    assert call(get_tenant, HTTPStatus.OK, client=admin, tenant=slug).parsed.id == school.id
    assert slug in [t.slug for t in call(list_tenants, HTTPStatus.OK, client=admin).parsed]
    refused(create_tenant, HTTPStatus.CONFLICT, ErrorCode.CONFLICT, client=admin, body=NewTenant(slug=slug))
    refused(list_tenants, HTTPStatus.UNAUTHORIZED, ErrorCode.UNAUTHORIZED,
            client=AuthenticatedClient(base_url=base_url, token="wrong"))
    issued = call(create_api_key, HTTPStatus.CREATED, client=admin, tenant=slug).parsed
    assert issued.key.startswith("wzk_")
    keys = call(list_api_keys, HTTPStatus.OK, client=admin, tenant=str(school.id)).parsed
    assert [k.id for k in keys] == [issued.id]
    as_school = AuthenticatedClient(base_url=base_url, token=issued.key)

    # Without the credential: 401 with WWW-Authenticate; another school named: 403.
    unauthorized = refused(list_students, HTTPStatus.UNAUTHORIZED, ErrorCode.UNAUTHORIZED,
                           client=anonymous, x_tenant=slug)
    assert unauthorized.headers["www-authenticate"] == "Bearer", unauthorized.headers
    refused(list_students, HTTPStatus.FORBIDDEN, ErrorCode.TENANT_MISMATCH,
            client=as_school, x_tenant="hogwarts")

    # Houses and students CRUD, as the school.
    house = call(create_house, HTTPStatus.CREATED, client=as_school, body=NewHouse(name="Papillon")).parsed
    assert call(get_house, HTTPStatus.OK, client=as_school, id=house.id).parsed.name == "Papillon"
    renamed = call(update_house, HTTPStatus.OK, client=as_school, id=house.id, body=HousePatch(name="Azur"))
    assert renamed.parsed.name == "Azur"
    assert [h.id for h in call(list_houses, HTTPStatus.OK, client=as_school).parsed] == [house.id]
    spare = call(create_house, HTTPStatus.CREATED, client=as_school, body=NewHouse(name="Spare")).parsed
    call(delete_house, HTTPStatus.NO_CONTENT, client=as_school, id=spare.id)

    first = call(create_student, HTTPStatus.CREATED, client=as_school, idempotency_key="first-student",
                 body=NewStudent(name="Fleur Delacour", email="Fleur@Beauxbatons.example", house_id=house.id))
    assert first.headers["location"] == f"/students/{first.parsed.id}"
    assert first.headers["x-request-id"], first.headers
    assert first.parsed.email == "fleur@beauxbatons.example"
    replay = call(create_student, HTTPStatus.CREATED, client=as_school, idempotency_key="first-student",
                  body=NewStudent(name="Fleur Delacour", email="Fleur@Beauxbatons.example", house_id=house.id))
    assert replay.headers["idempotent-replayed"] == "true" and replay.parsed.id == first.parsed.id
    for name in ["Gabrielle Delacour", "Olympe Maxime", "Jean Dupont", "Luc Martin"]:
        call(create_student, HTTPStatus.CREATED, client=as_school, body=NewStudent(name=name))
    invalid = refused(create_student, HTTPStatus.UNPROCESSABLE_ENTITY, ErrorCode.VALIDATION_FAILED,
                      client=as_school, body=NewStudent(name="Ana", email="not-an-email"))
    assert "email" in invalid.parsed.error.fields.additional_properties, invalid.parsed.error

    names, pages = all_students(as_school, limit=2)
    assert names == ["Fleur Delacour", "Gabrielle Delacour", "Olympe Maxime", "Jean Dupont", "Luc Martin"], names
    assert pages == 3, pages
    dupont = call(list_students, HTTPStatus.OK, client=as_school, name="dupont").parsed
    assert [s.name for s in dupont] == ["Jean Dupont"]

    # PATCH with one field only; null clears.
    student = first.parsed
    moved = call(update_student, HTTPStatus.OK, client=as_school, id=student.id,
                 body=StudentPatch(email=None)).parsed
    assert moved.email is None and moved.house_id == house.id and moved.name == "Fleur Delacour"
    call(get_student, HTTPStatus.OK, client=as_school, id=student.id)
    call(delete_student, HTTPStatus.NO_CONTENT, client=as_school, id=dupont[0].id)
    refused(get_student, HTTPStatus.NOT_FOUND, ErrorCode.NOT_FOUND, client=as_school, id=dupont[0].id)

    # The walk-through's isolation: the demo school sees none of these students.
    hogwarts_key = call(create_api_key, HTTPStatus.CREATED, client=admin, tenant="hogwarts").parsed.key
    hogwarts = AuthenticatedClient(base_url=base_url, token=hogwarts_key)
    call(create_student, HTTPStatus.CREATED, client=hogwarts, body=NewStudent(name="Harry Potter"))
    hogwarts_names = [s.name for s in call(list_students, HTTPStatus.OK, client=hogwarts).parsed]
    assert "Harry Potter" in hogwarts_names and "Fleur Delacour" not in hogwarts_names
    refused(get_student, HTTPStatus.NOT_FOUND, ErrorCode.NOT_FOUND, client=hogwarts, id=student.id)

    # Suspend and resume.
    call(update_tenant, HTTPStatus.OK, client=admin, tenant=slug, body=TenantPatch(status=TenantStatus.SUSPENDED))
    refused(list_students, HTTPStatus.FORBIDDEN, ErrorCode.TENANT_SUSPENDED, client=as_school)
    call(update_tenant, HTTPStatus.OK, client=admin, tenant=slug, body=TenantPatch(status=TenantStatus.ACTIVE))

    # Export, then import into a new empty school: the same students come back.
    export = call(export_tenant, HTTPStatus.OK, client=admin, tenant=slug)
    ndjson = export.parsed.payload.read()
    assert export.headers["content-disposition"] == f'attachment; filename="{slug}.ndjson"'
    assert ndjson.count(b"\n") == 1 + 1 + 4 + 1, ndjson  # tenant, house, students, end
    copy_slug = f"{slug}-copy"
    call(create_tenant, HTTPStatus.CREATED, client=admin, body=NewTenant(slug=copy_slug))
    counts = call(import_tenant, HTTPStatus.OK, client=admin, tenant=copy_slug,
                  body=File(payload=ndjson, file_name="school.ndjson")).parsed
    assert (counts.houses, counts.students) == (1, 4), counts
    refused(import_tenant, HTTPStatus.CONFLICT, ErrorCode.CONFLICT, client=admin, tenant=copy_slug,
            body=File(payload=ndjson))
    copy_key = call(create_api_key, HTTPStatus.CREATED, client=admin, tenant=copy_slug).parsed.key
    copy_names, _ = all_students(AuthenticatedClient(base_url=base_url, token=copy_key), limit=1000)
    assert copy_names == [n for n in names if n != "Jean Dupont"], copy_names

    # Revoke the key, delete the schools.
    call(revoke_api_key, HTTPStatus.NO_CONTENT, client=admin, tenant=slug, key_id=issued.id)
    refused(list_students, HTTPStatus.UNAUTHORIZED, ErrorCode.UNAUTHORIZED, client=as_school)
    for doomed in [slug, copy_slug]:
        call(delete_tenant, HTTPStatus.NO_CONTENT, client=admin, tenant=doomed)
        refused(get_tenant, HTTPStatus.NOT_FOUND, ErrorCode.UNKNOWN_TENANT, client=admin, tenant=doomed)

    print(f"openapi client: {len(called)} operations called through the generated client: "
          + ", ".join(sorted(called)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
