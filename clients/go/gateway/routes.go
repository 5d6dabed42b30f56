package gateway

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Route is one REST route of a served RPC: an HTTP method and a path template
// as the proto's google.api.http option writes it.
type Route struct {
	Method   string                // GET, POST, PATCH, DELETE, PUT, or a custom kind
	Template string                // e.g. /api/repo/v1/{namespace}/repository/{name=**}
	RPC      protoreflect.FullName // e.g. extrepo.v1.RepositoryService.Get

	segments []segment
	verb     string // the `:verb` after the last segment, without the colon
}

// Routes is the route table of the gateway: every binding of every RPC it
// serves. It answers what the ServeMux cannot say itself: which methods a path
// takes (the Allow header of a 405) and which paths exist (the 404 help).
type Routes []Route

type segmentKind int

const (
	literal segmentKind = iota
	single              // {var} or *: exactly one path segment
	deep                // {var=**} or **: one or more segments (strict matching)
)

type segment struct {
	kind segmentKind
	text string // the literal, or the variable's name ("" for a bare wildcard)
}

// RoutesOf reads the google.api.http rules, additional bindings included, of
// the named gRPC services (full names, as in a generated
// grpc.ServiceDesc.ServiceName) from the proto descriptors linked into the
// binary. It fails on a template the matcher does not understand, so that a
// new service with such a rule is caught by the tests, not by a wrong Allow.
func RoutesOf(serviceNames ...string) (Routes, error) {
	var routes Routes
	for _, name := range serviceNames {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		svc, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			return nil, fmt.Errorf("%s is not a service", name)
		}
		methods := svc.Methods()
		for i := range methods.Len() {
			m := methods.Get(i)
			rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
			if rule == nil {
				continue // no REST binding: generate_unbound_methods=false
			}
			// additional_bindings nested in an additional binding are
			// ignored by grpc-gateway, as the google.api.http spec says.
			for _, b := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
				r, err := newRoute(b, m.FullName())
				if err != nil {
					return nil, err
				}
				routes = append(routes, r)
			}
		}
	}
	return routes, nil
}

func newRoute(b *annotations.HttpRule, rpc protoreflect.FullName) (Route, error) {
	var method, tmpl string
	switch p := b.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		method, tmpl = "GET", p.Get
	case *annotations.HttpRule_Post:
		method, tmpl = "POST", p.Post
	case *annotations.HttpRule_Patch:
		method, tmpl = "PATCH", p.Patch
	case *annotations.HttpRule_Delete:
		method, tmpl = "DELETE", p.Delete
	case *annotations.HttpRule_Put:
		method, tmpl = "PUT", p.Put
	case *annotations.HttpRule_Custom:
		method, tmpl = p.Custom.GetKind(), p.Custom.GetPath()
	default:
		return Route{}, fmt.Errorf("%s: a google.api.http rule without a pattern", rpc)
	}
	segs, verb, err := parseTemplate(tmpl)
	if err != nil {
		return Route{}, fmt.Errorf("%s: %w", rpc, err)
	}
	return Route{Method: method, Template: tmpl, RPC: rpc, segments: segs, verb: verb}, nil
}

// parseTemplate understands the subset of the google.api.http template
// grammar the API uses: literal segments, `{var}` (or `*`) for one segment,
// `{var=**}` (or `**`) for one or more as the last segment, and a `:verb`.
func parseTemplate(tmpl string) ([]segment, string, error) {
	rest, ok := strings.CutPrefix(tmpl, "/")
	if !ok || rest == "" {
		return nil, "", fmt.Errorf("template %q: must start with / and have a segment", tmpl)
	}
	parts := strings.Split(rest, "/")
	// The verb follows the last segment: after the closing brace of a
	// variable, else after the last colon, as grpc-gateway splits it.
	last := &parts[len(parts)-1]
	var verb string
	if i := strings.LastIndexByte(*last, '}'); i >= 0 {
		if v, ok := strings.CutPrefix((*last)[i+1:], ":"); ok {
			verb = v
			*last = (*last)[:i+1]
		}
	} else if i := strings.LastIndexByte(*last, ':'); i >= 0 {
		*last, verb = (*last)[:i], (*last)[i+1:]
	}
	segs := make([]segment, len(parts))
	for i, p := range parts {
		s, err := parseSegment(p)
		if err != nil {
			return nil, "", fmt.Errorf("template %q: %w", tmpl, err)
		}
		if s.kind == deep && i != len(parts)-1 {
			return nil, "", fmt.Errorf("template %q: ** is supported only as the last segment", tmpl)
		}
		segs[i] = s
	}
	return segs, verb, nil
}

func parseSegment(p string) (segment, error) {
	switch {
	case p == "*":
		return segment{kind: single}, nil
	case p == "**":
		return segment{kind: deep}, nil
	case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
		name, pattern, hasPattern := strings.Cut(p[1:len(p)-1], "=")
		switch {
		case name == "":
			return segment{}, fmt.Errorf("segment %q: a variable without a name", p)
		case !hasPattern || pattern == "*":
			return segment{kind: single, text: name}, nil
		case pattern == "**":
			return segment{kind: deep, text: name}, nil
		}
		return segment{}, fmt.Errorf("segment %q: only {var}, {var=*} and {var=**} are supported", p)
	case p == "" || strings.ContainsAny(p, "{}*:"):
		return segment{}, fmt.Errorf("segment %q is not a literal", p)
	}
	return segment{kind: literal, text: p}, nil
}

// matches says whether the route's template matches a request path the way
// grpc-gateway's ServeMux matches it with WithStrictDeepWildcardMatching, in
// its default (legacy) unescaping mode: the path is split on "/" as decoded
// (a %2F is a separator); a verb is split off the last segment only for a
// template that has one, and never when nothing precedes the colon; a deep
// wildcard needs at least one segment, though an empty one counts.
func (r Route) matches(path string) bool {
	if !strings.HasPrefix(path, "/") {
		return false
	}
	comps := strings.Split(path[1:], "/")
	if r.verb != "" {
		n := len(comps) - 1
		stem, ok := strings.CutSuffix(comps[n], ":"+r.verb)
		if !ok || stem == "" {
			return false
		}
		comps = append(comps[:n:n], stem)
	}
	for i, s := range r.segments {
		if s.kind == deep {
			return len(comps) > i // parseTemplate keeps ** last
		}
		if i >= len(comps) || (s.kind == literal && comps[i] != s.text) {
			return false
		}
	}
	return len(comps) == len(r.segments)
}

// Allowed returns the methods of the routes that match path, sorted and
// without duplicates (the value of an Allow header once joined by ", "); none
// for a path no route matches.
func (rs Routes) Allowed(path string) []string {
	seen := map[string]bool{}
	var methods []string
	for _, r := range rs {
		if !seen[r.Method] && r.matches(path) {
			seen[r.Method] = true
			methods = append(methods, r.Method)
		}
	}
	slices.Sort(methods)
	return methods
}
