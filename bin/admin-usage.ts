/** The administration commands of `iam`: their usage text and nouns (kept apart so that `iam` loads the rest only for them). */
export const ADMIN_USAGE = `administration on the database file (IAM_DB), no server needed:
  iam org create ID [--name NAME]
  iam org list
  iam org delete ID
  iam project create ORG ID [--name NAME] [--audience AUD] [--access-token-alg ES256|RS256] [--require-par true|false]
  iam project update ORG ID [--name NAME] [--audience AUD] [--access-token-alg ES256|RS256] [--require-par true|false]
      [--client-registration off|open|initial_access_token]   (Dynamic Client Registration, RFC 7591)
      [--client-documents true|false]   (accept client ID metadata documents: docs/client-metadata-documents.md)
  iam project list ORG
  iam project delete ORG ID
  iam project mfa-policy ORG ID [--required optional|everyone|roles] [--roles ROLE,...] [--passwordless true|false]
      (with no option it shows the policy; --roles '' empties the list)
  iam client create ORG PROJECT ID [--public] [--secret S] [--redirect-uri URI]... [--grant TYPE]... [--pkce] [--remember-consent] [--name NAME]
      [--post-logout-redirect-uri URI]... [--backchannel-logout-uri URI] [--id-token-alg RS256|ES256] [--web-origin ORIGIN]...
      [--require-par true|false] [--auth-method METHOD] [--jwks JSON | --jwks-uri URI] [--dpop-bound true|false] [--profile fapi2]
      [--exchange-subject-client ID]... [--exchange-resource URI]... [--exchange-impersonation true|false] [--may-act ID]
  iam client update ORG PROJECT ID [--name NAME] [--redirect-uri URI]... [--grant TYPE]... [--post-logout-redirect-uri URI]...
      [--backchannel-logout-uri URI] [--id-token-alg RS256|ES256] [--web-origin ORIGIN]... [--require-par true|false]
      [--auth-method METHOD] [--jwks JSON] [--jwks-uri URI] [--dpop-bound true|false] [--profile fapi2|'']
      [--exchange-subject-client ID]... [--exchange-resource URI]... [--exchange-impersonation true|false] [--may-act ID|'']
      (--require-par true: the client's authorization requests must be pushed ones, RFC 9126)
      (--auth-method client_secret_basic|client_secret_post|private_key_jwt|none; private_key_jwt takes the
       client's public keys as a JWK Set, --jwks, or where to fetch them, --jwks-uri; such a client has no secret)
      (--dpop-bound true: every token request must carry a DPoP proof, RFC 9449 §5.2)
      (--profile fapi2: held to the FAPI 2.0 Security Profile: private_key_jwt, pushed requests, PKCE S256, DPoP)
      (--grant urn:ietf:params:oauth:grant-type:token-exchange with --exchange-subject-client, the clients whose
       users' tokens it may exchange, and --exchange-resource, the resources it may ask tokens for: RFC 8693,
       docs/token-exchange.md; --may-act ID: its user tokens may be exchanged by that client only)
      (a repeated option replaces the whole list; given once as '' it empties it)
  iam client list ORG PROJECT
  iam client rotate-secret ORG PROJECT ID [--secret S]
  iam client delete ORG PROJECT ID
  iam user create ORG PROJECT ID (--password-stdin | --password P) [--name NAME] [--email EMAIL] [--email-verified]
      [--given-name NAME] [--family-name NAME]
  iam user update ORG PROJECT ID [--name NAME] [--email EMAIL] [--email-verified | --email-unverified] [--given-name NAME] [--family-name NAME]
  iam user list ORG PROJECT [--query TEXT]      (those whose id or email begins with TEXT, case-sensitive)
  iam user set-password ORG PROJECT ID (--password-stdin | --password P)
  iam user enable|disable ORG PROJECT ID
  iam user delete ORG PROJECT ID
  iam user sessions ORG PROJECT ID
  iam user end-sessions ORG PROJECT ID [--session SID]
  iam user consents ORG PROJECT ID
  iam user revoke-consent ORG PROJECT ID CLIENT
  iam user factors ORG PROJECT ID
  iam user factors remove ORG PROJECT ID FACTOR
  iam user factors reset ORG PROJECT ID      (every factor and recovery code: the user enrols again)
  iam permission create ORG PROJECT ID [--description TEXT]
  iam permission list ORG PROJECT
  iam role create ORG PROJECT ID [--permission P]... [--description TEXT]
  iam role list ORG PROJECT
  iam role assign|unassign ORG PROJECT ROLE (--user ID | --client ID)
  iam resource create ORG PROJECT URI --permission P... [--name NAME]   (a protected resource, RFC 8707: its tokens' aud and scopes)
  iam resource update ORG PROJECT URI [--permission P]... [--name NAME]
  iam resource list ORG PROJECT
  iam resource delete ORG PROJECT URI
  iam key rotate ORG PROJECT [--retire-immediately]   (a leaked key: the old keys stop verifying at once)
  iam console-client ORG PROJECT      (adds the client the administration console signs in with, where it is missing)
  iam client-document block|remove ORG PROJECT URL    (a client ID metadata document URL refused, or its rule removed)
  iam client-document pin ORG PROJECT URL --document JSON    (the document used instead of fetching the URL)
  iam client-document list ORG PROJECT
  iam initial-access-token create ORG PROJECT [--description TEXT] [--ttl SECONDS] [--max-uses N]
      (what a client presents to register itself when the project's client registration is initial_access_token;
       --ttl 60 to 31536000, one day by default; --max-uses 1 to 1000000, no limit but the expiry by default)
  iam initial-access-token list ORG PROJECT     (never a token)
  iam initial-access-token revoke ORG PROJECT ID
options: --json prints the answer as JSON (the AdminService response message)`;

export const ADMIN_NOUNS = new Set(["org", "project", "client", "user", "permission", "role", "resource", "key", "console-client", "client-document", "initial-access-token"]);
