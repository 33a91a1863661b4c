import test from "ava";
import { issuerOf, projectOfIssuer } from "../../core/deps.js";

const BASE = "https://iam.example.com";

test("issuerOf builds {base}/services/oauth2/{organization}/{project}", (t) => {
  t.is(issuerOf(BASE, { organization: "acme", project: "shop" }), "https://iam.example.com/services/oauth2/acme/shop");
});

const refs = [
  { organization: "acme", project: "shop" },
  { organization: "iam-admins", project: "iam-admins" },
  { organization: "a", project: "b" },
];
for (const ref of refs) {
  test(`projectOfIssuer reads back the issuer of ${ref.organization}/${ref.project}`, (t) => {
    t.deepEqual(projectOfIssuer(BASE, issuerOf(BASE, ref)), ref);
  });
}

test("the round trip works under a base URL with a path", (t) => {
  const base = "http://localhost:8080/iam";
  const ref = { organization: "o", project: "p" };
  t.is(issuerOf(base, ref), "http://localhost:8080/iam/services/oauth2/o/p");
  t.deepEqual(projectOfIssuer(base, issuerOf(base, ref)), ref);
});

const foreign: [string, string][] = [
  ["another host", "https://evil.example.com/services/oauth2/acme/shop"],
  ["another scheme", "http://iam.example.com/services/oauth2/acme/shop"],
  ["another port", "https://iam.example.com:8443/services/oauth2/acme/shop"],
  ["the base as a host prefix", "https://iam.example.com.evil.example/services/oauth2/acme/shop"],
  ["the base as user info", "https://iam.example.com@evil.example/services/oauth2/acme/shop"],
  ["another path", "https://iam.example.com/oauth2/acme/shop"],
  ["an extra path segment", "https://iam.example.com/services/oauth2/acme/shop/extra"],
  ["a trailing slash", "https://iam.example.com/services/oauth2/acme/shop/"],
  ["only an organization", "https://iam.example.com/services/oauth2/acme"],
  ["an empty organization", "https://iam.example.com/services/oauth2//shop"],
  ["an empty project", "https://iam.example.com/services/oauth2/acme/"],
  ["no segments", "https://iam.example.com/services/oauth2/"],
  ["nothing after the base", "https://iam.example.com"],
  ["the empty string", ""],
];
for (const [name, issuer] of foreign) {
  test(`projectOfIssuer refuses an issuer with ${name}`, (t) => {
    t.is(projectOfIssuer(BASE, issuer), undefined);
  });
}
