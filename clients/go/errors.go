package extrepo

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
)

// FieldViolations returns the field violations of an INVALID_ARGUMENT error:
// one per wrong field of the request (Field is the field's name, Description
// says what is wrong), all reported at once. It returns nil for nil, for an
// error that is no gRPC status, and for a status without a
// google.rpc.BadRequest detail.
func FieldViolations(err error) []*errdetails.BadRequest_FieldViolation {
	st, ok := status.FromError(err)
	if !ok || st == nil {
		return nil
	}
	var violations []*errdetails.BadRequest_FieldViolation
	for _, detail := range st.Details() {
		if br, ok := detail.(*errdetails.BadRequest); ok {
			violations = append(violations, br.GetFieldViolations()...)
		}
	}
	return violations
}
