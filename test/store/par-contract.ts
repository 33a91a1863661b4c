/**
 * The contract of pushed authorization requests (RFC 9126) in the store
 * (PushedAuthorizationRequestStore in core/store/token-types.ts, and the
 * projects' and clients' `requirePushedAuthorizationRequests`), as tests
 * that any backend must pass: `parContract(backend)` registers them, titled
 * `${name}: ...`, beside the store contract (contract.ts). The expected
 * values are those of the SQLite store, the reference backend. Not a test
 * file itself.
 */
import { AlreadyExists, NotFound, type ProjectRef, type PushedAuthorizationRequestRecord, type Store } from "../../core/store/types.js";
import { clientRecord, contractTests, type StoreBackend } from "./contract.js";

const A: ProjectRef = { organization: "org-a", project: "proj-a" };
/** A project of another organization, with the same project id and client ids. */
const B: ProjectRef = { organization: "org-b", project: "proj-a" };

/** The project (and its organization), with these clients (web and spa unless said): the contracts beside this one seed their projects so too. */
export async function seedProject(store: Store, ref: ProjectRef, clients: readonly string[] = ["web", "spa"]): Promise<void> {
  if ((await store.getOrganization(ref.organization)) === undefined) {
    await store.createOrganization({ id: ref.organization, name: `Organization ${ref.organization}`, createdAt: 1 });
  }
  await store.createProject({
    ...ref,
    name: `Project ${ref.project}`,
    audience: `https://api.example/${ref.organization}/${ref.project}`,
    accessTokenSigningAlg: "ES256",
    requirePushedAuthorizationRequests: false,
    clientRegistration: "",
    createdAt: 2,
  });
  for (const id of clients) await store.createClient(clientRecord(ref, id));
}

export const pushedRecord = (ref: ProjectRef, uriHash: string, over: Partial<PushedAuthorizationRequestRecord> = {}): PushedAuthorizationRequestRecord => ({
  ...ref,
  uriHash,
  clientId: "web",
  parameters: {
    response_type: "code",
    client_id: "web",
    redirect_uri: "https://app.example/cb",
    scope: "openid docs.files.read",
    state: "st",
    code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    code_challenge_method: "S256",
  },
  createdAt: 1_000,
  expiresAt: 1_060,
  ...over,
});

export function parContract(backend: StoreBackend): void {
  const it = contractTests(backend, async (store) => {
    await seedProject(store, A);
    await seedProject(store, B);
  });

  it("a pushed request is answered once, with its parameters as pushed; a duplicate hash is AlreadyExists", async (t, store) => {
    const pushed = pushedRecord(A, "uri-1");
    await store.createPushedAuthorizationRequest(pushed);
    await t.throwsAsync(store.createPushedAuthorizationRequest(pushedRecord(A, "uri-1", { clientId: "spa" })), { instanceOf: AlreadyExists });
    t.deepEqual(await store.takePushedAuthorizationRequest(A, "uri-1"), pushed);
    t.is(await store.takePushedAuthorizationRequest(A, "uri-1"), undefined, "taken once");
    t.is(await store.takePushedAuthorizationRequest(A, "uri-unknown"), undefined);
  });

  it("a pushed request is taken in its own project only: asked from another, it is not found and stays", async (t, store) => {
    const pushed = pushedRecord(A, "uri-1");
    await store.createPushedAuthorizationRequest(pushed);
    t.is(await store.takePushedAuthorizationRequest(B, "uri-1"), undefined);
    t.is(await store.takePushedAuthorizationRequest({ ...A, project: "proj-other" }, "uri-1"), undefined);
    t.deepEqual(await store.takePushedAuthorizationRequest(A, "uri-1"), pushed);
  });

  it("an expired pushed request is still answered (and spent): its expiry is the caller's to judge", async (t, store) => {
    const expired = pushedRecord(A, "uri-old", { createdAt: 1, expiresAt: 2 });
    await store.createPushedAuthorizationRequest(expired);
    t.deepEqual(await store.takePushedAuthorizationRequest(A, "uri-old"), expired);
    t.is(await store.takePushedAuthorizationRequest(A, "uri-old"), undefined);
  });

  it("parameters round-trip exactly, U+0000, U+FFFF, quotes and non-ASCII included", async (t, store) => {
    const parameters = {
      state: "a\u0000b\uFFFFc\uFFFF0d",
      nonce: 'quote " backslash \\ newline \n',
      login_hint: "zoë@exämple.test 🔑",
      claims: JSON.stringify({ id_token: { acr: { essential: true, values: ["urn:iam-core:acr:mfa"] } } }),
      scope: "x".repeat(2048),
    };
    const pushed = pushedRecord(A, "uri-odd", { parameters });
    await store.createPushedAuthorizationRequest(pushed);
    t.deepEqual((await store.takePushedAuthorizationRequest(A, "uri-odd"))?.parameters, parameters);
  });

  it("10 concurrent takes of one request_uri: exactly one has it", async (t, store) => {
    const pushed = pushedRecord(A, "uri-race");
    await store.createPushedAuthorizationRequest(pushed);
    const taken = await Promise.all(Array.from({ length: 10 }, () => store.transaction((tx) => tx.takePushedAuthorizationRequest(A, "uri-race"))));
    t.deepEqual(
      taken.filter((p) => p !== undefined),
      [pushed],
    );
  });

  it("a pushed request goes with its client, its project and its organization; none is kept for a client that does not exist", async (t, store) => {
    await store.createPushedAuthorizationRequest(pushedRecord(A, "uri-web"));
    await store.createPushedAuthorizationRequest(pushedRecord(A, "uri-spa", { clientId: "spa" }));
    await store.createPushedAuthorizationRequest(pushedRecord(B, "uri-b"));
    t.true(await store.deleteClient(A, "web"));
    t.is(await store.takePushedAuthorizationRequest(A, "uri-web"), undefined);
    t.truthy(await store.takePushedAuthorizationRequest(A, "uri-spa"));

    await store.createPushedAuthorizationRequest(pushedRecord(A, "uri-spa-2", { clientId: "spa" }));
    t.true(await store.deleteProject(A));
    t.is(await store.takePushedAuthorizationRequest(A, "uri-spa-2"), undefined);
    t.true(await store.deleteOrganization(B.organization));
    t.is(await store.takePushedAuthorizationRequest(B, "uri-b"), undefined);

    await seedProject(store, A);
    await t.throwsAsync(store.createPushedAuthorizationRequest(pushedRecord(A, "uri-nobody", { clientId: "nobody" })), { instanceOf: NotFound });
    t.is(await store.takePushedAuthorizationRequest(A, "uri-nobody"), undefined);
  });

  it("purgeExpired deletes the pushed requests past their expiry and counts them", async (t, store) => {
    const now = 10_000;
    const pushed = {
      old: pushedRecord(A, "uri-old", { expiresAt: now - 1 }),
      edge: pushedRecord(A, "uri-edge", { expiresAt: now }),
      live: pushedRecord(B, "uri-live", { expiresAt: now + 60 }),
    };
    for (const p of Object.values(pushed)) await store.createPushedAuthorizationRequest(p);
    t.like(await store.purgeExpired(now), { pushed_authorization_requests: 1 });
    t.like(await store.purgeExpired(now), { pushed_authorization_requests: 0 });
    t.is(await store.takePushedAuthorizationRequest(A, "uri-old"), undefined);
    t.deepEqual(await store.takePushedAuthorizationRequest(A, "uri-edge"), pushed.edge);
    t.like(await store.purgeExpired(now + 61), { pushed_authorization_requests: 1 });
    t.is(await store.takePushedAuthorizationRequest(B, "uri-live"), undefined);
  });

  it("a project's and a client's require_pushed_authorization_requests round-trip, and updates change it only when given", async (t, store) => {
    const C: ProjectRef = { organization: "org-a", project: "proj-par" };
    await store.createProject({ ...C, name: "PAR only", audience: "https://api.example/par", accessTokenSigningAlg: "ES256", requirePushedAuthorizationRequests: true, clientRegistration: "", createdAt: 3 });
    t.is((await store.getProject(C))?.requirePushedAuthorizationRequests, true);
    t.is((await store.listProjects("org-a", { after: "", limit: 10 })).find((p) => p.project === "proj-par")?.requirePushedAuthorizationRequests, true);
    t.true(await store.updateProject(C, { name: "Renamed", audience: "https://api.example/par" }));
    t.like(await store.getProject(C), { name: "Renamed", requirePushedAuthorizationRequests: true });
    t.true(await store.updateProject(C, { name: "Renamed", audience: "https://api.example/par", requirePushedAuthorizationRequests: false }));
    t.is((await store.getProject(C))?.requirePushedAuthorizationRequests, false);
    t.is((await store.getProject(A))?.requirePushedAuthorizationRequests, false);

    const client = clientRecord(A, "pushes", { requirePushedAuthorizationRequests: true });
    await store.createClient(client);
    t.deepEqual(await store.getClient(A, "pushes"), client);
    t.true(await store.updateClient({ ...client, requirePushedAuthorizationRequests: false }));
    t.is((await store.getClient(A, "pushes"))?.requirePushedAuthorizationRequests, false);
    t.is((await store.getClient(A, "web"))?.requirePushedAuthorizationRequests, false);
  });
}
