package gateway

import (
	"context"
	"encoding/json"
	"sync"

	"google.golang.org/genproto/googleapis/api/visibility"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// grpcOnlyRestriction is the google.api.field_visibility restriction of the
// response fields meant for gRPC callers only (ListResponse.next_page_token):
// REST answers are the original API's JSON and never show them.
const grpcOnlyRestriction = "GRPC"

// grpcOnlyFields caches, per response message type, the JSON names of its
// gRPC-only fields (none for most types).
var grpcOnlyFields sync.Map // protoreflect.FullName -> []string

func hiddenFieldsOf(d protoreflect.MessageDescriptor) []string {
	if cached, ok := grpcOnlyFields.Load(d.FullName()); ok {
		return cached.([]string)
	}
	var names []string
	fields := d.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		rule, _ := proto.GetExtension(f.Options(), visibility.E_FieldVisibility).(*visibility.VisibilityRule)
		if rule.GetRestriction() == grpcOnlyRestriction {
			names = append(names, string(f.Name())) // UseProtoNames: the JSON key
		}
	}
	grpcOnlyFields.Store(d.FullName(), names)
	return names
}

// withoutGRPCOnlyFields is the mux's ForwardResponseRewriter: a response with
// gRPC-only fields is answered as JSON without them, so that REST clients
// written against the original API see exactly its envelope. Every other
// response passes as it is.
func withoutGRPCOnlyFields(_ context.Context, resp proto.Message) (any, error) {
	hidden := hiddenFieldsOf(resp.ProtoReflect().Descriptor())
	if len(hidden) == 0 {
		return resp, nil
	}
	buf, err := marshalOptions.Marshal(resp)
	if err != nil {
		return nil, err
	}
	var object map[string]json.RawMessage
	if err := json.Unmarshal(buf, &object); err != nil {
		return nil, err
	}
	for _, name := range hidden {
		delete(object, name)
	}
	// encoding/json writes the keys sorted: for ListResponse ("meta",
	// "objects") the order protojson writes too.
	out, err := json.Marshal(object)
	return json.RawMessage(out), err
}
