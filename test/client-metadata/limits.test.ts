/**
 * How many clients documents may make (IAM_CLIENT_METADATA_MAX_CLIENTS), and
 * how long their rows stay once nothing refers to them: anyone may publish
 * documents at as many URLs as they like, so that neither the fetches nor
 * the rows they make are unbounded.
 */
import test from "ava";
import { METADATA_DOCUMENT_CLIENTS_KEPT_IDLE } from "../../core/store/retention.js";
import { parsePrometheus, total } from "../observe/_prometheus.js";
import { assertErrorPage, authorizeUrl, get } from "../gateway/_support.js";
import { DEFAULT, pkcePair } from "../helpers.js";
import { authorize, codeFor, documentFor, exchange, json, REDIRECT_URI, setup } from "./_documents.js";

const authorizePage = (s: Parameters<typeof authorize>[0], clientId: string) =>
  get(authorizeUrl(s, { response_type: "code", client_id: clientId, redirect_uri: REDIRECT_URI, state: "st", code_challenge: pkcePair().challenge, code_challenge_method: "S256" }));

test("past IAM_CLIENT_METADATA_MAX_CLIENTS a new document is refused unfetched, 400 invalid_request; known ones keep working, and deleting one makes room", async (t) => {
  const { s, docs, admin, auth } = await setup(t, { clientMetadataMaxClients: 2 });
  const ids = ["a", "b", "c"].map((name) => {
    const id = `${docs.origin}/${name}.json`;
    docs.serve(`/${name}.json`, json(documentFor(id)));
    return id;
  });
  for (const id of ids.slice(0, 2)) t.is((await authorize(s, id)).status, 200);

  await assertErrorPage(t, await authorizePage(s, ids[2]!), 400, "invalid_request");
  t.is(docs.hits("/c.json"), 0, "the document server never heard of the third");
  t.is(await s.core.deps.store.getClient(DEFAULT, ids[2]!), undefined, "and no row was made");

  const { code, verifier } = await codeFor(s, ids[0]!);
  t.is((await exchange(s, ids[0]!, code, verifier)).status, 200, "a known client signs users in as before");

  await admin.deleteClient({ ...DEFAULT, clientId: ids[1]! }, auth);
  t.is((await authorize(s, ids[2]!)).status, 200, "room again once an administrator deleted one");
  t.is(docs.hits("/c.json"), 1);

  // What an operator watching a flood sees.
  const metrics = parsePrometheus((await s.core.deps.metrics.render()).body);
  t.is(total(metrics, "iam_client_metadata_documents_total", { result: "ceiling" }), 1);
  t.is(total(metrics, "iam_client_metadata_documents_total", { result: "admitted" }), 3);
  t.is(total(metrics, "iam_client_metadata_fetches_total", { result: "ok" }), 3, "known documents come from memory");
  t.is(total(metrics, "iam_client_metadata_fetches_total", { result: "failed" }), 0);
});

test("a document's client nothing refers to is purged a day after its admission; its next request fetches the document again", async (t) => {
  const { s, docs } = await setup(t);
  const id = `${docs.origin}/agent.json`;
  docs.serve("/agent.json", json(documentFor(id, { client_name: "Agent" })));
  const signedIn = `${docs.origin}/signed-in.json`;
  docs.serve("/signed-in.json", json(documentFor(signedIn)));
  t.is((await authorize(s, id)).status, 200);
  t.is((await authorize(s, signedIn)).status, 200);
  // Both admitted now; the second signs a user in just before the day is over, which makes a grant.
  s.clock.advance(METADATA_DOCUMENT_CLIENTS_KEPT_IDLE - 60);
  const { code, verifier } = await codeFor(s, signedIn);
  t.is((await exchange(s, signedIn, code, verifier)).status, 200);
  const { store } = s.core.deps;

  s.clock.advance(120);
  const purged = await store.purgeExpired(Math.floor(s.clock.now() / 1000));
  t.is(purged.metadata_document_clients, 1, purged.metadata_document_clients === 1 ? "" : JSON.stringify(purged));
  t.is(await store.getClient(DEFAULT, id), undefined, "its request expired long ago: nothing refers to it");
  t.truthy(await store.getClient(DEFAULT, signedIn), "a client whose user holds a grant stays");

  t.is((await authorize(s, id)).status, 200);
  t.is(docs.hits("/agent.json"), 2, "fetched again");
  t.is((await store.getClient(DEFAULT, id))?.name, "Agent");
});

test("concurrent admissions never pass IAM_CLIENT_METADATA_MAX_CLIENTS: exactly the ceiling is admitted, every other one refused", async (t) => {
  const { s, docs } = await setup(t, { clientMetadataMaxClients: 3 });
  const ids = Array.from({ length: 8 }, (_, i) => {
    const id = `${docs.origin}/agent-${i}.json`;
    docs.serve(`/agent-${i}.json`, json(documentFor(id)));
    return id;
  });
  const answers = await Promise.all(ids.map((id) => authorize(s, id)));
  t.deepEqual(answers.map((r) => r.status).sort(), [...Array(3).fill(200), ...Array(5).fill(400)]);
  t.is(await s.core.deps.store.countMetadataDocumentClients(DEFAULT), 3);
});
