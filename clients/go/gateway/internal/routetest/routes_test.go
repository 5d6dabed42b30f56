package routetest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"github.com/extrepo/extrepo/clients/go/gateway"
	routetestv1 "github.com/extrepo/extrepo/clients/go/gateway/internal/routetest/gen/routetest/v1"
)

// call is what one request made of the RPC it reached.
type call struct {
	rpc                             string // e.g. Get; "" when no RPC was reached
	namespace, name, id, repository string
}

// recorder keeps the last call; both test servers write to it.
type recorder struct{ last *call }

func (r recorder) record(ctx context.Context, req *routetestv1.RouteRequest) (*routetestv1.RouteReply, error) {
	method, _ := runtime.RPCMethod(ctx) // "/routetest.v1.RepositoryRoutes/Get"
	*r.last = call{method[strings.LastIndexByte(method, '/')+1:],
		req.GetNamespace(), req.GetName(), req.GetId(), req.GetRepository()}
	return &routetestv1.RouteReply{}, nil
}

type repositoryRoutes struct {
	routetestv1.UnimplementedRepositoryRoutesServer
	recorder
}

func (s repositoryRoutes) Get(ctx context.Context, r *routetestv1.RouteRequest) (*routetestv1.RouteReply, error) {
	return s.record(ctx, r)
}
func (s repositoryRoutes) Update(ctx context.Context, r *routetestv1.RouteRequest) (*routetestv1.RouteReply, error) {
	return s.record(ctx, r)
}
func (s repositoryRoutes) Delete(ctx context.Context, r *routetestv1.RouteRequest) (*routetestv1.RouteReply, error) {
	return s.record(ctx, r)
}
func (s repositoryRoutes) ValidateRepository(ctx context.Context, r *routetestv1.RouteRequest) (*routetestv1.RouteReply, error) {
	return s.record(ctx, r)
}
func (s repositoryRoutes) List(ctx context.Context, r *routetestv1.RouteRequest) (*routetestv1.RouteReply, error) {
	return s.record(ctx, r)
}
func (s repositoryRoutes) Create(ctx context.Context, r *routetestv1.RouteRequest) (*routetestv1.RouteReply, error) {
	return s.record(ctx, r)
}

type usageRoutes struct {
	routetestv1.UnimplementedUsageRoutesServer
	recorder
}

func (s usageRoutes) GetUsage(ctx context.Context, r *routetestv1.RouteRequest) (*routetestv1.RouteReply, error) {
	return s.record(ctx, r)
}
func (s usageRoutes) DeleteUsage(ctx context.Context, r *routetestv1.RouteRequest) (*routetestv1.RouteReply, error) {
	return s.record(ctx, r)
}
func (s usageRoutes) ListUsages(ctx context.Context, r *routetestv1.RouteRequest) (*routetestv1.RouteReply, error) {
	return s.record(ctx, r)
}
func (s usageRoutes) CreateUsage(ctx context.Context, r *routetestv1.RouteRequest) (*routetestv1.RouteReply, error) {
	return s.record(ctx, r)
}

// newGateway builds what gateway.New builds, with the test services in the
// place of the real ones: the route table read from their proto, the real
// ServeMux and its options, the real wrapping (trailing slash, access log).
func newGateway(t *testing.T) (http.Handler, gateway.Routes, *call) {
	t.Helper()
	routes, err := gateway.RoutesOf(
		routetestv1.RepositoryRoutes_ServiceDesc.ServiceName,
		routetestv1.UsageRoutes_ServiceDesc.ServiceName,
	)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	mux := gateway.NewServeMux(nil, routes, logger)
	last := &call{}
	ctx := context.Background()
	// In the order of a row each in the gateway's service table.
	if err := routetestv1.RegisterRepositoryRoutesHandlerServer(ctx, mux, repositoryRoutes{recorder: recorder{last}}); err != nil {
		t.Fatal(err)
	}
	if err := routetestv1.RegisterUsageRoutesHandlerServer(ctx, mux, usageRoutes{recorder: recorder{last}}); err != nil {
		t.Fatal(err)
	}
	return gateway.Wrap(mux, logger), routes, last
}

const (
	app    = "reg.io/team/app"
	appURI = "/api/repo/v1/org/repository/reg.io/team/app/"
	uuid   = "0b5c6a4e-8d1f-4c2a-9e3b-7f6d5c4b3a21"
)

// route is one request and where it must go: an RPC and the fields the path
// (and query) gave it, or the gateway's own 404/405 with its Allow header.
type route struct {
	method, path string
	want         call
	status       int
	allow        string
}

var routes = []route{
	// The existing routes, every tricky spelling.
	{"GET", "/api/repo/v1/repository", call{rpc: "List"}, 200, ""},
	{"GET", "/api/repo/v1/repository/", call{rpc: "List"}, 200, ""},
	{"GET", "/api/repo/v1/org/repository/", call{rpc: "List", namespace: "org"}, 200, ""},
	{"POST", "/api/repo/v1/repository/", call{rpc: "Create"}, 200, ""},
	{"POST", "/api/repo/v1/org/repository", call{rpc: "Create", namespace: "org"}, 200, ""},
	{"GET", "/api/repo/v1/repository/reg.io/team/app/", call{rpc: "Get", name: app}, 200, ""},
	{"GET", "/api/repo/v1/org/repository/reg.io/team/app", call{rpc: "Get", namespace: "org", name: app}, 200, ""},
	{"GET", "/api/repo/v1/repository/reg.io%2Fteam%2Fapp/", call{rpc: "Get", name: app}, 200, ""},
	{"GET", "/api/repo/v1/repository/localhost:5000/team/app/", call{rpc: "Get", name: "localhost:5000/team/app"}, 200, ""},
	{"GET", "/api/repo/v1/repository/localhost:5000%2Fteam%2Fapp", call{rpc: "Get", name: "localhost:5000/team/app"}, 200, ""},
	{"GET", "/api/repo/v1/org/repository/reg.example.io:8443/a/b/c/d/", call{rpc: "Get", namespace: "org", name: "reg.example.io:8443/a/b/c/d"}, 200, ""},
	{"PATCH", "/api/repo/v1/repository/reg.io/team/app/", call{rpc: "Update", name: app}, 200, ""},
	{"DELETE", "/api/repo/v1/org/repository/reg.io/team/app", call{rpc: "Delete", namespace: "org", name: app}, 200, ""},
	// `repository//`: an empty name, which the server refuses.
	{"GET", "/api/repo/v1/repository//", call{rpc: "Get"}, 200, ""},
	// The namespace `repository` (reserved): the namespaced List wins.
	{"GET", "/api/repo/v1/repository/repository/", call{rpc: "List", namespace: "repository"}, 200, ""},
	// Names that end in the planned words are names.
	{"GET", "/api/repo/v1/repository/reg.io/team/validate/", call{rpc: "Get", name: "reg.io/team/validate"}, 200, ""},
	{"GET", "/api/repo/v1/org/repository/reg.io/team/usage/", call{rpc: "Get", namespace: "org", name: "reg.io/team/usage"}, 200, ""},
	{"PATCH", "/api/repo/v1/repository/", nil405, 405, "GET, POST"},
	{"PUT", "/api/repo/v1/org/repository/reg.io/team/app/", nil405, 405, "DELETE, GET, PATCH"},
	{"GET", "/api/repo/v1/", nil404, 404, ""},
	{"GET", "/api/repo/v1/org/registry/reg.io/", nil404, 404, ""},

	// ValidateRepository: POST <name>:validate, with or without namespace and slash.
	{"POST", "/api/repo/v1/repository/reg.io/team/app:validate", call{rpc: "ValidateRepository", name: app}, 200, ""},
	{"POST", "/api/repo/v1/repository/reg.io/team/app:validate/", call{rpc: "ValidateRepository", name: app}, 200, ""},
	{"POST", "/api/repo/v1/org/repository/reg.io/team/app:validate/", call{rpc: "ValidateRepository", namespace: "org", name: app}, 200, ""},
	{"POST", "/api/repo/v1/repository/localhost:5000/team/app:validate/", call{rpc: "ValidateRepository", name: "localhost:5000/team/app"}, 200, ""},
	{"POST", "/api/repo/v1/repository/localhost:5000%2Fteam%2Fapp:validate/", call{rpc: "ValidateRepository", name: "localhost:5000/team/app"}, 200, ""},
	{"POST", "/api/repo/v1/repository/reg.io/team/app%3Avalidate/", call{rpc: "ValidateRepository", name: app}, 200, ""},
	{"POST", "/api/repo/v1/repository/reg.io/team/validate:validate/", call{rpc: "ValidateRepository", name: "reg.io/team/validate"}, 200, ""},
	// A POST on the repository `reg.io/team/validate` is no action.
	{"POST", "/api/repo/v1/repository/reg.io/team/validate/", nil405, 405, "DELETE, GET, PATCH"},
	// Other methods on a verb path reach the name routes with a name that
	// ends in `:validate`, which the server refuses (a tag is no part of a
	// name); the ServeMux cannot answer 405 here.
	{"GET", "/api/repo/v1/repository/reg.io/team/app:validate/", call{rpc: "Get", name: app + ":validate"}, 200, ""},
	{"PUT", "/api/repo/v1/repository/reg.io/team/app:validate/", nil405, 405, "DELETE, GET, PATCH, POST"},
	// A verb needs a name before it.
	{"POST", "/api/repo/v1/repository/:validate/", nil405, 405, "DELETE, GET, PATCH"},
	{"POST", "/api/repo/v1/repository:validate", nil404, 404, ""},
	{"POST", "/api/repo/v1/org/repository/reg.io/team/app:validated/", nil405, 405, "DELETE, GET, PATCH"},

	// The usage collection, filtered by a repository's resource URI.
	{"GET", "/api/repo/v1/usage/?repository=" + url.QueryEscape(appURI), call{rpc: "ListUsages", repository: appURI}, 200, ""},
	{"GET", "/api/repo/v1/usage/?repository=" + appURI, call{rpc: "ListUsages", repository: appURI}, 200, ""},
	{"GET", "/api/repo/v1/org/usage", call{rpc: "ListUsages", namespace: "org"}, 200, ""},
	{"POST", "/api/repo/v1/usage/", call{rpc: "CreateUsage"}, 200, ""},
	{"POST", "/api/repo/v1/org/usage/", call{rpc: "CreateUsage", namespace: "org"}, 200, ""},
	{"GET", "/api/repo/v1/usage/" + uuid + "/", call{rpc: "GetUsage", id: uuid}, 200, ""},
	{"DELETE", "/api/repo/v1/org/usage/" + uuid + "/", call{rpc: "DeleteUsage", namespace: "org", id: uuid}, 200, ""},
	{"PATCH", "/api/repo/v1/org/usage/", nil405, 405, "GET, POST"},
	{"POST", "/api/repo/v1/usage/" + uuid + "/", nil405, 405, "DELETE, GET"},
	// Overlaps exist only through a reserved namespace word (`repository`,
	// and `usage` once reserved): the server refuses both readings.
	{"GET", "/api/repo/v1/repository/usage/", call{rpc: "ListUsages", namespace: "repository"}, 200, ""},
	{"GET", "/api/repo/v1/usage/repository/", call{rpc: "GetUsage", id: "repository"}, 200, ""},
	{"GET", "/api/repo/v1/repository/usage/" + uuid + "/", call{rpc: "GetUsage", namespace: "repository", id: uuid}, 200, ""},
}

// nil404 and nil405 are the calls of requests the gateway answers itself.
var nil404, nil405 = call{}, call{}

func TestPlannedRoutesBesideTheExistingOnes(t *testing.T) {
	h, table, last := newGateway(t)
	for _, rt := range routes {
		*last = call{}
		req := httptest.NewRequest(rt.method, rt.path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json") // writes take JSON only
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		where := rt.method + " " + rt.path
		if w.Code != rt.status {
			t.Errorf("%s: status %d, want %d (%s)", where, w.Code, rt.status, w.Body)
		}
		if *last != rt.want {
			t.Errorf("%s: reached %+v, want %+v", where, *last, rt.want)
		}
		if got := w.Header().Get("Allow"); got != rt.allow {
			t.Errorf("%s: Allow %q, want %q", where, got, rt.allow)
		}
		// The table agrees with the ServeMux: a reached route's method is
		// allowed on the path, a 405's is not, a 404's path has no route.
		allowed := table.Allowed(muxPath(req.URL))
		switch {
		case rt.want.rpc != "" && !slices.Contains(allowed, rt.method):
			t.Errorf("%s: reached %s, yet the table allows only %v", where, rt.want.rpc, allowed)
		case rt.status == 405 && slices.Contains(allowed, rt.method):
			t.Errorf("%s: 405, yet the table allows %v", where, allowed)
		case rt.status == 404 && len(allowed) > 0:
			t.Errorf("%s: 404, yet the table allows %v", where, allowed)
		}
	}
}

// The 404 help lists the planned paths beside the existing ones.
func TestPathsOfThePlannedRoutes(t *testing.T) {
	h, _, _ := newGateway(t)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/nowhere/", nil))
	const want = "the API's paths are /api/repo/v1/[namespace/]repository/, " +
		"/api/repo/v1/[namespace/]repository/<name>/, " +
		"/api/repo/v1/[namespace/]repository/<name>:validate/, " +
		"/api/repo/v1/[namespace/]usage/ and /api/repo/v1/[namespace/]usage/<id>/"
	var body struct{ Error string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 404 || !strings.Contains(body.Error, want) {
		t.Errorf("404 help: %d %q (%v)\nwant it to hold %q", w.Code, body.Error, err, want)
	}
}

// muxPath is the path as the ServeMux sees it: decoded, one trailing slash
// stripped by the gateway.
func muxPath(u *url.URL) string {
	if p := u.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
		return p[:len(p)-1]
	}
	return u.Path
}
