/**
 * AdminService: a project's and a client's require_pushed_authorization_requests
 * (RFC 9126 §5, §6), set at creation and by update, answered by Get and
 * List, and acted on at once by the authorization endpoint and discovery.
 */
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import test, { type ExecutionContext } from "ava";
import { ClientType } from "../../gen/iam/v1/admin_pb.js";
import { ACME, createApp, createTenant, expectCode, expectOAuth, REDIRECT, startAdmin, type AdminTest, type App } from "./rpc-support.js";

const mask = (...paths: string[]) => create(FieldMaskSchema, { paths });

/** The app's plain authorization request, as it would come in a URL. */
const plainRequest = (app: App) => ({ ...app.ref, responseType: "code", clientId: app.id, redirectUri: app.redirectUri, state: "st" });

/** The same request, pushed by the app. */
const push = (c: AdminTest, app: App) =>
  c.authorization.pushAuthorizationRequest({
    ...app.ref,
    client: { clientId: "", clientSecret: "", basic: { clientId: app.id, clientSecret: app.secret } },
    authorization: { responseType: "code", clientId: app.id, redirectUri: app.redirectUri, state: "st" },
  });

async function redirectedRefusal(t: ExecutionContext, promise: Promise<unknown>): Promise<void> {
  const err = await expectCode(t, promise, Code.InvalidArgument);
  t.is(err?.metadata.get("oauth-error"), "invalid_request");
  const redirect = new URL(err?.metadata.get("oauth-redirect") ?? "about:blank");
  t.is(`${redirect.origin}${redirect.pathname}`, REDIRECT);
  t.is(redirect.searchParams.get("state"), "st");
}

test("a client's require_pushed_authorization_requests: false by default, set at creation, changed only with its mask path, answered by Get and List", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  const plain = await c.admin.createClient({ ...ACME, clientId: "plain", type: ClientType.PUBLIC, redirectUris: [REDIRECT] }, c.auth);
  t.false(plain.client!.requirePushedAuthorizationRequests);
  const strict = await c.admin.createClient(
    { ...ACME, clientId: "strict", type: ClientType.CONFIDENTIAL, redirectUris: [REDIRECT], requirePushedAuthorizationRequests: true },
    c.auth,
  );
  t.true(strict.client!.requirePushedAuthorizationRequests);
  t.true((await c.admin.getClient({ ...ACME, clientId: "strict" }, c.auth)).client!.requirePushedAuthorizationRequests);
  const listed = (await c.admin.listClients({ ...ACME }, c.auth)).clients
    .filter((x) => x.id === "plain" || x.id === "strict")
    .map((x) => [x.id, x.requirePushedAuthorizationRequests]);
  t.deepEqual(listed, [["plain", false], ["strict", true]]);

  // A value outside the mask changes nothing.
  const renamed = await c.admin.updateClient({ ...ACME, clientId: "strict", name: "Strict", requirePushedAuthorizationRequests: false, updateMask: mask("name") }, c.auth);
  t.true(renamed.client!.requirePushedAuthorizationRequests);
  const off = await c.admin.updateClient({ ...ACME, clientId: "strict", updateMask: mask("require_pushed_authorization_requests") }, c.auth);
  t.false(off.client!.requirePushedAuthorizationRequests);
  const on = await c.admin.updateClient(
    { ...ACME, clientId: "plain", requirePushedAuthorizationRequests: true, updateMask: mask("require_pushed_authorization_requests") },
    c.auth,
  );
  t.true(on.client!.requirePushedAuthorizationRequests);
  await expectCode(t, c.admin.updateClient({ ...ACME, clientId: "plain", updateMask: mask("require_par") }, c.auth), Code.InvalidArgument);
});

test("UpdateClient requiring pushed requests takes effect at once: Authorize refuses the plain request with invalid_request, redirected; a pushed one is served", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  const app = await createApp(c);
  t.truthy((await c.authorization.authorize(plainRequest(app))).requestId);
  await c.admin.updateClient({ ...ACME, clientId: app.id, requirePushedAuthorizationRequests: true, updateMask: mask("require_pushed_authorization_requests") }, c.auth);
  await redirectedRefusal(t, c.authorization.authorize(plainRequest(app)));
  const { requestUri } = await push(c, app);
  t.truthy((await c.authorization.authorize({ ...app.ref, clientId: app.id, requestUri })).requestId);
  const meta = await c.tokens.getServerMetadata(ACME);
  t.false(meta.requirePushedAuthorizationRequests, "a client's rule is not the project's");
});

test("a project's require_pushed_authorization_requests: set at creation or by UpdateProject, in discovery, binding every client; NotFound and bad masks refused", async (t) => {
  const c = await startAdmin(t);
  await c.admin.createOrganization({ id: ACME.organization }, c.auth);
  const created = await c.admin.createProject({ organization: ACME.organization, id: ACME.project, requirePushedAuthorizationRequests: true }, c.auth);
  t.true(created.project!.requirePushedAuthorizationRequests);
  t.true((await c.admin.getProject(ACME, c.auth)).project!.requirePushedAuthorizationRequests);
  const meta = await c.tokens.getServerMetadata(ACME);
  t.true(meta.requirePushedAuthorizationRequests);
  t.is(meta.pushedAuthorizationRequestEndpoint, `${meta.issuer}/par`);
  const app = await createApp(c);
  await redirectedRefusal(t, c.authorization.authorize(plainRequest(app)));
  t.truthy((await c.authorization.authorize({ ...app.ref, clientId: app.id, requestUri: (await push(c, app)).requestUri })).requestId);

  const renamed = await c.admin.updateProject({ ...ACME, name: "Shop", updateMask: mask("name") }, c.auth);
  t.true(renamed.project!.requirePushedAuthorizationRequests, "outside the mask: unchanged");
  const off = await c.admin.updateProject({ ...ACME, requirePushedAuthorizationRequests: false, updateMask: mask("require_pushed_authorization_requests") }, c.auth);
  t.false(off.project!.requirePushedAuthorizationRequests);
  t.false((await c.tokens.getServerMetadata(ACME)).requirePushedAuthorizationRequests);
  t.truthy((await c.authorization.authorize(plainRequest(app))).requestId);
  await expectCode(
    t,
    c.admin.updateProject({ organization: "acme", project: "nope", requirePushedAuthorizationRequests: true, updateMask: mask("require_pushed_authorization_requests") }, c.auth),
    Code.NotFound,
  );
  await expectOAuth(t, c.authorization.pushAuthorizationRequest({ ...ACME, client: { clientId: app.id, clientSecret: "wrong" } }), "invalid_client", Code.Unauthenticated);
});
