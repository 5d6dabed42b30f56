package gateway

import (
	"context"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
)

// ActionURIHeader names the audit log entry of a call that changed something
// (or tried to), as Docker Cloud answered every write: the resource URI of its
// Action (`/api/audit/v1/<namespace>/action/<uuid>/`). The server sends it as
// the `x-dockercloud-action-uri` trailer, because the entry is made at the end
// of the call, after the response headers (which carry x-request-id) left.
const ActionURIHeader = "X-DockerCloud-Action-URI"

const actionURIMetadata = "x-dockercloud-action-uri"

// setActionURI copies the call's action URI, if the server sent one, into the
// HTTP answer's headers; called before the status line is written, on success
// (successStatus) and on error (errorWriter.handle).
func setActionURI(ctx context.Context, w http.ResponseWriter) {
	md, ok := runtime.ServerMetadataFromContext(ctx)
	if !ok {
		return
	}
	if values := md.TrailerMD.Get(actionURIMetadata); len(values) > 0 && values[0] != "" {
		// Spelled as the original API spelled it (Set would write
		// X-Dockercloud-Action-Uri); header names are case-insensitive.
		w.Header()[ActionURIHeader] = []string{values[0]}
	}
}
