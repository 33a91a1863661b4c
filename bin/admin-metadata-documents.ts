/**
 * `iam client-document block|pin|list|remove`: an administrator's rules for
 * client ID metadata document URLs (core/rpc/admin/metadata-documents.ts).
 */
import * as pb from "../gen/iam/v1/admin_pb.js";
import { lines, ref, UsageError, type Command } from "./admin-command.js";

const action = (a: pb.ClientMetadataDocumentAction) => (a === pb.ClientMetadataDocumentAction.BLOCK ? "blocked" : "pinned");

export const METADATA_DOCUMENT_COMMANDS: Record<string, Command> = {
  "client-document block": {
    method: "setClientMetadataDocumentRule", request: pb.SetClientMetadataDocumentRuleRequestSchema, response: pb.SetClientMetadataDocumentRuleResponseSchema,
    args: ["org", "project", "url"], build: (a) => ({ ...ref(a), url: a.url, action: pb.ClientMetadataDocumentAction.BLOCK }),
    show: (r) => [`blocked ${r.rule.url}`],
  },
  "client-document pin": {
    method: "setClientMetadataDocumentRule", request: pb.SetClientMetadataDocumentRuleRequestSchema, response: pb.SetClientMetadataDocumentRuleResponseSchema,
    args: ["org", "project", "url"],
    build: (a, o) => {
      if (o.document === undefined) throw new UsageError("give the document with --document JSON");
      return { ...ref(a), url: a.url, action: pb.ClientMetadataDocumentAction.PIN, document: o.document };
    },
    show: (r) => [`pinned ${r.rule.url}`],
  },
  "client-document list": {
    method: "listClientMetadataDocumentRules", request: pb.ListClientMetadataDocumentRulesRequestSchema, response: pb.ListClientMetadataDocumentRulesResponseSchema,
    args: ["org", "project"], build: (a) => ref(a),
    show: (r) => lines(r.rules, (rule: pb.ClientMetadataDocumentRule) => `${rule.url}\t${action(rule.action)}`),
  },
  "client-document remove": {
    method: "deleteClientMetadataDocumentRule", request: pb.DeleteClientMetadataDocumentRuleRequestSchema, response: pb.DeleteClientMetadataDocumentRuleResponseSchema,
    args: ["org", "project", "url"], build: (a) => ({ ...ref(a), url: a.url }), show: () => ["removed"],
  },
};
