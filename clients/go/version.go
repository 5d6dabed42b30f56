package extrepo

// Version is the version of this client, the one in the repository's VERSION
// file (tests/packaging checks that they agree). The module is released under
// the tag clients/go/v<Version>. The REST gateway's -version prints it too.
const Version = "0.1.0"
