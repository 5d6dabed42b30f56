package gateway

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The description's error body (extrepo.rest.v1.Error, rendered v1Error) is
// the body errors.go writes: the same keys, every one required, and every
// operation answers it for its errors. tests/rest/test_hardening.py checks
// real answers against it.
func TestOpenAPIErrorSchemaIsTheErrorBody(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct{ Schema map[string]any }
		}
		Definitions map[string]struct {
			Properties map[string]map[string]any
			Required   []string
		}
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	def, ok := doc.Definitions["v1Error"]
	if !ok {
		t.Fatalf("no v1Error definition: %v", doc.Definitions)
	}
	var keys []string
	typ := reflect.TypeFor[errorBody]()
	for i := range typ.NumField() {
		keys = append(keys, strings.Split(typ.Field(i).Tag.Get("json"), ",")[0])
	}
	var props []string
	for k := range def.Properties {
		props = append(props, k)
	}
	slices.Sort(keys)
	slices.Sort(props)
	required := slices.Sorted(slices.Values(def.Required))
	if !slices.Equal(keys, props) || !slices.Equal(keys, required) {
		t.Errorf("errorBody keys %v, v1Error properties %v, required %v", keys, props, required)
	}
	if _, ok := doc.Definitions["rpcStatus"]; ok {
		t.Error("the description still declares rpcStatus, which the gateway never sends")
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			for _, code := range []string{"default", "400", "401", "403", "429", "503"} {
				if ref := op.Responses[code].Schema["$ref"]; ref != "#/definitions/v1Error" {
					t.Errorf("%s %s: response %s is %v, want v1Error", method, path, code, ref)
				}
			}
		}
	}
}
