// Package routetest proves, on the gateway's real ServeMux, that the path
// forms planned for the next RPCs route right beside the existing ones. Its
// services (proto/routetest/v1/routes.proto, generated into gen/ by
// `make generate`) are test-only: the gateway never serves them.
package routetest
