import { parseArgs } from "node:util";
import { create, toJson } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import * as pb from "../gen/iam/v1/admin_pb.js";
import { ADMIN_METHODS, recordRefusedChange, toAdminError, type AdminMethod } from "../core/rpc/admin/service.js";
import { OPERATOR } from "../core/rpc/admin/principal.js";
import { createCore } from "../core/server/compose.js";
import type { Config } from "../core/server/config.js";
import { createLogger } from "../core/observe/log.js";

/**
 * `iam <noun> <verb>`: administration straight on the database file
 * (IAM_DB), for bootstrap and recovery, without a running server or a token.
 * It runs the AdminService handlers as the machine's operator, with their
 * validation; whoever can run it can read the database file anyway.
 */
import { ADMIN_NOUNS, ADMIN_USAGE } from "./admin-usage.js";
import { booleanOf, lines, list, OPTIONS, parColumn, ref, registrationNote, registrationOf, time, update, UsageError, type Command, type Values } from "./admin-command.js";
import { exchangeNotes, exchangeSettings, exchangeUpdates } from "./admin-exchange.js";
import { FACTOR_COMMANDS } from "./admin-factors.js";
import { RESOURCE_COMMANDS } from "./admin-resources.js";
import { CONSOLE_CLIENT_COMMANDS } from "./admin-console-client.js";
import { METADATA_DOCUMENT_COMMANDS } from "./admin-metadata-documents.js";
import { REGISTRATION_COMMANDS } from "./admin-registration.js";

export { ADMIN_NOUNS, ADMIN_USAGE };

async function passwordOf(o: Values, stdin: () => Promise<string>): Promise<string> {
  if (o["password-stdin"]) return (await stdin()).replace(/\r?\n$/, "");
  if (o.password !== undefined) return o.password;
  throw new UsageError("give the password with --password-stdin (or --password, which shells keep in their history)");
}

function emailVerifiedOf(o: Values): boolean | undefined {
  if (o["email-verified"] && o["email-unverified"]) throw new UsageError("give --email-verified or --email-unverified, not both");
  return o["email-verified"] ? true : o["email-unverified"] ? false : undefined;
}

/** What a project's or client's answer says of pushed authorization requests when they are required (RFC 9126). */
const pushedOnly = (o: { requirePushedAuthorizationRequests: boolean }) => (o.requirePushedAuthorizationRequests ? ", pushed authorization requests required" : "");
/** What a client is held to, after its name. */
const clientNotes = (c: pb.Client) =>
  [
    pushedOnly(c),
    c.tokenEndpointAuthMethod === "" ? "" : `, authenticates with ${c.tokenEndpointAuthMethod}`,
    c.dpopBoundAccessTokens ? ", DPoP required" : "",
    c.securityProfile === "fapi2" ? ", FAPI 2.0 Security Profile" : "",
    exchangeNotes(c),
  ].join("");

const COMMANDS: Record<string, Command> = {
  "org create": {
    method: "createOrganization", request: pb.CreateOrganizationRequestSchema, response: pb.CreateOrganizationResponseSchema,
    args: ["id"], build: (a, o) => ({ id: a.id, name: o.name ?? "" }),
    show: (r) => [`created organization ${r.organization.id}`],
  },
  "org list": {
    method: "listOrganizations", request: pb.ListOrganizationsRequestSchema, response: pb.ListOrganizationsResponseSchema,
    args: [], build: () => ({ pageSize: 1000 }),
    show: (r) => lines(r.organizations, (o: pb.Organization) => `${o.id}\t${o.name}`),
  },
  "org delete": {
    method: "deleteOrganization", request: pb.DeleteOrganizationRequestSchema, response: pb.DeleteOrganizationResponseSchema,
    args: ["id"], build: (a) => ({ id: a.id }), show: () => ["deleted"],
  },
  "project create": {
    method: "createProject", request: pb.CreateProjectRequestSchema, response: pb.CreateProjectResponseSchema,
    args: ["org", "id"],
    build: (a, o) => ({
      organization: a.org, id: a.id, name: o.name ?? "", audience: o.audience ?? "", accessTokenSigningAlg: o["access-token-alg"] ?? "",
      requirePushedAuthorizationRequests: booleanOf("--require-par", o["require-par"]) ?? false,
    }),
    show: (r) => [`created project ${r.project.organization}/${r.project.id}, issuer ${r.project.issuer}${pushedOnly(r.project)}`],
  },
  "project update": {
    method: "updateProject", request: pb.UpdateProjectRequestSchema, response: pb.UpdateProjectResponseSchema,
    args: ["org", "project"],
    build: (a, o) => ({
      ...ref(a),
      ...update(
        [
          ["name", "name", o.name],
          ["audience", "audience", o.audience],
          ["access_token_signing_alg", "accessTokenSigningAlg", o["access-token-alg"]],
          ["require_pushed_authorization_requests", "requirePushedAuthorizationRequests", booleanOf("--require-par", o["require-par"])],
          ["client_registration", "clientRegistration", registrationOf(o["client-registration"])],
          ["client_id_metadata_documents", "clientIdMetadataDocuments", booleanOf("--client-documents", o["client-documents"])],
        ],
        "--name, --audience, --access-token-alg, --require-par, --client-registration, --client-documents",
      ),
    }),
    show: (r) => [
      `updated project ${r.project.organization}/${r.project.id}: audience ${r.project.audience}, access tokens ${r.project.accessTokenSigningAlg}${pushedOnly(r.project)}${registrationNote(r.project)}`,
    ],
  },
  "project list": {
    method: "listProjects", request: pb.ListProjectsRequestSchema, response: pb.ListProjectsResponseSchema,
    args: ["org"], build: (a) => ({ organization: a.org, pageSize: 1000 }),
    show: (r) => lines(r.projects, (p: pb.Project) => `${p.id}\t${p.issuer}\t${parColumn(p.requirePushedAuthorizationRequests)}`),
  },
  "project delete": {
    method: "deleteProject", request: pb.DeleteProjectRequestSchema, response: pb.DeleteProjectResponseSchema,
    args: ["org", "project"], build: (a) => ref(a), show: () => ["deleted"],
  },
  "client create": {
    method: "createClient", request: pb.CreateClientRequestSchema, response: pb.CreateClientResponseSchema,
    args: ["org", "project", "id"],
    build: (a, o) => ({
      ...ref(a), clientId: a.id, name: o.name ?? "",
      type: o.public ? pb.ClientType.PUBLIC : pb.ClientType.CONFIDENTIAL,
      secret: o.secret ?? "", redirectUris: o["redirect-uri"] ?? [], grantTypes: o.grant ?? [], pkceRequired: o.pkce ?? false,
      rememberConsent: o["remember-consent"] ?? false,
      postLogoutRedirectUris: list(o["post-logout-redirect-uri"]) ?? [], backchannelLogoutUri: o["backchannel-logout-uri"] ?? "",
      idTokenSignedResponseAlg: o["id-token-alg"] ?? "", webOrigins: list(o["web-origin"]) ?? [],
      requirePushedAuthorizationRequests: booleanOf("--require-par", o["require-par"]) ?? false,
      tokenEndpointAuthMethod: o["auth-method"] ?? "", jwks: o.jwks ?? "", jwksUri: o["jwks-uri"] ?? "",
      dpopBoundAccessTokens: booleanOf("--dpop-bound", o["dpop-bound"]) ?? false, securityProfile: o.profile ?? "", ...exchangeSettings(o),
    }),
    show: (r) => [`created client ${r.client.id}${clientNotes(r.client)}`, ...(r.secret ? [`secret: ${r.secret}  (shown once)`] : [])],
  },
  "client update": {
    method: "updateClient", request: pb.UpdateClientRequestSchema, response: pb.UpdateClientResponseSchema,
    args: ["org", "project", "id"],
    build: (a, o) => ({
      ...ref(a), clientId: a.id,
      ...update(
        [
          ["name", "name", o.name],
          ["redirect_uris", "redirectUris", list(o["redirect-uri"])],
          ["grant_types", "grantTypes", list(o.grant)],
          ["post_logout_redirect_uris", "postLogoutRedirectUris", list(o["post-logout-redirect-uri"])],
          ["backchannel_logout_uri", "backchannelLogoutUri", o["backchannel-logout-uri"]],
          ["id_token_signed_response_alg", "idTokenSignedResponseAlg", o["id-token-alg"]],
          ["web_origins", "webOrigins", list(o["web-origin"])],
          ["require_pushed_authorization_requests", "requirePushedAuthorizationRequests", booleanOf("--require-par", o["require-par"])],
          ["token_endpoint_auth_method", "tokenEndpointAuthMethod", o["auth-method"]],
          ["jwks", "jwks", o.jwks],
          ["jwks_uri", "jwksUri", o["jwks-uri"]],
          ["dpop_bound_access_tokens", "dpopBoundAccessTokens", booleanOf("--dpop-bound", o["dpop-bound"])],
          ["security_profile", "securityProfile", o.profile],
          ...exchangeUpdates(o),
        ],
        "--name, --redirect-uri, --grant, --post-logout-redirect-uri, --backchannel-logout-uri, --id-token-alg, --web-origin, --require-par, --auth-method, --jwks, --jwks-uri, --dpop-bound, --profile, --exchange-subject-client, --exchange-resource, --exchange-impersonation, --may-act",
      ),
    }),
    show: (r) => [`updated client ${r.client.id}${clientNotes(r.client)}`],
  },
  "client list": {
    method: "listClients", request: pb.ListClientsRequestSchema, response: pb.ListClientsResponseSchema,
    args: ["org", "project"], build: (a) => ({ ...ref(a), pageSize: 1000 }),
    show: (r) =>
      lines(
        r.clients,
        (c: pb.Client) =>
          `${c.id}\t${c.type === pb.ClientType.PUBLIC ? "public" : "confidential"}\t${c.grantTypes.join(",")}\t${c.redirectUris.join(" ")}\t${parColumn(c.requirePushedAuthorizationRequests)}`,
      ),
  },
  "client rotate-secret": {
    method: "rotateClientSecret", request: pb.RotateClientSecretRequestSchema, response: pb.RotateClientSecretResponseSchema,
    args: ["org", "project", "id"], build: (a, o) => ({ ...ref(a), clientId: a.id, secret: o.secret ?? "" }),
    show: (r) => [`secret: ${r.secret}  (shown once)`],
  },
  "client delete": {
    method: "deleteClient", request: pb.DeleteClientRequestSchema, response: pb.DeleteClientResponseSchema,
    args: ["org", "project", "id"], build: (a) => ({ ...ref(a), clientId: a.id }), show: () => ["deleted"],
  },
  "user create": {
    method: "createUser", request: pb.CreateUserRequestSchema, response: pb.CreateUserResponseSchema,
    args: ["org", "project", "id"],
    build: async (a, o, stdin) => ({
      ...ref(a), userId: a.id, name: o.name ?? "", email: o.email ?? "", emailVerified: o["email-verified"] ?? false,
      givenName: o["given-name"] ?? "", familyName: o["family-name"] ?? "", password: await passwordOf(o, stdin),
    }),
    show: (r) => [`created user ${r.user.id}`],
  },
  "user update": {
    method: "updateUser", request: pb.UpdateUserRequestSchema, response: pb.UpdateUserResponseSchema,
    args: ["org", "project", "id"],
    build: (a, o) => ({
      ...ref(a), userId: a.id,
      ...update(
        [
          ["name", "name", o.name],
          ["email", "email", o.email],
          ["email_verified", "emailVerified", emailVerifiedOf(o)],
          ["given_name", "givenName", o["given-name"]],
          ["family_name", "familyName", o["family-name"]],
        ],
        "--name, --email, --email-verified or --email-unverified, --given-name, --family-name",
      ),
    }),
    show: (r) => [`updated user ${r.user.id}`],
  },
  "user list": {
    method: "listUsers", request: pb.ListUsersRequestSchema, response: pb.ListUsersResponseSchema,
    args: ["org", "project"], build: (a, o) => ({ ...ref(a), pageSize: 1000, query: o.query ?? "" }),
    show: (r) => lines(r.users, (u: pb.User) => `${u.id}\t${u.enabled ? "enabled" : "disabled"}\t${u.roles.join(",")}`),
  },
  "user set-password": {
    method: "setUserPassword", request: pb.SetUserPasswordRequestSchema, response: pb.SetUserPasswordResponseSchema,
    args: ["org", "project", "id"], build: async (a, o, stdin) => ({ ...ref(a), userId: a.id, password: await passwordOf(o, stdin) }),
    show: () => ["password set; the user's tokens are revoked and their sign-in sessions ended"],
  },
  "user enable": {
    method: "updateUser", request: pb.UpdateUserRequestSchema, response: pb.UpdateUserResponseSchema,
    args: ["org", "project", "id"], build: (a) => ({ ...ref(a), userId: a.id, enabled: true, updateMask: create(FieldMaskSchema, { paths: ["enabled"] }) }),
    show: (r) => [`user ${r.user.id} enabled`],
  },
  "user disable": {
    method: "updateUser", request: pb.UpdateUserRequestSchema, response: pb.UpdateUserResponseSchema,
    args: ["org", "project", "id"], build: (a) => ({ ...ref(a), userId: a.id, enabled: false, updateMask: create(FieldMaskSchema, { paths: ["enabled"] }) }),
    show: (r) => [`user ${r.user.id} disabled; their tokens are revoked and their sign-in sessions ended`],
  },
  "user delete": {
    method: "deleteUser", request: pb.DeleteUserRequestSchema, response: pb.DeleteUserResponseSchema,
    args: ["org", "project", "id"], build: (a) => ({ ...ref(a), userId: a.id }), show: () => ["deleted"],
  },
  "user sessions": {
    method: "listUserSessions", request: pb.ListUserSessionsRequestSchema, response: pb.ListUserSessionsResponseSchema,
    args: ["org", "project", "id"], build: (a) => ({ ...ref(a), userId: a.id }),
    show: (r) =>
      lines(r.sessions, (s: pb.Session) =>
        [s.id, `signed in ${time(s.authTime)}`, `last seen ${time(s.lastSeenAt)}`, `expires ${time(s.expiresAt)}`, s.clientAddress, s.clientIds.join(",") || "-", s.userAgent].join("\t"),
      ),
  },
  "user end-sessions": {
    method: "revokeUserSessions", request: pb.RevokeUserSessionsRequestSchema, response: pb.RevokeUserSessionsResponseSchema,
    args: ["org", "project", "id"], build: (a) => ({ ...ref(a), userId: a.id }),
    show: (r) => (r.sessionIds.length === 0 ? ["no session to end"] : [`ended ${r.sessionIds.length} session(s): ${r.sessionIds.join(" ")}`]),
    instead: (o) => (o.session === undefined ? undefined : END_ONE_SESSION),
  },
  "user consents": {
    method: "listUserConsents", request: pb.ListUserConsentsRequestSchema, response: pb.ListUserConsentsResponseSchema,
    args: ["org", "project", "id"], build: (a) => ({ ...ref(a), userId: a.id }),
    show: (r) => lines(r.consents, (c: pb.Consent) => `${c.clientId}\t${c.scopes.join(" ")}`),
  },
  "user revoke-consent": {
    method: "revokeUserConsent", request: pb.RevokeUserConsentRequestSchema, response: pb.RevokeUserConsentResponseSchema,
    args: ["org", "project", "id", "client"], build: (a) => ({ ...ref(a), userId: a.id, clientId: a.client }),
    show: () => ["consent revoked; the client's tokens for this user are revoked"],
  },

  "permission create": {
    method: "createPermission", request: pb.CreatePermissionRequestSchema, response: pb.CreatePermissionResponseSchema,
    args: ["org", "project", "id"], build: (a, o) => ({ ...ref(a), permissionId: a.id, description: o.description ?? "" }),
    show: (r) => [`created permission ${r.permission.id}`],
  },
  "permission list": {
    method: "listPermissions", request: pb.ListPermissionsRequestSchema, response: pb.ListPermissionsResponseSchema,
    args: ["org", "project"], build: (a) => ({ ...ref(a), pageSize: 1000 }),
    show: (r) => lines(r.permissions, (p: pb.Permission) => `${p.id}\t${p.description}`),
  },
  "role create": {
    method: "createRole", request: pb.CreateRoleRequestSchema, response: pb.CreateRoleResponseSchema,
    args: ["org", "project", "id"], build: (a, o) => ({ ...ref(a), roleId: a.id, description: o.description ?? "", permissions: o.permission ?? [] }),
    show: (r) => [`created role ${r.role.id}`],
  },
  "role list": {
    method: "listRoles", request: pb.ListRolesRequestSchema, response: pb.ListRolesResponseSchema,
    args: ["org", "project"], build: (a) => ({ ...ref(a), pageSize: 1000 }),
    show: (r) => lines(r.roles, (role: pb.Role) => `${role.id}\t${role.permissions.join(",")}`),
  },
  "role assign": {
    method: "assignRole", request: pb.AssignRoleRequestSchema, response: pb.AssignRoleResponseSchema,
    args: ["org", "project", "role"], build: (a, o) => ({ ...ref(a), roleId: a.role, subject: subjectOf(o) }), show: () => ["assigned"],
  },
  "key rotate": {
    method: "rotateSigningKey", request: pb.RotateSigningKeyRequestSchema, response: pb.RotateSigningKeyResponseSchema,
    args: ["org", "project"], build: (a, o) => ({ ...ref(a), retireImmediately: o["retire-immediately"] ?? false }),
    show: (r) => [
      `new signing keys ${r.kids.join(" ")}; ${r.retiredKids.join(" ") || "no key"} retired, ` +
        (r.retiredKeyExpiresAt * 1000n <= BigInt(Date.now()) ? "out of the JWKS and verifying nothing from now on" : `in the JWKS until ${time(r.retiredKeyExpiresAt)}`),
    ],
  },
  "role unassign": {
    method: "unassignRole", request: pb.UnassignRoleRequestSchema, response: pb.UnassignRoleResponseSchema,
    args: ["org", "project", "role"], build: (a, o) => ({ ...ref(a), roleId: a.role, subject: subjectOf(o) }), show: () => ["unassigned"],
  },
  ...FACTOR_COMMANDS,
  ...RESOURCE_COMMANDS,
  ...CONSOLE_CLIENT_COMMANDS,
  ...METADATA_DOCUMENT_COMMANDS,
  ...REGISTRATION_COMMANDS,
};

/** `iam user end-sessions … --session SID`: one session. */
const END_ONE_SESSION: Command = {
  method: "revokeUserSession", request: pb.RevokeUserSessionRequestSchema, response: pb.RevokeUserSessionResponseSchema,
  args: ["org", "project", "id"], build: (a, o) => ({ ...ref(a), userId: a.id, sessionId: o.session }),
  show: () => ["session ended; its tokens are revoked"],
};

function subjectOf(o: Values) {
  if ((o.user === undefined) === (o.client === undefined)) throw new UsageError("name exactly one of --user ID or --client ID");
  return o.user !== undefined ? { case: "userId" as const, value: o.user } : { case: "clientId" as const, value: o.client! };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * The command the words name, and its arguments. Most are two words (`user
 * factors`), a few one (`console-client`); a third word names one of three
 * (`user factors remove`) when the arguments of that one follow, or when
 * those of the two-word one do not: an organization may be called `reset`.
 */
function commandNamed(positionals: string[]): { name: string; given: string[] } {
  const [noun, verb, ...rest] = positionals;
  if (noun !== undefined && COMMANDS[noun] !== undefined) return { name: noun, given: positionals.slice(1) };
  const two = [noun, verb].filter(Boolean).join(" ");
  const three = COMMANDS[`${two} ${rest[0]}`];
  const fits = (command: Command | undefined, given: string[]) => command !== undefined && command.args.length === given.length;
  if (three !== undefined && (fits(three, rest.slice(1)) || !fits(COMMANDS[two], rest))) return { name: `${two} ${rest[0]}`, given: rest.slice(1) };
  return { name: two, given: rest };
}

/**
 * A value that begins with "-" given to an option that takes one (`--session
 * -Xq…`: ids are base64url, one in 64 begins so) is that option's value, as
 * `--session=-Xq…` says, unless it is itself one of the options: parseArgs
 * would refuse it as ambiguous, and a forgotten value is still caught.
 */
export function withDashValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const option = arg.startsWith("--") ? OPTIONS[arg.slice(2) as keyof typeof OPTIONS] : undefined;
    if (option?.type === "string" && next !== undefined && next.startsWith("-") && next !== "--" && !(next.slice(2) in OPTIONS && next.startsWith("--"))) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Runs one admin command; answers the process exit code (0 done, 1 refused, 2 usage). */
export async function runAdminCommand(argv: string[], config: Config, out = process.stdout, err = process.stderr): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: withDashValues(argv), options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    err.write(`iam: ${(e as Error).message}\n${ADMIN_USAGE}\n`);
    return 2;
  }
  const { name, given } = commandNamed(parsed.positionals);
  const named = COMMANDS[name];
  const command = named?.instead?.(parsed.values) ?? named;
  if (command === undefined || given.length !== command.args.length) {
    err.write(`iam: ${command === undefined ? `unknown command "${name}"` : `"${name}" takes ${command.args.map((a) => a.toUpperCase()).join(" ") || "no arguments"}`}\n${ADMIN_USAGE}\n`);
    return 2;
  }
  const args = Object.fromEntries(command.args.map((arg, i) => [arg, given[i]!]));
  // The request is built before the database is opened: a usage error opens,
  // creates and logs nothing.
  let init: Record<string, unknown>;
  try {
    init = await command.build(args, parsed.values, readStdin);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err.write(`iam: ${e.message}\n`);
    return 2;
  }
  const core = await createCore(config, { logger: createLogger("warn") });
  try {
    if (core.bootstrap.generatedAdminPassword !== undefined) {
      err.write(`created the default tenant; administrator "admin", password ${core.bootstrap.generatedAdminPassword} (shown once)\n`);
    }
    const request = create(command.request, init as never);
    const method = ADMIN_METHODS[command.method] as unknown as AdminMethod<unknown>;
    let answer;
    let said: string[] | undefined;
    try {
      const ran =
        command.run === undefined
          ? { response: await method.handler(core.deps, request, OPERATOR.actor), said: undefined }
          : await command.run(core.deps, request, OPERATOR.actor);
      said = ran.said;
      answer = create(command.response, ran.response as never);
    } catch (e) {
      const failure = toAdminError(core.deps, command.method, e);
      await recordRefusedChange(core.deps, method, request, OPERATOR.actor, failure);
      throw failure;
    }
    out.write(parsed.values.json ? JSON.stringify(toJson(command.response, answer)) + "\n" : (said ?? command.show(answer)).join("\n") + "\n");
    return 0;
  } catch (e) {
    const failure = toAdminError(core.deps, command.method, e);
    err.write(`iam: ${Code[failure.code]}: ${failure.rawMessage}\n`);
    return 1;
  } finally {
    await core.close();
  }
}
