#!/usr/bin/env bash
# Installs @extrepo/client as a user would and runs the README's example with
# it, against the live server that tests/support/with_server.py describes in
# EXTREPO_ADDRESS, EXTREPO_USERNAME and EXTREPO_API_KEY (make test-typescript):
#
# 1. a fresh clone: this folder's files as git has them (no dist/, no
#    node_modules/) and the root LICENSE, copied to a temporary directory;
# 2. `npm ci` and `npm pack` there (prepack builds dist/ and adds LICENSE),
#    and the tarball's file list checked;
# 3. a new project outside the repository: `npm install` of the tarball
#    (npm brings the peer dependencies) and of typescript, the example compiled
#    with tsc (strict, nodenext, declarations of dependencies checked too) and run;
# 4. the package loaded with require() from CommonJS.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
root=$(git -C "$here" rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
npm_quiet=(--no-audit --no-fund --loglevel=error)

echo "== fresh clone of clients/typescript in $work/clone"
mkdir "$work/clone"
(cd "$root" && git ls-files -z --cached --others --exclude-standard -- clients/typescript LICENSE \
  | xargs -0 tar -cf - ) | tar -xf - -C "$work/clone"
cd "$work/clone/clients/typescript"
test ! -e dist
npm ci "${npm_quiet[@]}"
tarball=$work/$(npm pack --silent --pack-destination "$work")
echo "== packed $(basename "$tarball")"

listing=$(tar -tzf "$tarball")
for f in package/package.json package/README.md package/LICENSE package/dist/index.js \
    package/dist/index.d.ts package/dist/gen/google/rpc/error_details_pb.js; do
  grep -qx "$f" <<<"$listing" || { echo "the tarball lacks $f" >&2; exit 1; }
done
if grep -E '^package/(build|test|node_modules|scripts)/' <<<"$listing"; then
  echo "the tarball ships files a user does not need (above)" >&2; exit 1
fi

echo "== a new project: npm install of the tarball"
mkdir "$work/app" && cd "$work/app"
cat > package.json <<'JSON'
{ "name": "extrepo-quickstart", "private": true, "type": "module" }
JSON
npm install "${npm_quiet[@]}" "$tarball" typescript@5.9.3 @types/node@20.19.43
for peer in @connectrpc/connect @connectrpc/connect-node @bufbuild/protobuf; do
  test -f "node_modules/$peer/package.json" || { echo "npm did not install the peer $peer" >&2; exit 1; }
done
cp "$here/examples/quickstart.ts" .
cat > tsconfig.json <<'JSON'
{
  "compilerOptions": {
    "target": "ES2022",
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "types": ["node"],
    "strict": true
  }
}
JSON
npx tsc -p .

echo "== the README's example, from the new project"
out=$(node quickstart.js)
echo "$out"
for want in "created /api/repo/v1/" "listed registry.local/quickstart/ts-app" "not found after delete" \
    "invalid name: " "invalid password: "; do
  grep -qF "$want" <<<"$out" || { echo "the example's output lacks '$want'" >&2; exit 1; }
done

echo "== CommonJS: require()"
cat > check.cjs <<'JS'
const extrepo = require("@extrepo/client");
for (const name of ["createRepositoryClient", "basicAuth", "listAll", "fieldViolations", "BadRequestSchema"]) {
  if (extrepo[name] === undefined) throw new Error(`require("@extrepo/client") lacks ${name}`);
}
console.log("require() loads @extrepo/client");
JS
node check.cjs
echo "install-as-user: ok"
