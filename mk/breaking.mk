# buf breaking: no released field or RPC of proto/ may change incompatibly.
# The proto is checked against BREAKING_AGAINST, by default the previous
# commit; give another ref to check a whole branch, e.g.
# `make lint-breaking BREAKING_AGAINST=origin/main`.
#
# Why not `buf breaking --against '.git#ref=HEAD~1'`: third_party/proto (the
# google/api protos) is not committed, so that tree does not compile. Instead
# the previous commit's buf.yaml and proto/ are exported to a temporary
# directory beside the current third_party/proto, and buf compares the two
# workspaces. buf.yaml's `breaking` section (FILE rules, third_party ignored)
# applies.
BREAKING_AGAINST ?= HEAD~1

LINT_TARGETS += lint-breaking

.PHONY: lint-breaking
lint-breaking: $(BUF) $(PROTO_DEPS)/.copied ## buf breaking against the previous commit
	@against='$(BREAKING_AGAINST)'; \
	if [ "$$(git rev-parse --is-shallow-repository)" = true ] \
	    && ! git rev-parse -q --verify "$$against^{commit}" >/dev/null; then \
	  echo "lint-breaking: shallow clone, fetching one more commit to compare with"; \
	  git fetch -q --deepen=1 || { echo "lint-breaking: shallow clone and 'git fetch --deepen=1' failed: cannot see $$against; clone with more history" >&2; exit 1; }; \
	fi; \
	if ! git rev-parse -q --verify "$$against^{commit}" >/dev/null; then \
	  if [ "$$against" = HEAD~1 ] && [ -z "$$(git rev-list --max-count=1 --skip=1 HEAD)" ]; then \
	    echo "lint-breaking: skipped: HEAD is the first commit, there is no previous proto to compare with"; exit 0; \
	  fi; \
	  echo "lint-breaking: no such commit: $$against" >&2; exit 1; \
	fi; \
	if ! git cat-file -e "$$against:proto" 2>/dev/null || ! git cat-file -e "$$against:buf.yaml" 2>/dev/null; then \
	  echo "lint-breaking: skipped: $$against has no proto/ and buf.yaml to compare with"; exit 0; \
	fi; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	git archive "$$against" -- buf.yaml proto | tar -x -C "$$tmp"; \
	mkdir -p "$$tmp/third_party" && cp -R $(PROTO_DEPS) "$$tmp/third_party/"; \
	echo "lint-breaking: buf breaking against $$against ($$(git rev-parse --short "$$against"))"; \
	$(BUF) breaking --against "$$tmp"
