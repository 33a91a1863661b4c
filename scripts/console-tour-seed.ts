/**
 * The small tenant the console's tour shows (scripts/console-tour.ts): two
 * organizations, a web shop project with its clients, roles and people, a
 * rotated signing key, and a customer who signed in, each made through the
 * AdminService and the sign-in endpoints as an operator and a person would,
 * at fixed times of the tour's clock so that every picture is the same on
 * every run.
 */
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { AdminService, ClientType } from "../gen/iam/v1/admin_pb.js";
import { TokenService } from "../gen/iam/v1/token_pb.js";
import type { Clock } from "../core/lib/clock.js";

/** The tour's time: still, unless the tour moves it, so that every time shown is the same on every run. */
export class TourClock implements Clock {
  ms: number;
  constructor(iso: string) {
    this.ms = Date.parse(iso);
  }
  now(): number {
    return this.ms;
  }
  set(iso: string): void {
    this.ms = Date.parse(iso);
  }
}

export const SHOP = { organization: "acme", project: "shop" } as const;

/** People of the web shop: [id, name, email, roles, enabled]. */
const PEOPLE: [string, string, string, string[], boolean][] = [
  ["alice", "Alice Martin", "alice@acme.example", ["staff"], true],
  ["bob", "Bob Chen", "bob@example.net", ["customer"], true],
  ["carol", "Carol Diaz", "carol@example.org", ["customer"], false],
  ["dave", "Dave Evans", "dave@example.com", ["customer"], true],
  ["erin", "Erin Fischer", "erin@acme.example", ["staff"], true],
  ["pat", "Pat Kim", "pat@acme.example", ["project-admin"], true],
];

/** A password of the tour's people: the database is thrown away with the tour. */
export const passwordOf = (user: string): string => `${user}-tour-password`;

/** The default tenant's global administrator, through the in-process transport: every call carries admin-client's token. */
async function adminClient(transport: Transport, adminClientSecret: string): Promise<Client<typeof AdminService>> {
  const tokens = createClient(TokenService, transport);
  const { accessToken } = await tokens.token({
    organization: "iam-admins",
    project: "iam-admins",
    grantType: "client_credentials",
    basic: { clientId: "admin-client", clientSecret: adminClientSecret },
  });
  const bearer = (header?: ConstructorParameters<typeof Headers>[0]) => {
    const headers = new Headers(header);
    headers.set("authorization", `Bearer ${accessToken}`);
    return headers;
  };
  return createClient(AdminService, {
    unary: (method, signal, timeoutMs, header, input, contextValues) => transport.unary(method, signal, timeoutMs, bearer(header), input, contextValues),
    stream: (method, signal, timeoutMs, header, input, contextValues) => transport.stream(method, signal, timeoutMs, bearer(header), input, contextValues),
  });
}

/** Runs steps one minute apart on the tour's clock, from `start`. */
async function minuteByMinute(clock: TourClock, start: string, steps: (() => Promise<unknown>)[]): Promise<void> {
  clock.set(start);
  for (const step of steps) {
    await step();
    clock.ms += 60_000;
  }
}

/**
 * A customer's sign-in to the storefront, as its server-side application
 * drives it through the gateway (the JSON form of the sign-in pages): a
 * session, a remembered consent and a SIGN_IN event to show.
 */
async function signInToStorefront(gateway: string, user: string): Promise<void> {
  const issuer = `${gateway}/services/oauth2/${SHOP.organization}/${SHOP.project}`;
  const headers = { accept: "application/json", "content-type": "application/json", "user-agent": BROWSER_AGENT };
  const query = new URLSearchParams({
    response_type: "code",
    client_id: "storefront",
    redirect_uri: "https://shop.acme.example/callback",
    scope: "openid profile shop.orders.read",
    state: "tour",
    code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    code_challenge_method: "S256",
  });
  const start = await fetch(`${issuer}/authorize?${query}`, { headers });
  const { request_id } = (await start.json()) as { request_id: string };
  const login = await fetch(`${issuer}/authorize`, { method: "POST", headers, body: JSON.stringify({ request_id, username: user, password: passwordOf(user) }) });
  const { scopes } = (await login.json()) as { scopes: { name: string }[] };
  const consent = await fetch(`${issuer}/consent`, { method: "POST", headers, body: JSON.stringify({ request_id, scopes: scopes.map((s) => s.name) }) });
  if (!consent.ok) throw new Error(`the tour's sign-in of ${user}: ${consent.status} ${await consent.text()}`);
}

/** The browser a customer signs in with, as their session records it. */
const BROWSER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";

/** Makes the tour's tenant; `gateway` is the gateway's own address, for the sign-in. */
export async function seedTenant(transport: Transport, clock: TourClock, options: { adminClientSecret: string; gateway: string }): Promise<void> {
  const admin = await adminClient(transport, options.adminClientSecret);
  const permissions: [string, string][] = [
    ["shop.orders.read", "Read orders"],
    ["shop.orders.write", "Place and change orders"],
    ["shop.catalog.edit", "Edit the catalog"],
  ];
  await minuteByMinute(clock, "2026-03-02T08:00:00Z", [
    () => admin.createOrganization({ id: "acme", name: "Acme Corporation" }),
    () => admin.createProject({ organization: "acme", id: "shop", name: "Web shop", audience: "https://api.acme.example" }),
    () => admin.createProject({ organization: "acme", id: "intranet", name: "Intranet" }),
    () => admin.createOrganization({ id: "globex", name: "Globex" }),
    () => admin.createProject({ organization: "globex", id: "portal", name: "Customer portal" }),
    ...permissions.map(([id, description]) => () => admin.createPermission({ ...SHOP, permissionId: id, description })),
    () => admin.createRole({ ...SHOP, roleId: "customer", description: "Customers of the shop", permissions: ["shop.orders.read"] }),
    () => admin.createRole({ ...SHOP, roleId: "staff", description: "Shop staff", permissions: permissions.map(([id]) => id) }),
    () =>
      admin.createClient({
        ...SHOP,
        clientId: "storefront",
        name: "Storefront",
        type: ClientType.CONFIDENTIAL,
        redirectUris: ["https://shop.acme.example/callback"],
        grantTypes: ["authorization_code", "refresh_token"],
        pkceRequired: true,
        rememberConsent: true,
        postLogoutRedirectUris: ["https://shop.acme.example/"],
      }),
    () =>
      admin.createClient({
        ...SHOP,
        clientId: "mobile-app",
        name: "Acme Shop for iOS and Android",
        type: ClientType.PUBLIC,
        redirectUris: ["com.acme.shop:/oauth2redirect"],
        grantTypes: ["authorization_code", "refresh_token"],
        pkceRequired: true,
      }),
    () => admin.createClient({ ...SHOP, clientId: "reports-job", name: "Nightly sales report", type: ClientType.CONFIDENTIAL, grantTypes: ["client_credentials"] }),
    () => admin.assignRole({ ...SHOP, roleId: "customer", subject: { case: "clientId", value: "reports-job" } }),
    ...PEOPLE.flatMap(([id, name, email, roles, enabled]) => [
      () => admin.createUser({ ...SHOP, userId: id, name, email, password: passwordOf(id), emailVerified: true }),
      ...roles.map((role) => () => admin.assignRole({ ...SHOP, roleId: role, subject: { case: "userId", value: id } })),
      ...(enabled ? [] : [() => admin.updateUser({ ...SHOP, userId: id, enabled: false, updateMask: { paths: ["enabled"] } })]),
    ]),
    () => admin.rotateSigningKey(SHOP),
    () => signInToStorefront(options.gateway, "alice"),
    () => signInToStorefront(options.gateway, "bob"),
    () => admin.createResource({ ...SHOP, uri: "https://api.acme.example/orders", name: "Orders API", scopes: ["shop.orders.read", "shop.orders.write"] }),
  ]);
}
