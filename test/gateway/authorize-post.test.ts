import test from "ava";
import { DEFAULT_REDIRECT, startTestServer } from "../helpers.js";

const FORM = "application/x-www-form-urlencoded";

test("an authorization request sent by form POST (OpenID Connect Core §3.1.2.1) answers the login page and binds the browser", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const res = await fetch(`${s.project}/authorize`, {
    method: "POST",
    headers: { "content-type": FORM },
    body: new URLSearchParams({ response_type: "code", client_id: "admin-client", redirect_uri: DEFAULT_REDIRECT, state: "p1", scope: "openid" }),
    redirect: "manual",
  });
  t.is(res.status, 200);
  t.regex(res.headers.get("content-type") ?? "", /text\/html/);
  t.regex(res.headers.get("set-cookie") ?? "", /^iam_browser=/);
  t.regex(await res.text(), /name="request_id" value="[A-Za-z0-9_-]{43}"/);

  const json = await fetch(`${s.project}/authorize`, {
    method: "POST",
    headers: { "content-type": FORM, accept: "application/json" },
    body: new URLSearchParams({ response_type: "code", client_id: "admin-client", redirect_uri: DEFAULT_REDIRECT }),
  });
  t.is(json.status, 200);
  t.regex(((await json.json()) as { request_id: string }).request_id, /^[A-Za-z0-9_-]{43}$/);
});

test("a POSTed authorization request with an error after redirect-URI validation is a 303 to the client with error, state and iss", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const res = await fetch(`${s.project}/authorize`, {
    method: "POST",
    headers: { "content-type": FORM },
    body: new URLSearchParams({ response_type: "token", client_id: "admin-client", redirect_uri: DEFAULT_REDIRECT, state: "p2" }),
    redirect: "manual",
  });
  t.is(res.status, 303);
  const location = new URL(res.headers.get("location")!);
  t.is(location.searchParams.get("error"), "unsupported_response_type");
  t.is(location.searchParams.get("state"), "p2");
  t.is(location.searchParams.get("iss"), "http://iam.test/services/oauth2/iam-admins/iam-admins");

  const unregistered = await fetch(`${s.project}/authorize`, {
    method: "POST",
    headers: { "content-type": FORM },
    body: new URLSearchParams({ response_type: "code", client_id: "admin-client", redirect_uri: "https://evil.example/cb" }),
    redirect: "manual",
  });
  t.is(unregistered.status, 400);
  t.is(unregistered.headers.get("location"), null);
});

test("a login form post still logs in, and a login form with a repeated field is refused", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const res = await fetch(`${s.project}/authorize`, {
    method: "POST",
    headers: { "content-type": FORM },
    body: "request_id=abc&request_id=def&username=admin&password=x",
  });
  t.is(res.status, 400);
});
