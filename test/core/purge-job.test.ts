import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import test from "ava";
import { authorize } from "../../core/rpc/authorize.js";
import { createCore } from "../../core/server/compose.js";
import { sha256 } from "../../core/lib/crypto.js";
import { AuthorizeRequestSchema } from "../../gen/iam/v1/authorization_pb.js";
import { DEFAULT, DEFAULT_REDIRECT, TestClock, memoryLogger, tempDir, testConfig } from "../helpers.js";

test("the background job purges authorization requests nobody finished, without being asked", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const clock = new TestClock();
  const core = await createCore(testConfig(join(dir, "iam.db"), { purgeInterval: 1 }), { clock, logger: memoryLogger().logger });
  t.teardown(() => core.close());

  const started = () =>
    authorize(core.deps, create(AuthorizeRequestSchema, { ...DEFAULT, responseType: "code", clientId: "admin-client", redirectUri: DEFAULT_REDIRECT }));
  const abandoned = await started();
  const pending = () => core.deps.store.getAuthorizationRequest(sha256(abandoned.requestId!));
  t.truthy(await pending());

  clock.advance(601);
  const live = await started();
  // The job runs every second of real time: wait for it, bounded.
  const deadline = Date.now() + 10_000;
  while ((await pending()) !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.is(await pending(), undefined, "the expired request is gone");
  t.truthy(await core.deps.store.getAuthorizationRequest(sha256(live.requestId!)), "a live request is kept");
});
