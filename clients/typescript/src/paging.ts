// Iterating over every page of a listing: List, then List again with the
// request that meta.next names, until there is no next page.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { CallOptions } from "@connectrpc/connect";
import {
  ListRequestSchema,
  type ListMeta,
  type ListRequest,
  type ListResponse,
  type Repository,
} from "./gen/extrepo/v1/repository_service_pb.js";
import type { RepositoryClient } from "./client.js";

/** A ListRequest, or the fields of one (`{ registry: "registry.local", limit: 50 }`). */
export type ListRequestInit = MessageInitShape<typeof ListRequestSchema>;

/**
 * Calls List with `request`, then again for each following page, and yields
 * each response in turn. Filters and the limit stay those of `request`; an
 * error rejects the iteration; leaving the loop early asks for no further page.
 */
export async function* listPages(
  client: RepositoryClient,
  request: ListRequestInit = {},
  options?: CallOptions,
): AsyncGenerator<ListResponse, void, undefined> {
  let next: ListRequest | undefined = create(ListRequestSchema, request);
  while (next) {
    const page = await client.list(next, options);
    yield page;
    next = nextListRequest(next, page.meta);
  }
}

/**
 * Yields every repository of the listing that `request` asks for, in name
 * order, fetching page after page (see listPages).
 *
 *     for await (const repo of listAll(client, { registry: "registry.local" })) {
 *       console.log(repo.name);
 *     }
 */
export async function* listAll(
  client: RepositoryClient,
  request: ListRequestInit = {},
  options?: CallOptions,
): AsyncGenerator<Repository, void, undefined> {
  for await (const page of listPages(client, request, options)) {
    yield* page.objects;
  }
}

/**
 * The request for the page after the one whose meta is given, or undefined
 * after the last page. The one place that knows how the next page is named:
 * today `meta.next` is a REST path whose query string holds the ListRequest's
 * fields (name, registry, limit, offset, cursor); the namespace stays the
 * request's, and a field the path leaves out keeps the request's value, except
 * the cursor, which would point back at the page just read.
 */
function nextListRequest(request: ListRequest, meta: ListMeta | undefined): ListRequest | undefined {
  if (meta?.next === undefined) {
    return undefined;
  }
  const query = new URL(meta.next, "http://extrepo.invalid").searchParams;
  const number = (key: string, fallback: number): number => {
    const value = query.get(key);
    if (value === null) {
      return fallback;
    }
    const n = Number(value);
    if (!Number.isInteger(n)) {
      throw new Error(`meta.next's ${key} is no number: ${JSON.stringify(value.slice(0, 20))}`);
    }
    return n;
  };
  return create(ListRequestSchema, {
    namespace: request.namespace,
    name: query.get("name") ?? request.name,
    registry: query.get("registry") ?? request.registry,
    limit: number("limit", request.limit),
    offset: number("offset", request.offset),
    cursor: query.get("cursor") ?? "",
  });
}
