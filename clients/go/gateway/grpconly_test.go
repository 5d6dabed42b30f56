package gateway

import (
	"context"
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"

	extrepov1 "github.com/extrepo/extrepo/clients/go/extrepo/v1"
)

// A REST List answer is the original envelope: meta and objects, without the
// gRPC-only next_page_token, which protojson would otherwise write (even "").
func TestListAnswersHideTheGRPCOnlyToken(t *testing.T) {
	for _, token := range []string{"", "c3VyZQ"} {
		resp := &extrepov1.ListResponse{
			Meta:          &extrepov1.ListMeta{Limit: 1, Next: wrapperspb.String("/api/repo/v1/repository/?limit=1&offset=1")},
			Objects:       []*extrepov1.Repository{{Name: "reg.io/app"}},
			NextPageToken: token,
		}
		out, err := withoutGRPCOnlyFields(context.Background(), resp)
		if err != nil {
			t.Fatal(err)
		}
		raw, ok := out.(json.RawMessage)
		if !ok {
			t.Fatalf("token %q: not rewritten: %T", token, out)
		}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatal(err)
		}
		if len(body) != 2 || body["meta"] == nil || body["objects"] == nil {
			t.Errorf("token %q: keys of %s", token, raw)
		}
	}
	// Messages without gRPC-only fields pass untouched (response_body still applies).
	get := &extrepov1.GetResponse{Repository: &extrepov1.Repository{Name: "reg.io/app"}}
	if out, _ := withoutGRPCOnlyFields(context.Background(), get); out != any(get) {
		t.Errorf("GetResponse rewritten: %T", out)
	}
}
