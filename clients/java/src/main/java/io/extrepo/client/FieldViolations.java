package io.extrepo.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.Status;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.List;

/**
 * The field violations of an extrepo error: an INVALID_ARGUMENT carries a {@code
 * google.rpc.BadRequest} in its {@code grpc-status-details-bin} trailer, with one violation per wrong
 * field of the request, all reported at once.
 *
 * <pre>{@code
 * try {
 *   client.create(request);
 * } catch (StatusRuntimeException e) {
 *   for (BadRequest.FieldViolation v : FieldViolations.of(e)) {
 *     System.err.println(v.getField() + ": " + v.getDescription());
 *   }
 * }
 * }</pre>
 */
public final class FieldViolations {
  private FieldViolations() {}

  /**
   * The field violations that {@code error} carries ({@code getField()} names the field, {@code
   * getDescription()} says what is wrong).
   *
   * @param error a failed call's exception ({@code StatusRuntimeException} or {@code
   *     StatusException}), or any other throwable
   * @return the violations, in the order the server gave them; empty for an error without a {@code
   *     BadRequest} detail, or that is no gRPC status at all
   */
  public static List<BadRequest.FieldViolation> of(Throwable error) {
    Status status = error == null ? null : StatusProto.fromThrowable(error);
    List<BadRequest.FieldViolation> violations = new ArrayList<>();
    if (status == null) {
      return violations;
    }
    for (Any detail : status.getDetailsList()) {
      if (detail.is(BadRequest.class)) {
        try {
          violations.addAll(detail.unpack(BadRequest.class).getFieldViolationsList());
        } catch (InvalidProtocolBufferException e) {
          // A detail that says it is a BadRequest but does not parse is not one.
        }
      }
    }
    return violations;
  }
}
