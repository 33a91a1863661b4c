/**
 * The `iam` commands of protected resources (RFC 8707): the APIs a project's
 * clients ask tokens for by URI, with the scopes (permissions) a token for
 * each may carry.
 */
import * as pb from "../gen/iam/v1/admin_pb.js";
import { lines, ref, type Command } from "./admin-command.js";

export const RESOURCE_COMMANDS: Record<string, Command> = {
  "resource create": {
    method: "createResource", request: pb.CreateResourceRequestSchema, response: pb.CreateResourceResponseSchema,
    args: ["org", "project", "uri"], build: (a, o) => ({ ...ref(a), uri: a.uri, name: o.name ?? "", scopes: o.permission ?? [] }),
    show: (r) => [`registered resource ${r.resource.uri} (${r.resource.scopes.join(" ")})`],
  },
  "resource update": {
    method: "updateResource", request: pb.UpdateResourceRequestSchema, response: pb.UpdateResourceResponseSchema,
    args: ["org", "project", "uri"],
    build: (a, o) => ({
      ...ref(a), uri: a.uri, name: o.name ?? "", scopes: o.permission ?? [],
      updateMask: { paths: [...(o.name === undefined ? [] : ["name"]), ...(o.permission === undefined ? [] : ["scopes"])] },
    }),
    show: (r) => [`resource ${r.resource.uri}: ${r.resource.scopes.join(" ")}`],
  },
  "resource list": {
    method: "listResources", request: pb.ListResourcesRequestSchema, response: pb.ListResourcesResponseSchema,
    args: ["org", "project"], build: (a) => ({ ...ref(a), pageSize: 1000 }),
    show: (r) => lines(r.resources, (x: pb.Resource) => `${x.uri}\t${x.scopes.join(" ")}\t${x.name}`),
  },
  "resource delete": {
    method: "deleteResource", request: pb.DeleteResourceRequestSchema, response: pb.DeleteResourceResponseSchema,
    args: ["org", "project", "uri"], build: (a) => ({ ...ref(a), uri: a.uri }), show: () => ["deleted"],
  },
};
