/**
 * An administrator's say over client ID metadata documents
 * (draft-ietf-oauth-client-id-metadata-document §6.5): block a URL, so that
 * no request naming it is served and nothing is fetched from it; or pin its
 * document, used as given and never fetched. Every change is audited.
 */
import type * as pb from "../../../gen/iam/v1/admin_pb.js";
import { ClientMetadataDocumentAction } from "../../../gen/iam/v1/admin_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { audited, party } from "../../audit/record.js";
import { created, deleted } from "../../audit/changes.js";
import { clientOfDocument, MetadataDocumentRefused, parsePinnedDocument } from "../../clients/metadata-client.js";
import { documentUrl } from "../../clients/document-url.js";
import type { Deps } from "../../deps.js";
import { epochSeconds } from "../../lib/clock.js";
import { sha256 } from "../../lib/crypto.js";
import type { AuditParty, ClientMetadataDocumentRuleRecord, ProjectRef } from "../../store/types.js";
import { found, notFound, type Out } from "./convert.js";
import { invalid } from "./validate.js";

const toRule = (r: ClientMetadataDocumentRuleRecord): MessageInitShape<typeof pb.ClientMetadataDocumentRuleSchema> => ({
  url: r.url,
  action: r.action === "block" ? ClientMetadataDocumentAction.BLOCK : ClientMetadataDocumentAction.PIN,
  document: r.document,
  createdAt: BigInt(r.createdAt),
});

/** A rule as the audit trail records it: the pinned document by its SHA-256, not its text. */
const ruleFields = (r: ClientMetadataDocumentRuleRecord) => ({
  url: r.url,
  action: r.action,
  ...(r.action === "pin" ? { document_sha256: sha256(r.document) } : {}),
});

/** The URL as a client_id names it (document-url.ts's rules), or INVALID_ARGUMENT. */
function checkUrl(url: string): string {
  const checked = documentUrl(url);
  if (typeof checked === "string") throw invalid(`url: ${checked}`);
  return url;
}

export async function setClientMetadataDocumentRule(
  deps: Deps,
  r: pb.SetClientMetadataDocumentRuleRequest,
  actor: AuditParty,
): Out<typeof pb.SetClientMetadataDocumentRuleResponseSchema> {
  const ref: ProjectRef = { organization: r.organization, project: r.project };
  found(await deps.store.getProject(ref), `project ${r.organization}/${r.project}`);
  const url = checkUrl(r.url);
  let action: ClientMetadataDocumentRuleRecord["action"];
  if (r.action === ClientMetadataDocumentAction.BLOCK) {
    if (r.document !== "") throw invalid("a block has no document");
    action = "block";
  } else if (r.action === ClientMetadataDocumentAction.PIN) {
    // Held to the rules of a fetched document: a pin cannot make what a document could not be.
    try {
      clientOfDocument(deps, ref, url, parsePinnedDocument(r.document));
    } catch (err) {
      if (err instanceof MetadataDocumentRefused) throw invalid(`document: ${err.message}`);
      throw err;
    }
    action = "pin";
  } else {
    throw invalid("action must be CLIENT_METADATA_DOCUMENT_ACTION_BLOCK or CLIENT_METADATA_DOCUMENT_ACTION_PIN");
  }
  const rule: ClientMetadataDocumentRuleRecord = { ...ref, url, action, document: action === "pin" ? r.document : "", createdAt: epochSeconds(deps.clock) };
  await audited(
    deps,
    (store) => store.putClientMetadataDocumentRule(rule),
    () => ({ chain: ref, action: "CLIENT_METADATA_DOCUMENT_RULE_SET", actor, target: party("client", url), changes: created(ruleFields(rule)) }),
  );
  deps.clientMetadata.forget(url);
  return { rule: toRule(rule) };
}

export async function listClientMetadataDocumentRules(
  deps: Deps,
  r: pb.ListClientMetadataDocumentRulesRequest,
): Out<typeof pb.ListClientMetadataDocumentRulesResponseSchema> {
  found(await deps.store.getProject(r), `project ${r.organization}/${r.project}`);
  return { rules: (await deps.store.listClientMetadataDocumentRules(r)).map(toRule) };
}

export async function deleteClientMetadataDocumentRule(
  deps: Deps,
  r: pb.DeleteClientMetadataDocumentRuleRequest,
  actor: AuditParty,
): Out<typeof pb.DeleteClientMetadataDocumentRuleResponseSchema> {
  const ref: ProjectRef = { organization: r.organization, project: r.project };
  await audited(
    deps,
    async (store) => {
      const rule = await store.getClientMetadataDocumentRule(ref, r.url);
      if (rule === undefined || !(await store.deleteClientMetadataDocumentRule(ref, r.url))) {
        throw notFound(`a rule for ${r.url} in ${r.organization}/${r.project}`);
      }
      return rule;
    },
    (rule) => ({ chain: ref, action: "CLIENT_METADATA_DOCUMENT_RULE_DELETED", actor, target: party("client", r.url), changes: deleted(ruleFields(rule)) }),
  );
  deps.clientMetadata.forget(r.url);
  return {};
}
