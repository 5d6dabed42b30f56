// The field violations of an extrepo error, decoded from the
// google.rpc.BadRequest detail that INVALID_ARGUMENT carries in its
// grpc-status-details-bin trailer.
import { ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  type BadRequest_FieldViolation,
} from "./gen/google/rpc/error_details_pb.js";

/**
 * The wrong fields of a failed call, one violation per field (`field` is its
 * name, `description` says what is wrong), all reported at once. Empty for an
 * error that carries none: another status code, or no ConnectError at all.
 */
export function fieldViolations(err: unknown): BadRequest_FieldViolation[] {
  return ConnectError.from(err)
    .findDetails(BadRequestSchema)
    .flatMap((detail) => detail.fieldViolations);
}
