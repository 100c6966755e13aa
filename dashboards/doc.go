// Package dashboards holds the tests of meshcert's Grafana dashboard
// (meshcert.json) and Prometheus alert rules (alerts.yaml). It is a module
// of its own so that the Prometheus server packages the tests use stay out
// of meshcert's main go.mod.
package dashboards
