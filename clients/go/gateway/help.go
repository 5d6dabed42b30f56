package gateway

import (
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// The 404 help: the route table spelled as the original API's documentation
// spells its paths.

// Paths lists the route templates as the original API's documentation spells
// paths, sorted and without duplicates, for the 404 help: a trailing slash,
// `<name>` for a variable, and `[namespace/]` for a one-segment variable that
// another binding of the same RPC leaves out (the optional namespace). For the
// repository routes: /api/repo/v1/[namespace/]repository/ and
// /api/repo/v1/[namespace/]repository/<name>/.
func (rs Routes) Paths() []string {
	byRPC := map[protoreflect.FullName]Routes{}
	for _, r := range rs {
		byRPC[r.RPC] = append(byRPC[r.RPC], r)
	}
	var out []string
	for _, bindings := range byRPC {
		out = append(out, bindings.spellings()...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// spellings renders the bindings of one RPC, merging a binding with one that
// is the same but for one variable segment into a single spelling.
func (rs Routes) spellings() []string {
	keys := map[string]bool{}
	for _, r := range rs {
		keys[r.key(-1)] = true
	}
	merged := map[string]bool{}
	var out []string
	for _, r := range rs {
		for i, s := range r.segments {
			if short := r.key(i); s.kind == single && s.text != "" && keys[short] && !merged[short] {
				merged[short], merged[r.key(-1)] = true, true
				out = append(out, r.render(i))
				break
			}
		}
	}
	for _, r := range rs {
		if !merged[r.key(-1)] {
			out = append(out, r.render(-1))
		}
	}
	return out
}

// key identifies a route's path shape (variable names aside), leaving out
// segment skip (-1: none).
func (r Route) key(skip int) string {
	var b strings.Builder
	for i, s := range r.segments {
		if i == skip {
			continue
		}
		b.WriteByte('/')
		switch s.kind {
		case literal:
			b.WriteString(s.text)
		case single:
			b.WriteString("*")
		case deep:
			b.WriteString("**")
		}
	}
	return b.String() + ":" + r.verb
}

// render spells the template with segment optional (-1: none) in brackets.
func (r Route) render(optional int) string {
	var b strings.Builder
	b.WriteByte('/')
	for i, s := range r.segments {
		switch {
		case i == optional:
			b.WriteString("[" + s.text + "/]")
		case s.kind == literal:
			b.WriteString(s.text + "/")
		case s.text != "":
			b.WriteString("<" + s.text + ">/")
		case s.kind == single:
			b.WriteString("*/")
		default:
			b.WriteString("**/")
		}
	}
	p := b.String()
	if r.verb != "" {
		p = strings.TrimSuffix(p, "/") + ":" + r.verb + "/"
	}
	return p
}

// joinList joins items as a sentence does: "a", "a and b", "a, b and c".
func joinList(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
