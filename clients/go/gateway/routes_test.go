package gateway

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// apiRoutes is the table the real gateway serves.
func apiRoutes(t *testing.T) Routes {
	t.Helper()
	routes, err := RoutesOf(serviceNames()...)
	if err != nil {
		t.Fatal(err)
	}
	return routes
}

func TestRoutesComeFromTheProto(t *testing.T) {
	got := map[string]bool{}
	for _, r := range apiRoutes(t) {
		got[r.Method+" "+r.Template+" "+string(r.RPC)] = true
	}
	const svc = " extrepo.v1.RepositoryService."
	for _, want := range []string{
		"GET /api/repo/v1/{namespace}/repository/{name=**}" + svc + "Get",
		"GET /api/repo/v1/repository/{name=**}" + svc + "Get", // an additional binding
		"PATCH /api/repo/v1/repository/{name=**}" + svc + "Update",
		"DELETE /api/repo/v1/{namespace}/repository/{name=**}" + svc + "Delete",
		"GET /api/repo/v1/repository" + svc + "List",
		"POST /api/repo/v1/{namespace}/repository" + svc + "Create",
		"POST /api/repo/v1/repository/{name=**}:validate" + svc + "ValidateRepository",
		"GET /api/repo/v1/{namespace}/registry/{host} extrepo.v1.RegistryService.GetRegistry",
		"GET /api/repo/v1/registry extrepo.v1.RegistryService.ListRegistries",
		"GET /api/audit/v1/{namespace}/action/{uuid} extrepo.v1.ActionService.GetAction",
		"GET /api/audit/v1/action extrepo.v1.ActionService.ListActions",
	} {
		if !got[want] {
			t.Errorf("no route %q in %v", want, got)
		}
	}
	if len(got) != 20 {
		t.Errorf("%d routes, want 20 (10 RPCs, 2 bindings each): %v", len(got), got)
	}
}

// The Allow header of a 405 is computed from the table. The path is the one
// the ServeMux sees: the gateway has already stripped one trailing slash.
func TestAllowedFromTheTable(t *testing.T) {
	routes := apiRoutes(t)
	for path, want := range map[string]string{
		"/api/repo/v1/repository":                         "GET, POST",
		"/api/repo/v1/org/repository":                     "GET, POST",
		"/api/repo/v1/repository/a.io/b":                  "DELETE, GET, PATCH",
		"/api/repo/v1/org/repository/a.io:5/b/c":          "DELETE, GET, PATCH",
		"/api/repo/v1/repository/localhost:5000/team/app": "DELETE, GET, PATCH",
		// `repository//` keeps an empty name segment, which {name=**}
		// matches as the ServeMux does (Get then refuses the empty name).
		"/api/repo/v1/repository/": "DELETE, GET, PATCH",
		// The one overlap of the two bindings: namespace `repository`.
		"/api/repo/v1/repository/repository":      "DELETE, GET, PATCH, POST",
		"/api/repo/v1/org/registry":               "GET",
		"/api/repo/v1/registry/localhost:5000":    "GET",
		"/api/repo/v1/org/registry/reg.io":        "GET",
		"/api/audit/v1/action":                    "GET",
		"/api/audit/v1/org/action/0b5c":           "GET",
		"/api/repo/v1/repository/a.io/b:validate": "DELETE, GET, PATCH, POST",
		"/api/repo/v1":                            "",
		"/api/repo/v1/org/repository/x/y/z":       "DELETE, GET, PATCH",
		"/api/repo/v2/repository":                 "",
		"/other":                                  "",
		"/":                                       "",
	} {
		if got := strings.Join(routes.Allowed(path), ", "); got != want {
			t.Errorf("Allowed(%q) = %q, want %q", path, got, want)
		}
	}
}

// The 404 help lists the table's paths as the original API spells them.
func TestPathsFromTheTable(t *testing.T) {
	got := joinList(apiRoutes(t).Paths())
	const want = "/api/audit/v1/[namespace/]action/, /api/audit/v1/[namespace/]action/<uuid>/, " +
		"/api/repo/v1/[namespace/]registry/, /api/repo/v1/[namespace/]registry/<host>/, " +
		"/api/repo/v1/[namespace/]repository/, /api/repo/v1/[namespace/]repository/<name>/ and " +
		"/api/repo/v1/[namespace/]repository/<name>:validate/"
	if got != want {
		t.Errorf("paths %q, want %q", got, want)
	}
}

// routesFor is a table written by hand, {RPC, method, template} a row: what
// a new service's rules would add.
func routesFor(t *testing.T, rules ...[3]string) Routes {
	t.Helper()
	var rs Routes
	for _, rule := range rules {
		segs, verb, err := parseTemplate(rule[2])
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, Route{RPC: protoreflect.FullName(rule[0]), Method: rule[1], Template: rule[2], segments: segs, verb: verb})
	}
	return rs
}

func TestAVerbAndACollectionBesideTheNameRoutes(t *testing.T) {
	rs := routesFor(t,
		[3]string{"Get", "GET", "/api/repo/v1/repository/{name=**}"},
		[3]string{"Validate", "POST", "/api/repo/v1/repository/{name=**}:validate"},
		[3]string{"Validate", "POST", "/api/repo/v1/{namespace}/repository/{name=**}:validate"},
		[3]string{"GetUsage", "GET", "/api/repo/v1/usage/{id}"},
		[3]string{"ListUsages", "GET", "/api/repo/v1/{namespace}/usage"},
		[3]string{"ListUsages", "GET", "/api/repo/v1/usage"},
	)
	for path, want := range map[string]string{
		"/api/repo/v1/repository/a.io/b:validate":              "GET, POST", // GET: the name `a.io/b:validate`
		"/api/repo/v1/repository/localhost:5000/b:validate":    "GET, POST",
		"/api/repo/v1/org/repository/a.io/b:validate":          "POST",
		"/api/repo/v1/repository/a.io/b":                       "GET",
		"/api/repo/v1/repository/:validate":                    "GET", // nothing before the verb
		"/api/repo/v1/repository:validate":                     "",
		"/api/repo/v1/org/repository/:validate":                "",
		"/api/repo/v1/org/repository/a.io/b:validated":         "",
		"/api/repo/v1/org/repository/a.io/b:validate:validate": "POST",
		"/api/repo/v1/org/usage":                               "GET",
		"/api/repo/v1/usage":                                   "GET",
		"/api/repo/v1/usage/x":                                 "GET",
	} {
		if got := strings.Join(rs.Allowed(path), ", "); got != want {
			t.Errorf("Allowed(%q) = %q, want %q", path, got, want)
		}
	}
	// Only two bindings of one RPC merge: /usage/<id>/ is no optional
	// segment of /usage/.
	got := joinList(rs.Paths())
	const want = "/api/repo/v1/[namespace/]repository/<name>:validate/, /api/repo/v1/[namespace/]usage/, " +
		"/api/repo/v1/repository/<name>/ and /api/repo/v1/usage/<id>/"
	if got != want {
		t.Errorf("paths %q, want %q", got, want)
	}
}

func TestParseTemplateRefusesWhatItCannotMatch(t *testing.T) {
	for _, tmpl := range []string{
		"",
		"/",
		"api/repo",
		"/api/{name=**}/x",
		"/api/{name=projects/*}",
		"/api/{=*}",
		"/api//x",
		"/api/x*y",
	} {
		if _, _, err := parseTemplate(tmpl); err == nil {
			t.Errorf("parseTemplate(%q) accepted it", tmpl)
		}
	}
}
