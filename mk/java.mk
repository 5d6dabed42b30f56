# Java client (clients/java): a Maven project that generates the messages and
# gRPC stubs at build time (protoc and protoc-gen-grpc-java from Maven
# Central), so nothing generated is committed. ./mvnw brings the pinned Maven
# 3.9.16, because the protobuf-maven-plugin needs Maven 3.9.6 or newer and
# the machines have Debian's 3.8.7; every plugin and dependency version is
# exact in pom.xml. A cold ~/.m2 costs about a minute of downloads.
JAVA_DIR := clients/java
# -B: no colours or prompts; -ntp: no download progress. Not -q: it would hide
# Surefire's "Tests run: N, Failures: 0" lines, the proof that tests ran.
MVN := $(JAVA_DIR)/mvnw -B -ntp -f $(JAVA_DIR)/pom.xml

TEST_TARGETS += test-java

# `verify` generates, compiles (javac -Xlint), runs the JUnit tests against
# the live server (full cycle, paging, field violations) and packages the
# jar, sources and javadoc jars. Then the install test: `mvn install`, and
# the README's example as a fresh project outside the repository.
.PHONY: test-java
test-java: $(VENV)/.synced ## run the Java client's tests against a live server
	$(PY) -m tests.support.with_server -- $(MVN) verify
	$(PY) -m tests.support.with_server -- $(JAVA_DIR)/scripts/install-as-user.sh
