package io.extrepo.client;

import io.grpc.CallCredentials;
import io.grpc.Metadata;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Objects;
import java.util.concurrent.Executor;

/**
 * Call credentials for extrepo: every call carries the metadata entry {@code authorization: Basic
 * base64(username:apikey)}, an account's user name and one of its API keys.
 *
 * <p>Attach them to a stub with {@code stub.withCallCredentials(new BasicCredentials(user, key))}.
 * They are sent on plaintext channels too, because extrepo's server listens in plaintext behind
 * whatever terminates TLS; use a TLS channel wherever the network is not trusted.
 */
public final class BasicCredentials extends CallCredentials {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final String headerValue;

  /**
   * @param username the extrepo account's user name
   * @param apiKey an API key of that account (not a password)
   */
  public BasicCredentials(String username, String apiKey) {
    Objects.requireNonNull(username, "username");
    Objects.requireNonNull(apiKey, "apiKey");
    String pair = username + ":" + apiKey;
    this.headerValue =
        "Basic " + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public void applyRequestMetadata(
      RequestInfo requestInfo, Executor appExecutor, MetadataApplier applier) {
    // Nothing to look up: the header is computed once, so apply it on the
    // calling thread instead of hopping to appExecutor.
    Metadata headers = new Metadata();
    headers.put(AUTHORIZATION, headerValue);
    applier.apply(headers);
  }
}
