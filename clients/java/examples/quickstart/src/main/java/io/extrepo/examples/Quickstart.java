package io.extrepo.examples;

import com.google.rpc.BadRequest;
import io.extrepo.client.BasicCredentials;
import io.extrepo.client.FieldViolations;
import io.extrepo.client.Listings;
import io.extrepo.v1.CreateRequest;
import io.extrepo.v1.DeleteRequest;
import io.extrepo.v1.GetRequest;
import io.extrepo.v1.ListRequest;
import io.extrepo.v1.Repository;
import io.extrepo.v1.RepositoryServiceGrpc;
import io.extrepo.v1.UpdateRequest;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.TimeUnit;

/**
 * Connects with Basic credentials, then creates, gets, lists, updates and deletes a repository,
 * and handles a NOT_FOUND and an INVALID_ARGUMENT.
 */
public final class Quickstart {
  public static void main(String[] args) throws InterruptedException {
    String address = System.getenv().getOrDefault("EXTREPO_ADDRESS", "127.0.0.1:50051");
    String username = System.getenv().getOrDefault("EXTREPO_USERNAME", "alice");
    String apiKey = System.getenv().getOrDefault("EXTREPO_API_KEY", "");

    // Plaintext, as `extrepo-server serve` listens; TlsChannelCredentials.create() for TLS.
    ManagedChannel channel =
        Grpc.newChannelBuilder(address, InsecureChannelCredentials.create()).build();
    try {
      var client =
          RepositoryServiceGrpc.newBlockingStub(channel)
              .withCallCredentials(new BasicCredentials(username, apiKey));
      String name = "registry.local/quickstart/java-app";

      Repository created =
          client
              .create(
                  CreateRequest.newBuilder()
                      .setName(name)
                      .setUsername("puller")
                      .setPassword("s3cret")
                      .build())
              .getRepository();
      System.out.println("created " + created.getResourceUri());

      Repository got = client.get(GetRequest.newBuilder().setName(name).build()).getRepository();
      System.out.println("got " + got.getName() + " in_use: " + got.getInUse());

      // Every repository on registry.local, page after page.
      ListRequest onRegistry = ListRequest.newBuilder().setRegistry("registry.local").build();
      for (Repository repo : Listings.all(client, onRegistry)) {
        System.out.println("listed " + repo.getName());
      }

      // Only the password changes: the username is not set, so it is kept.
      Repository updated =
          client
              .update(UpdateRequest.newBuilder().setName(name).setPassword("n3w-s3cret").build())
              .getRepository();
      System.out.println("updated " + updated.getName());

      client.delete(DeleteRequest.newBuilder().setName(name).build());
      System.out.println("deleted " + name);

      try {
        client.get(GetRequest.newBuilder().setName(name).build());
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.NOT_FOUND) {
          throw e;
        }
        System.out.println("not found after delete, as expected");
      }

      // A request with mistakes: each wrong field is named.
      try {
        client.create(CreateRequest.newBuilder().setName("ubuntu:latest").build());
      } catch (StatusRuntimeException e) {
        for (BadRequest.FieldViolation v : FieldViolations.of(e)) {
          System.out.println("invalid " + v.getField() + ": " + v.getDescription());
        }
      }
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
