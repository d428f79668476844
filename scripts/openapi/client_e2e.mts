// A school's journey through a TypeScript client: the types generated from the live
// /openapi.json by openapi-typescript, the calls made by openapi-fetch. Compiled with
// `tsc --strict` and run by scripts/openapi-check.sh:
//
//     node out/client_e2e.mjs <base url> <admin token>
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type ErrorCode = components["schemas"]["ErrorCode"];

const [baseUrl, adminToken] = process.argv.slice(2);
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`client_e2e.mts: ${what}`);
}

function ok<T>(result: { data?: T; error?: unknown; response: Response }, status: number, what: string): T {
  check(result.response.status === status && result.data !== undefined,
    `${what}: expected ${status}, got ${result.response.status} ${JSON.stringify(result.error)}`);
  return result.data;
}

function refused(result: { error?: { error: { code: ErrorCode } }; response: Response }, code: ErrorCode, what: string) {
  check(result.error?.error.code === code, `${what}: expected ${code}, got ${JSON.stringify(result.error)}`);
}

const admin = createClient<paths>({ baseUrl, headers: bearer(adminToken) });
const slug = `ts-${Math.random().toString(16).slice(2, 10)}`;

const school = ok(await admin.POST("/admin/tenants", { body: { slug, name: "Durmstrang" } }), 201, "create_tenant");
check(school.status === "active", "a new school is active");
const key = ok(await admin.POST("/admin/tenants/{tenant}/api-keys", { params: { path: { tenant: slug } } }), 201, "create_api_key");
const asSchool = createClient<paths>({ baseUrl, headers: bearer(key.key) });

const house = ok(await asSchool.POST("/houses", { body: { name: "North" } }), 201, "create_house");
for (const name of ["Viktor Krum", "Igor Karkaroff", "Poliakoff"]) {
  ok(await asSchool.POST("/students", { body: { name, house_id: house.id } }), 201, "create_student");
}
refused(await asSchool.POST("/students", { body: { name: "" } }), "validation_failed", "an empty name");

// Page by page, following X-Next-Cursor.
const names: string[] = [];
let after: string | undefined;
do {
  const page = await asSchool.GET("/students", { params: { query: { limit: 2, after } } });
  names.push(...ok(page, 200, "list_students").map((s) => s.name));
  after = page.response.headers.get("x-next-cursor") ?? undefined;
} while (after !== undefined);
check(names.join(",") === "Viktor Krum,Igor Karkaroff,Poliakoff", `pages: ${names}`);

const students = ok(await asSchool.GET("/students", {}), 200, "list_students");
const krum = students[0];
const patched = ok(await asSchool.PATCH("/students/{id}", { params: { path: { id: krum.id } }, body: { house_id: null } }), 200, "update_student");
check(patched.house_id === null && patched.name === "Viktor Krum", "a PATCH of one field");
ok(await asSchool.GET("/students/{id}", { params: { path: { id: krum.id } } }), 200, "get_student");
const gone = await asSchool.DELETE("/students/{id}", { params: { path: { id: krum.id } } });
check(gone.response.status === 204, "delete_student");
refused(await asSchool.GET("/students/{id}", { params: { path: { id: krum.id } } }), "not_found", "a deleted student");

// Export as text, import into a new school as NDJSON.
const exported = await admin.GET("/admin/tenants/{tenant}/export", { params: { path: { tenant: slug } }, parseAs: "text" });
const ndjson = ok(exported, 200, "export_tenant");
const copy = `${slug}-copy`;
ok(await admin.POST("/admin/tenants", { body: { slug: copy } }), 201, "create_tenant");
const counts = ok(await admin.POST("/admin/tenants/{tenant}/import", {
  params: { path: { tenant: copy } },
  body: ndjson,
  bodySerializer: (body: string) => body,
  headers: { "Content-Type": "application/x-ndjson" },
}), 200, "import_tenant");
check(counts.houses === 1 && counts.students === 2, `imported ${JSON.stringify(counts)}`);

for (const doomed of [slug, copy]) {
  const deleted = await admin.DELETE("/admin/tenants/{tenant}", { params: { path: { tenant: doomed } } });
  check(deleted.response.status === 204, `delete_tenant ${doomed}`);
}
console.log("openapi client (TypeScript): create_tenant, create_api_key, create_house, create_student, list_students (paged), update_student, get_student, delete_student, export_tenant, import_tenant, delete_tenant");
