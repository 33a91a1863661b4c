import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import test from "ava";
import { AdminService } from "../../gen/iam/v1/admin_pb.js";
import { ADMIN_CLIENT_SECRET, startTestCore } from "../helpers.js";

test("an audience names one project: another project can neither take nor be created with it", async (t) => {
  const c = await startTestCore();
  t.teardown(() => c.close());
  const { accessToken } = await c.tokens.token({
    organization: "iam-admins",
    project: "iam-admins",
    grantType: "client_credentials",
    basic: { clientId: "admin-client", clientSecret: ADMIN_CLIENT_SECRET },
  });
  const admin = createClient(AdminService, c.transport);
  const options = { headers: { authorization: `Bearer ${accessToken}` } };
  await admin.createOrganization({ id: "acme" }, options);
  await admin.createProject({ organization: "acme", id: "a", audience: "https://api.a.example" }, options);
  await admin.createProject({ organization: "acme", id: "b" }, options);

  const taken = await t.throwsAsync(
    admin.updateProject(
      { organization: "acme", project: "b", audience: "https://api.a.example", updateMask: create(FieldMaskSchema, { paths: ["audience"] }) },
      options,
    ),
    { instanceOf: ConnectError },
  );
  t.is(taken?.code, Code.AlreadyExists);
  const copied = await t.throwsAsync(
    admin.createProject({ organization: "acme", id: "c", audience: "https://api.a.example" }, options),
    { instanceOf: ConnectError },
  );
  t.is(copied?.code, Code.AlreadyExists);
  const squat = await t.throwsAsync(
    admin.updateProject(
      { organization: "acme", project: "b", audience: "http://iam.test/services/oauth2/acme/future", updateMask: create(FieldMaskSchema, { paths: ["audience"] }) },
      options,
    ),
    { instanceOf: ConnectError },
  );
  t.is(squat?.code, Code.InvalidArgument, "the default audience of a project not created yet cannot be squatted");
  t.is((await admin.getProject({ organization: "acme", project: "b" }, options)).project?.audience, "http://iam.test/services/oauth2/acme/b");
  const missing = await t.throwsAsync(admin.getProject({ organization: "acme", project: "c" }, options), { instanceOf: ConnectError });
  t.is(missing?.code, Code.NotFound);
});
