package io.extrepo.client;

import io.extrepo.v1.ListMeta;
import io.extrepo.v1.ListRequest;
import io.extrepo.v1.ListResponse;
import io.extrepo.v1.Repository;
import io.extrepo.v1.RepositoryServiceGrpc.RepositoryServiceBlockingStub;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * Every page of a listing: {@code List}, then {@code List} again for the page that {@code
 * meta.next} names, until there is none. Pages are fetched lazily, as the iteration reaches them;
 * a failed call throws its {@code StatusRuntimeException} from the iterator.
 *
 * <pre>{@code
 * for (Repository repo : Listings.all(client, ListRequest.newBuilder().setRegistry("registry.local").build())) {
 *   System.out.println(repo.getName());
 * }
 * }</pre>
 */
public final class Listings {
  private Listings() {}

  /**
   * Every response of the listing that {@code request} asks for, page after page; filters and the
   * limit (per call) stay the request's.
   *
   * @param client a stub with credentials
   * @param request the first page's request
   * @return an iterable that calls List as it is iterated, each time it is iterated
   */
  public static Iterable<ListResponse> pages(
      RepositoryServiceBlockingStub client, ListRequest request) {
    return () ->
        new Iterator<>() {
          private ListRequest next = request;

          @Override
          public boolean hasNext() {
            return next != null;
          }

          @Override
          public ListResponse next() {
            if (next == null) {
              throw new NoSuchElementException();
            }
            ListResponse page = client.list(next);
            next = nextRequest(next, page.getMeta());
            return page;
          }
        };
  }

  /**
   * Every repository of the listing that {@code request} asks for, in name order, page after page
   * (see {@link #pages}).
   *
   * @param client a stub with credentials
   * @param request the first page's request
   * @return an iterable that calls List as it is iterated
   */
  public static Iterable<Repository> all(RepositoryServiceBlockingStub client, ListRequest request) {
    return () -> stream(client, request).iterator();
  }

  /**
   * {@link #all} as a lazy stream: {@code Listings.stream(client, request).limit(10)} fetches only
   * the pages it needs.
   *
   * @param client a stub with credentials
   * @param request the first page's request
   * @return a sequential stream of the repositories
   */
  public static Stream<Repository> stream(
      RepositoryServiceBlockingStub client, ListRequest request) {
    return StreamSupport.stream(pages(client, request).spliterator(), false)
        .flatMap(page -> page.getObjectsList().stream());
  }

  /**
   * The request for the page after the one whose meta is given, or null after the last page. The
   * one place that knows how the next page is named: today {@code meta.next} is a REST path whose
   * query string holds the ListRequest's fields (name, registry, limit, offset, cursor); the
   * namespace stays the request's, and a field the path leaves out keeps the request's value,
   * except the cursor, which would point back at the page just read.
   */
  static ListRequest nextRequest(ListRequest request, ListMeta meta) {
    if (!meta.hasNext()) {
      return null;
    }
    Map<String, String> query = new HashMap<>();
    String raw = URI.create(meta.getNext().getValue()).getRawQuery();
    if (raw != null) {
      for (String pair : raw.split("&")) {
        int eq = pair.indexOf('=');
        String key = eq < 0 ? pair : pair.substring(0, eq);
        String value = eq < 0 ? "" : pair.substring(eq + 1);
        query.put(
            URLDecoder.decode(key, StandardCharsets.UTF_8),
            URLDecoder.decode(value, StandardCharsets.UTF_8));
      }
    }
    ListRequest.Builder next = request.toBuilder().setCursor(query.getOrDefault("cursor", ""));
    if (query.containsKey("name")) {
      next.setName(query.get("name"));
    }
    if (query.containsKey("registry")) {
      next.setRegistry(query.get("registry"));
    }
    if (query.containsKey("limit")) {
      next.setLimit(number(query, "limit"));
    }
    if (query.containsKey("offset")) {
      next.setOffset(number(query, "offset"));
    }
    return next.build();
  }

  private static int number(Map<String, String> query, String key) {
    try {
      return Integer.parseInt(query.get(key));
    } catch (NumberFormatException e) {
      throw new IllegalStateException("meta.next's " + key + " is no number", e);
    }
  }
}
