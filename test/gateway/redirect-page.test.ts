import test from "ava";
import { seedProject, startTestServer } from "../helpers.js";

test("the /redirect callback page exists only for the default client's project", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  await seedProject(s.core, { organization: "acme", project: "shop" });
  const own = await fetch(`${s.project}/redirect?code=abc&state=xyz`);
  t.is(own.status, 200);
  const other = await fetch(`${s.httpUrl}/services/oauth2/acme/shop/redirect?error=access_denied&error_description=call+us`);
  t.is(other.status, 404);
  t.is(((await other.json()) as { error: string }).error, "not_found");
});
