import { createRegistry, toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/** gRPC's NOT_FOUND, as the reflection protocol reports it in an error response. */
const NOT_FOUND = 5;

/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha), so that `buf curl`
 * and grpcurl-style tools need no schema: it lists the services and answers
 * the file descriptors that define a symbol or file, each file (with its
 * dependencies) once per stream. One implementation serves both versions,
 * whose messages have the same shape.
 */
export function createReflectionServices(services: readonly DescService[]) {
  const files = new Map<string, DescFile>();
  // Keyed by the file's path as protoc names it (DescFile.name lacks ".proto").
  const collect = (file: DescFile) => {
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    file.dependencies.forEach(collect);
  };
  for (const service of [...services, v1.ServerReflection, v1alpha.ServerReflection]) collect(service.file);
  const registry = createRegistry(...files.values());
  const serviceNames = [...services, v1.ServerReflection, v1alpha.ServerReflection].map((s) => s.typeName);

  /** The file defining a fully-qualified symbol: a service, a method of one, a message or an enum. */
  const fileOfSymbol = (symbol: string): DescFile | undefined => {
    const found = registry.get(symbol);
    if (found !== undefined && "file" in found) return found.file;
    const dot = symbol.lastIndexOf(".");
    const parent = dot > 0 ? registry.getService(symbol.slice(0, dot)) : undefined;
    return parent?.methods.some((m) => m.name === symbol.slice(dot + 1)) ? parent.file : undefined;
  };

  /** The file and every dependency the stream has not sent yet, serialized. */
  const descriptors = (file: DescFile, sent: Set<string>): Uint8Array[] => {
    const out: Uint8Array[] = [];
    const add = (f: DescFile) => {
      if (sent.has(f.proto.name)) return;
      sent.add(f.proto.name);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
      f.dependencies.forEach(add);
    };
    add(file);
    return out;
  };

  type Request = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;

  async function* answer(requests: AsyncIterable<Request>) {
    const sent = new Set<string>();
    for await (const request of requests) {
      const base = { validHost: request.host, originalRequest: request };
      const m = request.messageRequest;
      const notFound = (what: string) => ({
        ...base,
        messageResponse: { case: "errorResponse" as const, value: { errorCode: NOT_FOUND, errorMessage: `${what} not found` } },
      });
      switch (m.case) {
        case "listServices":
          yield {
            ...base,
            messageResponse: { case: "listServicesResponse" as const, value: { service: serviceNames.map((name) => ({ name })) } },
          };
          break;
        case "fileByFilename":
        case "fileContainingSymbol": {
          const file = m.case === "fileByFilename" ? files.get(m.value) : fileOfSymbol(m.value);
          if (file === undefined) {
            yield notFound(m.case === "fileByFilename" ? `file ${m.value}` : `symbol ${m.value}`);
            break;
          }
          yield {
            ...base,
            messageResponse: { case: "fileDescriptorResponse" as const, value: { fileDescriptorProto: descriptors(file, sent) } },
          };
          break;
        }
        case "allExtensionNumbersOfType":
          // No message of iam-core declares extension ranges in use.
          if (registry.getMessage(m.value) === undefined) {
            yield notFound(`type ${m.value}`);
            break;
          }
          yield {
            ...base,
            messageResponse: { case: "allExtensionNumbersResponse" as const, value: { baseTypeName: m.value, extensionNumber: [] } },
          };
          break;
        default:
          yield notFound("extension");
      }
    }
  }

  return {
    // The two versions' messages have the same fields; their type names differ.
    v1: { serverReflectionInfo: (requests) => answer(requests) as never } satisfies ServiceImpl<typeof v1.ServerReflection>,
    v1alpha: {
      serverReflectionInfo: (requests) => answer(requests) as never,
    } satisfies ServiceImpl<typeof v1alpha.ServerReflection>,
  };
}
