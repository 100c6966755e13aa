package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
)

// BuildInfo describes the running binary for meshcert_exporter_build_info.
type BuildInfo struct {
	Version, Commit, GoVersion string
}

// selfMetrics are the exporter's metrics about itself.
type selfMetrics struct {
	clock         clock.PassiveClock
	synced        *prometheus.GaugeVec
	lastSync      *prometheus.GaugeVec
	parseDuration *prometheus.HistogramVec
	restarts      *prometheus.CounterVec
}

func newSelfMetrics(registry prometheus.Registerer, state *State, build BuildInfo, clk clock.PassiveClock, sources []string) *selfMetrics {
	m := &selfMetrics{
		clock: clk,
		synced: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshcert_exporter_informer_synced",
			Help: "1 once the source completed its initial list or first file scan, else 0.",
		}, []string{"source"}),
		lastSync: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshcert_exporter_last_sync_timestamp_seconds",
			Help: "Time the source last applied a change or completed a scan, in Unix seconds.",
		}, []string{"source"}),
		parseDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "meshcert_exporter_parse_duration_seconds",
			Help:    "Time to parse one object (a Secret or a file), in seconds.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 4, 8),
		}, []string{"source"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshcert_exporter_watch_restarts_total",
			Help: "Watches of Secrets started again after the previous watch ended.",
		}, []string{"source"}),
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "meshcert_exporter_build_info",
		Help: "The running exporter binary; the value is always 1.",
	}, []string{"version", "commit", "goversion"})
	buildInfo.WithLabelValues(build.Version, build.Commit, build.GoVersion).Set(1)

	watched := prometheus.NewDesc("meshcert_exporter_watched_objects",
		"Objects with certificate data held in memory.", []string{"source"}, nil)
	registry.MustRegister(buildInfo, m.synced, m.lastSync, m.parseDuration, m.restarts,
		&watchedCollector{desc: watched, state: state, sources: sources})

	for _, source := range sources {
		m.synced.WithLabelValues(source).Set(0)
		m.parseDuration.WithLabelValues(source)
		if source != sourceFile {
			m.restarts.WithLabelValues(source)
		}
	}
	return m
}

func (m *selfMetrics) markSynced(source string) {
	m.synced.WithLabelValues(source).Set(1)
	m.touch(source)
}

// touch records that source applied a change now.
func (m *selfMetrics) touch(source string) {
	m.lastSync.WithLabelValues(source).Set(float64(m.clock.Now().Unix()))
}

// timeParse returns a function that observes the time since the call.
func (m *selfMetrics) timeParse(source string) func() {
	start := m.clock.Now()
	return func() {
		m.parseDuration.WithLabelValues(source).Observe(m.clock.Since(start).Seconds())
	}
}

// watchedCollector reads meshcert_exporter_watched_objects from the State
// at scrape time.
type watchedCollector struct {
	desc    *prometheus.Desc
	state   *State
	sources []string
}

func (c *watchedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *watchedCollector) Collect(ch chan<- prometheus.Metric) {
	for _, source := range c.sources {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(c.state.count(source)), source)
	}
}
