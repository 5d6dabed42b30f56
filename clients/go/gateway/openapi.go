package gateway

import (
	_ "embed"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// openAPI is the description protoc-gen-openapiv2 generated from the proto
// (`make generate`), built into the binary so it always matches the routes.
//
//go:embed openapi/extrepo.swagger.json
var openAPI []byte

// OpenAPI returns the OpenAPI v2 description the gateway serves.
func OpenAPI() []byte { return openAPI }

func serveOpenAPI(w http.ResponseWriter, r *http.Request, e *errorWriter) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		e.write(w, r, http.StatusMethodNotAllowed, status.New(codes.Unimplemented,
			"method "+prefix(r.Method)+" is not allowed on "+OpenAPIPath+"; allowed: GET, HEAD"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}
