// The full cycle of RepositoryService against a live extrepo server, through
// the built package. The server, a user and an API key come from
// tests/support/with_server.py (`make test-typescript`), which passes them as
// EXTREPO_ADDRESS, EXTREPO_USERNAME and EXTREPO_API_KEY.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  BadRequestSchema,
  RepositoryService,
  UpdateRequestSchema,
  basicAuth,
  createRepositoryClient,
  fieldViolations,
  listAll,
  listPages,
  type RepositoryClient,
} from "@extrepo/client";

function env(key: string): string {
  const value = process.env[key];
  if (!value) {
    throw new Error(`${key} is not set: run the tests through tests/support/with_server.py`);
  }
  return value;
}

const options = {
  address: env("EXTREPO_ADDRESS"),
  username: env("EXTREPO_USERNAME"),
  apiKey: env("EXTREPO_API_KEY"),
};

/** The gRPC status code a call failed with (the call must fail). */
async function codeOf(call: Promise<unknown>): Promise<Code> {
  try {
    await call;
  } catch (err) {
    return ConnectError.from(err).code;
  }
  assert.fail("the call succeeded but should have failed");
}

describe("RepositoryService over gRPC", () => {
  const client = createRepositoryClient(options);
  // Unique per run, so the test also passes against a long-running server.
  const suffix = `${process.pid}-${Date.now()}`;
  const name = `registry.local/ts-${suffix}/app`;
  const other = `localhost:5000/ts-${suffix}/other`;

  it("creates, gets, lists, updates and deletes a repository", async () => {
    const created = (await client.create({ name, username: "puller", password: "s3cret" }))
      .repository;
    assert.ok(created, "Create returned no repository");
    assert.equal(created.name, name);
    assert.equal(created.inUse, false);
    assert.equal(created.namespace, options.username);
    assert.equal(
      created.resourceUri,
      `/api/repo/v1/${options.username}/repository/${name}/`,
    );
    assert.equal(created.registry, `/api/repo/v1/${options.username}/registry/registry.local/`);
    assert.ok(created.createTime, "no create_time");

    const got = (await client.get({ name })).repository;
    assert.ok(got);
    assert.equal(got.name, name);
    assert.equal(got.resourceUri, created.resourceUri);

    // A second repository on another registry, so the filters have something
    // to leave out.
    await client.create({ name: other, username: "puller", password: "s3cret" });
    const byName = await client.list({ name });
    assert.deepEqual(
      byName.objects.map((r) => r.name),
      [name],
    );
    assert.equal(byName.meta?.totalCount, 1);
    const byRegistry = await client.list({ registry: "localhost:5000" });
    assert.deepEqual(
      byRegistry.objects.map((r) => r.name),
      [other],
    );

    // Only the password: `username` stays unset, so the server keeps it.
    const request = create(UpdateRequestSchema, { name, password: "n3w-s3cret" });
    assert.equal(request.username, undefined);
    const updated = (await client.update(request)).repository;
    assert.ok(updated?.updateTime && created.createTime);
    assert.equal(updated.name, name);
    assert.ok(timestampMs(updated.updateTime) >= timestampMs(created.createTime));

    await client.delete({ name });
    assert.equal(await codeOf(client.get({ name })), Code.NotFound);
    assert.equal(await codeOf(client.delete({ name })), Code.NotFound);
    assert.deepEqual((await client.list({ name })).objects, []);
    await client.delete({ name: other });
  });

  it("answers ALREADY_EXISTS for a duplicate and INVALID_ARGUMENT for an empty update", async () => {
    const dup = `registry.local/ts-${suffix}/dup`;
    await client.create({ name: dup, username: "u", password: "p" });
    assert.equal(
      await codeOf(client.create({ name: dup, username: "u", password: "p" })),
      Code.AlreadyExists,
    );
    // An update that sends neither username nor password changes nothing.
    assert.equal(await codeOf(client.update({ name: dup })), Code.InvalidArgument);
    await client.delete({ name: dup });
  });

  it("answers UNAUTHENTICATED for a wrong API key", async () => {
    const wrong = createRepositoryClient({ ...options, apiKey: `${options.apiKey}x` });
    assert.equal(await codeOf(wrong.list({})), Code.Unauthenticated);
  });
});

/** A client whose List calls are counted, through one more interceptor. */
function countingClient(): { client: RepositoryClient; lists: () => number } {
  let lists = 0;
  const transport = createGrpcTransport({
    baseUrl: `http://${options.address}`,
    interceptors: [
      basicAuth(options.username, options.apiKey),
      (next) => async (req) => {
        if (req.method.name === "List") lists += 1;
        return next(req);
      },
    ],
  });
  return { client: createClient(RepositoryService, transport), lists: () => lists };
}

describe("helpers", () => {
  const suffix = `${process.pid}-${Date.now()}`;
  const registry = `pages-${suffix}.example.io`;
  const names = Array.from({ length: 7 }, (_, i) => `${registry}/team/app-${i}`);

  it("listAll and listPages follow meta.next across every page", async () => {
    const { client, lists } = countingClient();
    for (const name of [...names, `other-${suffix}.example.io/team/app`]) {
      await client.create({ name, username: "u", password: "p" });
    }
    const request = { registry, limit: 3 };

    const sizes: number[] = [];
    for await (const page of listPages(client, request)) {
      sizes.push(page.objects.length);
      assert.equal(page.meta?.totalCount, 7);
    }
    assert.deepEqual(sizes, [3, 3, 1]);
    assert.equal(lists(), 3);

    const seen: string[] = [];
    for await (const repo of listAll(client, request)) seen.push(repo.name);
    assert.deepEqual(seen, names);

    // Leaving the loop early asks for no further page.
    const before = lists();
    for await (const repo of listAll(client, request)) {
      assert.equal(repo.name, names[0]);
      break;
    }
    assert.equal(lists() - before, 1);

    for (const name of [...names, `other-${suffix}.example.io/team/app`]) {
      await client.delete({ name });
    }
  });

  it("fieldViolations names every wrong field of an INVALID_ARGUMENT", async () => {
    const client = createRepositoryClient(options);
    let error: unknown;
    try {
      for await (const repo of listAll(client, { limit: 1000, offset: -1 })) {
        assert.fail(`yielded ${repo.name} for a bad request`);
      }
    } catch (err) {
      error = err;
    }
    assert.equal(ConnectError.from(error).code, Code.InvalidArgument);
    const violations = fieldViolations(error);
    assert.deepEqual(violations.map((v) => v.field).sort(), ["limit", "offset"]);
    assert.ok(violations.every((v) => v.description.length > 0));
    // The schema is exported for other uses of the details.
    assert.equal(ConnectError.from(error).findDetails(BadRequestSchema).length, 1);
  });

  it("fieldViolations is empty for other errors", async () => {
    const client = createRepositoryClient(options);
    let error: unknown;
    try {
      await client.get({ name: "registry.local/never/made" });
    } catch (err) {
      error = err;
    }
    assert.equal(ConnectError.from(error).code, Code.NotFound);
    assert.deepEqual(fieldViolations(error), []);
    assert.deepEqual(fieldViolations(new TypeError("not a call")), []);
    assert.deepEqual(fieldViolations(undefined), []);
  });
});

describe("README", () => {
  it("shows examples/quickstart.ts verbatim", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const example = readFileSync(new URL("../../examples/quickstart.ts", import.meta.url), "utf8");
    assert.ok(readme.includes("```ts\n" + example + "```"), "README.md's example differs from examples/quickstart.ts");
  });
});
