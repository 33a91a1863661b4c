import { parseArgs } from "node:util";
import { create, toJson, type DescMessage } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import * as pb from "../gen/iam/v1/admin_pb.js";
import { ADMIN_METHODS, toAdminError } from "../core/rpc/admin/service.js";
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

export { ADMIN_NOUNS, ADMIN_USAGE };

class UsageError extends Error {}

const OPTIONS = {
  json: { type: "boolean" },
  name: { type: "string" },
  audience: { type: "string" },
  public: { type: "boolean" },
  secret: { type: "string" },
  "redirect-uri": { type: "string", multiple: true },
  grant: { type: "string", multiple: true },
  pkce: { type: "boolean" },
  "remember-consent": { type: "boolean" },
  password: { type: "string" },
  "password-stdin": { type: "boolean" },
  email: { type: "string" },
  description: { type: "string" },
  permission: { type: "string", multiple: true },
  user: { type: "string" },
  client: { type: "string" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

interface Command {
  method: keyof typeof ADMIN_METHODS;
  request: DescMessage;
  response: DescMessage;
  /** Positional argument names after noun and verb. */
  args: string[];
  build(a: Record<string, string>, o: Values, stdin: () => Promise<string>): Promise<Record<string, unknown>> | Record<string, unknown>;
  /** One line per item for people; --json prints the whole response. */
  show(out: any): string[];
}

const ref = (a: Record<string, string>) => ({ organization: a.org!, project: a.project! });

async function passwordOf(o: Values, stdin: () => Promise<string>): Promise<string> {
  if (o["password-stdin"]) return (await stdin()).replace(/\r?\n$/, "");
  if (o.password !== undefined) return o.password;
  throw new UsageError("give the password with --password-stdin (or --password, which shells keep in their history)");
}

const lines = <T>(items: T[], line: (item: T) => string) => (items.length === 0 ? ["(none)"] : items.map(line));

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
    args: ["org", "id"], build: (a, o) => ({ organization: a.org, id: a.id, name: o.name ?? "", audience: o.audience ?? "" }),
    show: (r) => [`created project ${r.project.organization}/${r.project.id}, issuer ${r.project.issuer}`],
  },
  "project list": {
    method: "listProjects", request: pb.ListProjectsRequestSchema, response: pb.ListProjectsResponseSchema,
    args: ["org"], build: (a) => ({ organization: a.org, pageSize: 1000 }),
    show: (r) => lines(r.projects, (p: pb.Project) => `${p.id}\t${p.issuer}`),
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
    }),
    show: (r) => [`created client ${r.client.id}`, ...(r.secret ? [`secret: ${r.secret}  (shown once)`] : [])],
  },
  "client list": {
    method: "listClients", request: pb.ListClientsRequestSchema, response: pb.ListClientsResponseSchema,
    args: ["org", "project"], build: (a) => ({ ...ref(a), pageSize: 1000 }),
    show: (r) => lines(r.clients, (c: pb.Client) => `${c.id}\t${c.type === pb.ClientType.PUBLIC ? "public" : "confidential"}\t${c.grantTypes.join(",")}\t${c.redirectUris.join(" ")}`),
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
    build: async (a, o, stdin) => ({ ...ref(a), userId: a.id, name: o.name ?? "", email: o.email ?? "", password: await passwordOf(o, stdin) }),
    show: (r) => [`created user ${r.user.id}`],
  },
  "user list": {
    method: "listUsers", request: pb.ListUsersRequestSchema, response: pb.ListUsersResponseSchema,
    args: ["org", "project"], build: (a) => ({ ...ref(a), pageSize: 1000 }),
    show: (r) => lines(r.users, (u: pb.User) => `${u.id}\t${u.enabled ? "enabled" : "disabled"}\t${u.roles.join(",")}`),
  },
  "user set-password": {
    method: "setUserPassword", request: pb.SetUserPasswordRequestSchema, response: pb.SetUserPasswordResponseSchema,
    args: ["org", "project", "id"], build: async (a, o, stdin) => ({ ...ref(a), userId: a.id, password: await passwordOf(o, stdin) }),
    show: () => ["password set"],
  },
  "user enable": {
    method: "updateUser", request: pb.UpdateUserRequestSchema, response: pb.UpdateUserResponseSchema,
    args: ["org", "project", "id"], build: (a) => ({ ...ref(a), userId: a.id, enabled: true, updateMask: create(FieldMaskSchema, { paths: ["enabled"] }) }),
    show: (r) => [`user ${r.user.id} enabled`],
  },
  "user disable": {
    method: "updateUser", request: pb.UpdateUserRequestSchema, response: pb.UpdateUserResponseSchema,
    args: ["org", "project", "id"], build: (a) => ({ ...ref(a), userId: a.id, enabled: false, updateMask: create(FieldMaskSchema, { paths: ["enabled"] }) }),
    show: (r) => [`user ${r.user.id} disabled; their tokens are revoked`],
  },
  "user delete": {
    method: "deleteUser", request: pb.DeleteUserRequestSchema, response: pb.DeleteUserResponseSchema,
    args: ["org", "project", "id"], build: (a) => ({ ...ref(a), userId: a.id }), show: () => ["deleted"],
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
    args: ["org", "project"], build: (a) => ref(a),
    show: (r) => [`new signing key ${r.kid}; ${r.retiredKid} stays in the JWKS until ${new Date(Number(r.retiredKeyExpiresAt) * 1000).toISOString()}`],
  },
  "role unassign": {
    method: "unassignRole", request: pb.UnassignRoleRequestSchema, response: pb.UnassignRoleResponseSchema,
    args: ["org", "project", "role"], build: (a, o) => ({ ...ref(a), roleId: a.role, subject: subjectOf(o) }), show: () => ["unassigned"],
  },
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

/** Runs one admin command; answers the process exit code (0 done, 1 refused, 2 usage). */
export async function runAdminCommand(argv: string[], config: Config, out = process.stdout, err = process.stderr): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    err.write(`iam: ${(e as Error).message}\n${ADMIN_USAGE}\n`);
    return 2;
  }
  const [noun, verb, ...rest] = parsed.positionals;
  const command = COMMANDS[`${noun} ${verb}`];
  if (command === undefined || rest.length !== command.args.length) {
    err.write(`iam: ${command === undefined ? `unknown command "${[noun, verb].filter(Boolean).join(" ")}"` : `"${noun} ${verb}" takes ${command.args.map((a) => a.toUpperCase()).join(" ") || "no arguments"}`}\n${ADMIN_USAGE}\n`);
    return 2;
  }
  const args = Object.fromEntries(command.args.map((name, i) => [name, rest[i]!]));
  const core = await createCore(config, { logger: createLogger("warn") });
  try {
    if (core.bootstrap.generatedAdminPassword !== undefined) {
      err.write(`created the default tenant; administrator "admin", password ${core.bootstrap.generatedAdminPassword} (shown once)\n`);
    }
    const init = await command.build(args, parsed.values, readStdin);
    const request = create(command.request, init as never);
    const handler = ADMIN_METHODS[command.method].handler as (deps: typeof core.deps, r: unknown) => Promise<unknown>;
    const answer = create(command.response, (await handler(core.deps, request)) as never);
    out.write(parsed.values.json ? JSON.stringify(toJson(command.response, answer)) + "\n" : command.show(answer).join("\n") + "\n");
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err.write(`iam: ${e.message}\n`);
      return 2;
    }
    const failure = toAdminError(core.deps, command.method, e);
    err.write(`iam: ${Code[failure.code]}: ${failure.rawMessage}\n`);
    return 1;
  } finally {
    await core.close();
  }
}
