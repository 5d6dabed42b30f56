#!/usr/bin/env bash
# Installs io.extrepo:extrepo-client as a user would and runs the README's
# example with it, against the live server that tests/support/with_server.py
# describes in EXTREPO_ADDRESS, EXTREPO_USERNAME and EXTREPO_API_KEY
# (make test-java):
#
# 1. `./mvnw install` of this project into a throwaway local repository (so
#    that no test leaves an io.extrepo artifact in ~/.m2), which reads the
#    usual ~/.m2/repository for everything else (Maven 3.9's
#    maven.repo.local.tail);
# 2. the installed files checked: jar, sources and javadoc jars, the POM; no
#    example classes in the jar; META-INF/LICENSE; the automatic module name;
# 3. examples/quickstart copied to a new directory outside the repository,
#    built against the installed artifact and run.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
root=$(git -C "$here" rev-parse --show-toplevel)
version=$(tr -d '[:space:]' < "$root/VERSION")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mvn=("$here/mvnw" -B -ntp -Dmaven.repo.local="$work/m2"
  -Dmaven.repo.local.tail="${MAVEN_REPO_TAIL:-$HOME/.m2/repository}")

echo "== ./mvnw install (into $work/m2)"
"${mvn[@]}" -q -f "$here/pom.xml" clean install -DskipTests  # clean: no stale classes

installed=$work/m2/io/extrepo/extrepo-client/$version
for f in "extrepo-client-$version.jar" "extrepo-client-$version-sources.jar" \
    "extrepo-client-$version-javadoc.jar" "extrepo-client-$version.pom"; do
  test -s "$installed/$f" || { echo "mvn install did not install $f" >&2; exit 1; }
done
jar=$installed/extrepo-client-$version.jar
listing=$(jar tf "$jar")
grep -qx META-INF/LICENSE <<<"$listing" || { echo "the jar lacks META-INF/LICENSE" >&2; exit 1; }
grep -qx io/extrepo/client/BasicCredentials.class <<<"$listing" || { echo "the jar lacks the client" >&2; exit 1; }
if grep -i example <<<"$listing"; then echo "the jar ships the example (above)" >&2; exit 1; fi
module=$(jar --describe-module --file "$jar")
grep -q "^io.extrepo.client.* automatic" <<<"$module" \
  || { echo "no automatic module name io.extrepo.client: $module" >&2; exit 1; }
jar tf "$installed/extrepo-client-$version-javadoc.jar" | grep -q '/io/extrepo/client/Listings.html$' \
  || { echo "the javadoc jar lacks io.extrepo.client.Listings" >&2; exit 1; }
echo "installed: $(cd "$installed" && ls | tr '\n' ' ')"

echo "== a new project: examples/quickstart, outside the repository"
cp -R "$here/examples/quickstart" "$work/app"
rm -rf "$work/app/target"
cd "$work/app"
out=$("${mvn[@]}" -q compile exec:java)
echo "$out"
for want in "created /api/repo/v1/" "listed registry.local/quickstart/java-app" \
    "not found after delete" "invalid name: " "invalid password: "; do
  grep -qF "$want" <<<"$out" || { echo "the example's output lacks '$want'" >&2; exit 1; }
done
echo "install-as-user: ok"
