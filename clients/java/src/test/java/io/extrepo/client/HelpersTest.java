package io.extrepo.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.StringValue;
import com.google.rpc.BadRequest;
import io.extrepo.v1.CreateRequest;
import io.extrepo.v1.DeleteRequest;
import io.extrepo.v1.GetRequest;
import io.extrepo.v1.ListMeta;
import io.extrepo.v1.ListRequest;
import io.extrepo.v1.ListResponse;
import io.extrepo.v1.Repository;
import io.extrepo.v1.RepositoryServiceGrpc;
import io.extrepo.v1.RepositoryServiceGrpc.RepositoryServiceBlockingStub;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Listings and FieldViolations against a live extrepo server (EXTREPO_ADDRESS, EXTREPO_USERNAME,
 * EXTREPO_API_KEY from tests/support/with_server.py), and the next-page rule on its own.
 */
class HelpersTest {
  private static final AtomicInteger LISTS = new AtomicInteger();
  private static final String SUFFIX = Long.toString(System.nanoTime(), 36);
  private static ManagedChannel channel;
  private static RepositoryServiceBlockingStub client;

  private static String env(String key) {
    String value = System.getenv(key);
    if (value == null || value.isEmpty()) {
      throw new IllegalStateException(
          key + " is not set: run the tests through tests/support/with_server.py");
    }
    return value;
  }

  /** Counts the List calls made on the channel. */
  private static final class CountLists implements ClientInterceptor {
    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(
        MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      if (method.getFullMethodName().endsWith("/List")) {
        LISTS.incrementAndGet();
      }
      return next.newCall(method, options);
    }
  }

  @BeforeAll
  static void connect() {
    channel =
        Grpc.newChannelBuilder(env("EXTREPO_ADDRESS"), InsecureChannelCredentials.create())
            .intercept(new CountLists())
            .build();
    client =
        RepositoryServiceGrpc.newBlockingStub(channel)
            .withCallCredentials(
                new BasicCredentials(env("EXTREPO_USERNAME"), env("EXTREPO_API_KEY")));
  }

  @AfterAll
  static void disconnect() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  @Test
  void listingsFollowEveryPage() {
    String registry = "pages-" + SUFFIX + ".example.io";
    List<String> names =
        IntStream.range(0, 7).mapToObj(i -> registry + "/team/app-" + i).toList();
    List<String> created = new ArrayList<>(names);
    created.add("other-" + SUFFIX + ".example.io/team/app");
    for (String name : created) {
      client.create(
          CreateRequest.newBuilder().setName(name).setUsername("u").setPassword("p").build());
    }
    ListRequest request = ListRequest.newBuilder().setRegistry(registry).setLimit(3).build();

    LISTS.set(0);
    List<Integer> sizes = new ArrayList<>();
    for (ListResponse page : Listings.pages(client, request)) {
      sizes.add(page.getObjectsCount());
      assertEquals(7, page.getMeta().getTotalCount());
    }
    assertEquals(List.of(3, 3, 1), sizes);
    assertEquals(3, LISTS.get());

    List<String> seen = new ArrayList<>();
    for (Repository repo : Listings.all(client, request)) {
      seen.add(repo.getName());
    }
    assertEquals(names, seen);

    // A stream fetches only the pages it needs.
    LISTS.set(0);
    assertEquals(
        names.subList(0, 2),
        Listings.stream(client, request).limit(2).map(Repository::getName).toList());
    assertEquals(1, LISTS.get());

    for (String name : created) {
      client.delete(DeleteRequest.newBuilder().setName(name).build());
    }
  }

  @Test
  void fieldViolationsNameEveryWrongField() {
    ListRequest bad = ListRequest.newBuilder().setLimit(1000).setOffset(-1).build();
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class, () -> Listings.all(client, bad).iterator().next());
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    List<BadRequest.FieldViolation> violations = FieldViolations.of(e);
    assertEquals(
        List.of("limit", "offset"),
        violations.stream().map(BadRequest.FieldViolation::getField).sorted().toList());
    assertTrue(violations.stream().noneMatch(v -> v.getDescription().isEmpty()));
  }

  @Test
  void fieldViolationsOfOtherErrorsAreEmpty() {
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () -> client.get(GetRequest.newBuilder().setName("registry.local/never/made").build()));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
    assertEquals(List.of(), FieldViolations.of(e));
    assertEquals(List.of(), FieldViolations.of(new IllegalStateException("not a call")));
    assertEquals(List.of(), FieldViolations.of(null));
  }

  private static ListMeta next(String path) {
    return ListMeta.newBuilder().setNext(StringValue.of(path)).build();
  }

  @Test
  void nextRequestTakesTheQueryOfMetaNext() {
    ListRequest request =
        ListRequest.newBuilder()
            .setNamespace("acme")
            .setRegistry("registry.local")
            .setLimit(2)
            .setCursor("old")
            .build();
    ListRequest next =
        Listings.nextRequest(
            request,
            next("/api/repo/v1/acme/repository/?registry=registry.local&limit=2&offset=2&cursor=eyJk%3D"));
    assertEquals(
        request.toBuilder().setOffset(2).setCursor("eyJk=").build(), next, "the next page");

    // A field the path leaves out keeps the request's value, except the cursor.
    next = Listings.nextRequest(request, next("/api/repo/v1/repository/?offset=4"));
    assertEquals(request.toBuilder().setOffset(4).setCursor("").build(), next);

    assertNull(Listings.nextRequest(request, ListMeta.getDefaultInstance()), "after the last page");
    assertThrows(
        IllegalStateException.class,
        () -> Listings.nextRequest(request, next("/api/repo/v1/repository/?limit=many")));
    assertFalse(request.getCursor().isEmpty(), "the caller's request is unchanged");
  }
}
