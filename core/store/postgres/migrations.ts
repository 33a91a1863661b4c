/**
 * The PostgreSQL schema, as numbered migrations: the same tables as SQLite's
 * (core/store/sqlite/migrations.ts), in PostgreSQL's types. Each runs once, in
 * order, in a transaction holding an advisory lock, so that replicas starting
 * at once apply each exactly once; `iam_schema.version` records the last one
 * applied. Never edit a migration that has shipped: add the next one.
 *
 * Identifiers and the strings listings are ordered by use the "C" collation:
 * byte order, as SQLite orders them, whatever locale the database was created
 * with, so that paging with `after` means the same on both backends.
 */
import { INITIAL_SCHEMA } from "./initial-schema.js";

export const migrations: readonly string[] = [
  // 1: everything SQLite's migrations 1 to 3 hold.
  INITIAL_SCHEMA,
  // 2: SQLite's migration 4: sign-in sessions and their logout deliveries,
  // the OpenID request parameters carried from request to code to grant, the
  // clients' logout, ID token and CORS settings, the users' standard claims,
  // the projects' access token alg. Each column is added with a constant
  // default: no table is rewritten.
  `
  ALTER TABLE projects ADD COLUMN access_token_signing_alg TEXT NOT NULL DEFAULT 'ES256'
    CHECK (access_token_signing_alg IN ('ES256', 'RS256'));

  ALTER TABLE clients
    ADD COLUMN post_logout_redirect_uris TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '',
    -- RS256 for every client, those that exist included: OpenID Connect
    -- Registration §2's default when a client registered no algorithm.
    ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT 'RS256'
      CHECK (id_token_signed_response_alg IN ('ES256', 'RS256')),
    ADD COLUMN web_origins TEXT[] NOT NULL DEFAULT '{}';

  ALTER TABLE users
    ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN given_name TEXT NOT NULL DEFAULT '',
    ADD COLUMN family_name TEXT NOT NULL DEFAULT '';

  ALTER TABLE authorization_requests
    ADD COLUMN session_id TEXT COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN acr TEXT NOT NULL DEFAULT '',
    ADD COLUMN amr TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN claims TEXT NOT NULL DEFAULT '',
    ADD COLUMN force_consent BOOLEAN NOT NULL DEFAULT false;

  ALTER TABLE authorization_codes
    ADD COLUMN session_id TEXT COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN acr TEXT NOT NULL DEFAULT '',
    ADD COLUMN amr TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN claims TEXT NOT NULL DEFAULT '';

  ALTER TABLE grants
    ADD COLUMN session_id TEXT COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN acr TEXT NOT NULL DEFAULT '',
    ADD COLUMN amr TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN claims TEXT NOT NULL DEFAULT '';
  -- Ending a session revokes its grants. Only grants made in a session are
  -- indexed (client grants, the most numerous, have none); the statements
  -- that use it say session_id <> '' so that the planner may.
  CREATE INDEX grants_session ON grants(organization_id, project_id, session_id) WHERE session_id <> '';

  -- A browser signed in to a project. Only the SHA-256 of the cookie's
  -- secret is kept. The sessions go with their project and with their user.
  CREATE TABLE sessions (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    secret_hash TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    auth_time BIGINT NOT NULL,
    amr TEXT[] NOT NULL,
    acr TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    client_address TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    -- The clients it signed the user into, in the order it first did.
    clients TEXT[] NOT NULL,
    ended_at BIGINT,
    PRIMARY KEY (organization_id, project_id, id),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, project_id, user_id) REFERENCES users(organization_id, project_id, id) ON DELETE CASCADE
  );
  CREATE UNIQUE INDEX sessions_secret ON sessions(secret_hash);
  CREATE INDEX sessions_user ON sessions(organization_id, project_id, user_id);
  CREATE INDEX sessions_expiry ON sessions(expires_at);
  CREATE INDEX sessions_ended ON sessions(ended_at) WHERE ended_at IS NOT NULL;

  -- Each attempt to tell a client of a session's end (Back-Channel Logout
  -- 1.0 §2.5): kept beyond the session, for the operator, until purged.
  CREATE TABLE logout_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    session_id TEXT COLLATE "C" NOT NULL,
    client_id TEXT COLLATE "C" NOT NULL,
    uri TEXT NOT NULL,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'failed')),
    attempts INTEGER NOT NULL,
    error TEXT NOT NULL,
    at BIGINT NOT NULL,
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  );
  CREATE INDEX logout_deliveries_session ON logout_deliveries(organization_id, project_id, session_id);
  CREATE INDEX logout_deliveries_at ON logout_deliveries(at);
  `,
  // The audit trail: one chain per project, and the server's (organization
  // and project ""), numbered without gaps and hashed (core/lib/audit-chain.ts).
  // No foreign keys: a chain outlives the project it records, deletion included.
  `
  CREATE TABLE audit_events (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    sequence BIGINT NOT NULL CHECK (sequence > 0),
    time_ms BIGINT NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    reason TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT COLLATE "C" NOT NULL,
    actor_project TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT COLLATE "C" NOT NULL,
    client_address TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    request_id TEXT NOT NULL,
    -- The fields an administration change set (JSON).
    changes TEXT NOT NULL,
    grant_type TEXT NOT NULL,
    -- The scopes approved or granted (JSON).
    scopes TEXT NOT NULL,
    previous_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (organization_id, project_id, sequence)
  );
  CREATE INDEX audit_events_time ON audit_events(organization_id, project_id, time_ms);
  -- Where a chain whose older events were purged begins: the last purged
  -- event's sequence and hash, signed by the server (one row per chain).
  CREATE TABLE audit_checkpoints (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    sequence BIGINT NOT NULL,
    hash TEXT NOT NULL,
    signature TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (organization_id, project_id)
  );
  `,
  // 4: SQLite's migration 7, multi-factor sign-in. A user's second factors
  // (TOTP authenticators and passkeys) and recovery codes go with the user;
  // the challenges of WebAuthn ceremonies under way are token state, purged
  // at expiry; each project's policy is administration's and announces its
  // changes as the other administration tables do (iam_changed), so that
  // every replica drops the policy it keeps in memory. The pending request
  // gains its second step, each column with a constant default.
  `
  CREATE TABLE factors (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('totp', 'passkey')),
    name TEXT NOT NULL,
    -- TOTP: the secret, sealed under the KEK when one is set; passkey: the COSE public key.
    secret TEXT NOT NULL,
    credential_id TEXT COLLATE "C" NOT NULL,
    -- TOTP: the last time step accepted; passkey: the signature counter (32 bits unsigned).
    counter BIGINT NOT NULL,
    transports TEXT[] NOT NULL,
    device_type TEXT NOT NULL,
    backed_up BOOLEAN NOT NULL,
    confirmed BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    PRIMARY KEY (organization_id, project_id, id),
    FOREIGN KEY (organization_id, project_id, user_id) REFERENCES users(organization_id, project_id, id) ON DELETE CASCADE
  );
  CREATE INDEX factors_user ON factors(organization_id, project_id, user_id);
  -- A credential id names one passkey in a project (TOTP factors have none).
  CREATE UNIQUE INDEX factors_credential ON factors(organization_id, project_id, credential_id) WHERE kind = 'passkey';

  CREATE TABLE recovery_codes (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    code_hash TEXT COLLATE "C" NOT NULL,
    issued_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (organization_id, project_id, user_id, code_hash),
    FOREIGN KEY (organization_id, project_id, user_id) REFERENCES users(organization_id, project_id, id) ON DELETE CASCADE
  );

  CREATE TABLE ceremonies (
    challenge_hash TEXT COLLATE "C" PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('register', 'authenticate')),
    request_id_hash TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX ceremonies_expiry ON ceremonies(expires_at);

  CREATE TABLE mfa_policies (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    required TEXT NOT NULL CHECK (required IN ('optional', 'everyone', 'roles')),
    roles TEXT[] NOT NULL,
    passwordless BOOLEAN NOT NULL,
    PRIMARY KEY (organization_id, project_id),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  );
  CREATE TRIGGER mfa_policies_changed AFTER INSERT OR UPDATE OR DELETE ON mfa_policies FOR EACH STATEMENT EXECUTE FUNCTION iam_changed();

  ALTER TABLE authorization_requests
    ADD COLUMN mfa_requested BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN action TEXT NOT NULL DEFAULT '',
    ADD COLUMN factor_user_id TEXT COLLATE "C",
    ADD COLUMN factor_stage TEXT NOT NULL DEFAULT '',
    ADD COLUMN factor_amr TEXT[],
    ADD COLUMN factor_session_id TEXT COLLATE "C" NOT NULL DEFAULT '';
  `,
  // 5: SQLite's migration 8, administration of projects of many users.
  // ListUsers finds users by the beginning of their email in byte order (the
  // "C" collation: the email column has the database's), the index holding
  // the id for the page's order; the disabled users, few, are counted from a
  // partial index.
  `
  CREATE INDEX users_email ON users(organization_id, project_id, (email COLLATE "C"), id);
  CREATE INDEX users_disabled ON users(organization_id, project_id) WHERE NOT enabled;
  `,
  // 6: SQLite's migration 9, DPoP (RFC 9449): the keys grants, authorization
  // requests and codes are bound to, and the proofs seen (§11.1).
  `
  ALTER TABLE grants ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
  ALTER TABLE authorization_requests ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
  ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
  CREATE TABLE dpop_proofs (
    proof_hash TEXT COLLATE "C" PRIMARY KEY,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX dpop_proofs_expiry ON dpop_proofs(expires_at);
  `,
  // 7: SQLite's migration 10, pushed authorization requests (RFC 9126) and
  // whether a project or a client accepts authorization requests only as
  // pushed ones.
  `
  CREATE TABLE pushed_authorization_requests (
    uri_hash TEXT COLLATE "C" PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    client_id TEXT COLLATE "C" NOT NULL,
    -- The request's parameters by their names on the wire (a JSON object, as text: U+0000 escaped by JSON).
    parameters TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    FOREIGN KEY (organization_id, project_id, client_id) REFERENCES clients(organization_id, project_id, id) ON DELETE CASCADE
  );
  CREATE INDEX pushed_authorization_requests_expiry ON pushed_authorization_requests(expires_at);
  CREATE INDEX pushed_authorization_requests_client ON pushed_authorization_requests(organization_id, project_id, client_id);
  ALTER TABLE projects ADD COLUMN require_pushed_authorization_requests BOOLEAN NOT NULL DEFAULT false;
  ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests BOOLEAN NOT NULL DEFAULT false;
  `,
  // 8: SQLite's migration 11, a client's authentication method, its keys
  // for private_key_jwt, whether it must use DPoP, and its security profile.
  `
  ALTER TABLE clients ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT '';
  ALTER TABLE clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '';
  ALTER TABLE clients ADD COLUMN jwks_uri TEXT NOT NULL DEFAULT '';
  ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens BOOLEAN NOT NULL DEFAULT false;
  ALTER TABLE clients ADD COLUMN security_profile TEXT NOT NULL DEFAULT '';
  `,
  // 9: SQLite's migration 12, what the database is (core/store/schema.ts):
  // the deployment it belongs to, and the oldest schema whose iam-core can
  // serve it. The release before this one knows 8 migrations and serves this
  // schema: it only adds.
  `
  ALTER TABLE iam_schema
    ADD COLUMN deployment_id TEXT COLLATE "C",
    ADD COLUMN created_at BIGINT,
    ADD COLUMN oldest_compatible INTEGER;
  UPDATE iam_schema SET
    deployment_id = replace(gen_random_uuid()::text, '-', ''),
    created_at = (extract(epoch FROM now()) * 1000)::bigint,
    oldest_compatible = 8;
  ALTER TABLE iam_schema
    ALTER COLUMN deployment_id SET NOT NULL,
    ALTER COLUMN created_at SET NOT NULL,
    ALTER COLUMN oldest_compatible SET NOT NULL;
  `,
  // 10: SQLite's migration 13, protected resources (RFC 8707) and the
  // resources an authorization request, its code and its grant are for.
  `
  CREATE TABLE resources (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    uri TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT[] NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, project_id, uri),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  );
  CREATE UNIQUE INDEX resources_uri ON resources(uri);
  CREATE TRIGGER resources_changed AFTER INSERT OR UPDATE OR DELETE ON resources FOR EACH STATEMENT EXECUTE FUNCTION iam_changed();
  ALTER TABLE authorization_requests ADD COLUMN resources TEXT[] NOT NULL DEFAULT '{}';
  ALTER TABLE authorization_codes ADD COLUMN resources TEXT[] NOT NULL DEFAULT '{}';
  ALTER TABLE grants ADD COLUMN resources TEXT[] NOT NULL DEFAULT '{}';
  `,
  // 11: SQLite's migration 14, Dynamic Client Registration (RFC 7591, RFC
  // 7592): the project's setting, the client's mark, registrations (their
  // access token's hash and extra metadata) and initial access tokens.
  `
  ALTER TABLE projects ADD COLUMN client_registration TEXT NOT NULL DEFAULT '';
  ALTER TABLE clients ADD COLUMN dynamically_registered BOOLEAN NOT NULL DEFAULT false;
  CREATE TABLE client_registrations (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    client_id TEXT COLLATE "C" NOT NULL,
    token_hash TEXT NOT NULL,
    metadata TEXT NOT NULL,
    PRIMARY KEY (organization_id, project_id, client_id),
    FOREIGN KEY (organization_id, project_id, client_id) REFERENCES clients(organization_id, project_id, id) ON DELETE CASCADE
  );
  CREATE TABLE initial_access_tokens (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    uses_left INTEGER,
    max_uses INTEGER NOT NULL,
    PRIMARY KEY (organization_id, project_id, id),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  );
  CREATE INDEX initial_access_tokens_expiry ON initial_access_tokens(expires_at);
  `,
  // 12: SQLite's migration 15, client ID metadata documents: whether a
  // project accepts them, which clients are a document's, and the
  // administrators' rules (block a URL, or pin its document). It only adds.
  `
  ALTER TABLE projects ADD COLUMN client_id_metadata_documents BOOLEAN NOT NULL DEFAULT false;
  ALTER TABLE clients ADD COLUMN metadata_document BOOLEAN NOT NULL DEFAULT false;
  CREATE TABLE client_metadata_document_rules (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    url TEXT COLLATE "C" NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('block', 'pin')),
    document TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, project_id, url),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  );
  `,
  // 13: SQLite's migration 16, token exchange (RFC 8693): the clients'
  // exchange policy and the subject's grant an exchanged grant hangs off.
  `
  ALTER TABLE clients ADD COLUMN token_exchange_subject_clients TEXT[] NOT NULL DEFAULT '{}';
  ALTER TABLE clients ADD COLUMN token_exchange_resources TEXT[] NOT NULL DEFAULT '{}';
  ALTER TABLE clients ADD COLUMN token_exchange_impersonation BOOLEAN NOT NULL DEFAULT false;
  ALTER TABLE clients ADD COLUMN may_act_client TEXT COLLATE "C" NOT NULL DEFAULT '';
  ALTER TABLE grants ADD COLUMN parent_grant_id TEXT COLLATE "C" NOT NULL DEFAULT '';
  `,
];

/**
 * The oldest schema version whose iam-core can serve a database this one has
 * migrated: raised to N by a migration N that drops or changes what older
 * code reads (core/store/schema.ts).
 */
export const OLDEST_COMPATIBLE = 8;
