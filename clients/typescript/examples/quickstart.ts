// Connects with Basic credentials, then creates, gets, lists, updates and
// deletes a repository, and handles a NOT_FOUND and an INVALID_ARGUMENT.
import { Code, ConnectError } from "@connectrpc/connect";
import { createRepositoryClient, fieldViolations, listAll } from "@extrepo/client";

const client = createRepositoryClient({
  address: process.env.EXTREPO_ADDRESS ?? "127.0.0.1:50051",
  username: process.env.EXTREPO_USERNAME ?? "alice",
  apiKey: process.env.EXTREPO_API_KEY ?? "",
});
const name = "registry.local/quickstart/ts-app";

const created = await client.create({ name, username: "puller", password: "s3cret" });
console.log("created", created.repository?.resourceUri);

const got = await client.get({ name });
console.log("got", got.repository?.name, "in_use:", got.repository?.inUse);

// Every repository on registry.local, page after page.
for await (const repo of listAll(client, { registry: "registry.local" })) {
  console.log("listed", repo.name);
}

// Only the password changes: the username is left out, so it is kept.
const updated = await client.update({ name, password: "n3w-s3cret" });
console.log("updated", updated.repository?.name);

await client.delete({ name });
console.log("deleted", name);

try {
  await client.get({ name });
} catch (err) {
  if (ConnectError.from(err).code !== Code.NotFound) throw err;
  console.log("not found after delete, as expected");
}

// A request with mistakes: each wrong field is named.
try {
  await client.create({ name: "ubuntu:latest" });
} catch (err) {
  for (const v of fieldViolations(err)) console.log(`invalid ${v.field}: ${v.description}`);
}
