package io.extrepo.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Timestamp;
import io.extrepo.v1.CreateRequest;
import io.extrepo.v1.DeleteRequest;
import io.extrepo.v1.GetRequest;
import io.extrepo.v1.ListRequest;
import io.extrepo.v1.ListResponse;
import io.extrepo.v1.Repository;
import io.extrepo.v1.RepositoryServiceGrpc;
import io.extrepo.v1.RepositoryServiceGrpc.RepositoryServiceBlockingStub;
import io.extrepo.v1.UpdateRequest;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The full cycle of RepositoryService against a live extrepo server. The server, a user and an API
 * key come from tests/support/with_server.py ({@code make test-java}), which passes them as
 * EXTREPO_ADDRESS, EXTREPO_USERNAME and EXTREPO_API_KEY.
 */
class RepositoryServiceTest {
  private static String username;
  private static String apiKey;
  private static ManagedChannel channel;
  private static RepositoryServiceBlockingStub client;
  // Unique per run, so the test also passes against a long-running server.
  private static final String SUFFIX = Long.toString(System.nanoTime(), 36);

  private static String env(String key) {
    String value = System.getenv(key);
    if (value == null || value.isEmpty()) {
      throw new IllegalStateException(
          key + " is not set: run the tests through tests/support/with_server.py");
    }
    return value;
  }

  @BeforeAll
  static void connect() {
    username = env("EXTREPO_USERNAME");
    apiKey = env("EXTREPO_API_KEY");
    channel =
        Grpc.newChannelBuilder(env("EXTREPO_ADDRESS"), InsecureChannelCredentials.create())
            .build();
    client =
        RepositoryServiceGrpc.newBlockingStub(channel)
            .withCallCredentials(new BasicCredentials(username, apiKey));
  }

  @AfterAll
  static void disconnect() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  /** The status code the call failed with; fails the test if it succeeded. */
  private static Status.Code codeOf(Executable call) {
    return assertThrows(StatusRuntimeException.class, call).getStatus().getCode();
  }

  private static CreateRequest createRequest(String name) {
    return CreateRequest.newBuilder()
        .setName(name)
        .setUsername("puller")
        .setPassword("s3cret")
        .build();
  }

  private static long nanos(Timestamp t) {
    return t.getSeconds() * 1_000_000_000L + t.getNanos();
  }

  private static List<String> names(ListResponse page) {
    return page.getObjectsList().stream().map(Repository::getName).toList();
  }

  @Test
  void createGetListUpdateDelete() {
    String name = "registry.local/java-" + SUFFIX + "/app";
    String other = "localhost:5000/java-" + SUFFIX + "/other";

    Repository created = client.create(createRequest(name)).getRepository();
    assertEquals(name, created.getName());
    assertFalse(created.getInUse());
    assertEquals(username, created.getNamespace());
    assertEquals("/api/repo/v1/" + username + "/repository/" + name + "/", created.getResourceUri());
    assertEquals("/api/repo/v1/" + username + "/registry/registry.local/", created.getRegistry());
    assertTrue(created.hasCreateTime());

    Repository got = client.get(GetRequest.newBuilder().setName(name).build()).getRepository();
    assertEquals(created.getName(), got.getName());
    assertEquals(created.getResourceUri(), got.getResourceUri());

    // A second repository on another registry, so the filters have something to leave out.
    client.create(createRequest(other));
    ListResponse byName = client.list(ListRequest.newBuilder().setName(name).build());
    assertEquals(List.of(name), names(byName));
    assertEquals(1, byName.getMeta().getTotalCount());
    ListResponse byRegistry =
        client.list(ListRequest.newBuilder().setRegistry("localhost:5000").build());
    assertEquals(List.of(other), names(byRegistry));

    // Only the password: `username` is not set, so the server keeps it.
    UpdateRequest update = UpdateRequest.newBuilder().setName(name).setPassword("n3w").build();
    assertFalse(update.hasUsername());
    Repository updated = client.update(update).getRepository();
    assertEquals(name, updated.getName());
    assertTrue(nanos(updated.getUpdateTime()) >= nanos(created.getCreateTime()));

    client.delete(DeleteRequest.newBuilder().setName(name).build());
    assertEquals(
        Status.Code.NOT_FOUND, codeOf(() -> client.get(GetRequest.newBuilder().setName(name).build())));
    assertEquals(
        Status.Code.NOT_FOUND,
        codeOf(() -> client.delete(DeleteRequest.newBuilder().setName(name).build())));
    assertEquals(List.of(), names(client.list(ListRequest.newBuilder().setName(name).build())));
    client.delete(DeleteRequest.newBuilder().setName(other).build());
  }

  @Test
  void duplicateIsAlreadyExistsAndEmptyUpdateIsInvalid() {
    String name = "registry.local/java-" + SUFFIX + "/dup";
    client.create(createRequest(name));
    assertEquals(Status.Code.ALREADY_EXISTS, codeOf(() -> client.create(createRequest(name))));
    // Neither username nor password: nothing to change.
    assertEquals(
        Status.Code.INVALID_ARGUMENT,
        codeOf(() -> client.update(UpdateRequest.newBuilder().setName(name).build())));
    client.delete(DeleteRequest.newBuilder().setName(name).build());
  }

  @Test
  void wrongApiKeyIsUnauthenticated() {
    RepositoryServiceBlockingStub wrong =
        RepositoryServiceGrpc.newBlockingStub(channel)
            .withCallCredentials(new BasicCredentials(username, apiKey + "x"));
    assertEquals(
        Status.Code.UNAUTHENTICATED, codeOf(() -> wrong.list(ListRequest.getDefaultInstance())));
  }

  @Test
  void readmeShowsTheQuickstartVerbatim() throws IOException {
    String readme = Files.readString(Path.of("README.md"), StandardCharsets.UTF_8);
    String example =
        Files.readString(
            Path.of("examples/quickstart/src/main/java/io/extrepo/examples/Quickstart.java"),
            StandardCharsets.UTF_8);
    assertTrue(
        readme.contains("```java\n" + example + "```"),
        "README.md's example differs from Quickstart.java");
  }
}
