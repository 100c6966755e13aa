package dashboards

import (
	"context"
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/teststorage"
)

// fixtureTime is the moment the fixture scrape describes; its timestamps
// (expiry, last sync) are relative to it.
var fixtureTime = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

const (
	// scrapeInterval and scrapeCount give every series a 30-minute history,
	// enough for rate() over any range the dashboard uses.
	scrapeInterval = time.Minute
	scrapeCount    = 31
)

// loadScrape appends the scrape in path to a new test storage as a series
// of scrapes ending at fixtureTime. Gauges keep their value; counters and
// histograms grow linearly from near zero to their value, so rate() is
// positive.
func loadScrape(t *testing.T, path string) storage.Storage {
	t.Helper()
	families := parseScrape(t, path)
	db := teststorage.New(t)
	app := db.Appender(context.Background())
	for i := range scrapeCount {
		at := fixtureTime.Add(-time.Duration(scrapeCount-1-i) * scrapeInterval)
		growth := float64(i+1) / scrapeCount
		for _, family := range families {
			for _, s := range familySamples(family) {
				value := s.value
				if family.GetType() != dto.MetricType_GAUGE && family.GetType() != dto.MetricType_UNTYPED {
					value *= growth
				}
				if _, err := app.Append(0, s.labels, at.UnixMilli(), value); err != nil {
					t.Fatalf("append %s: %v", s.labels, err)
				}
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatalf("commit fixture samples: %v", err)
	}
	return db
}

func parseScrape(t *testing.T, path string) map[string]*dto.MetricFamily {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open fixture scrape: %v", err)
	}
	defer f.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("parse fixture scrape %s: %v", path, err)
	}
	return families
}

type sample struct {
	labels labels.Labels
	value  float64
}

// familySamples flattens a metric family into series the way Prometheus
// stores a scrape: a histogram becomes _bucket, _sum and _count series.
func familySamples(family *dto.MetricFamily) []sample {
	name := family.GetName()
	var samples []sample
	for _, m := range family.GetMetric() {
		switch family.GetType() {
		case dto.MetricType_COUNTER:
			samples = append(samples, sample{seriesLabels(name, m, nil), m.GetCounter().GetValue()})
		case dto.MetricType_GAUGE:
			samples = append(samples, sample{seriesLabels(name, m, nil), m.GetGauge().GetValue()})
		case dto.MetricType_UNTYPED:
			samples = append(samples, sample{seriesLabels(name, m, nil), m.GetUntyped().GetValue()})
		case dto.MetricType_HISTOGRAM:
			samples = append(samples, histogramSamples(name, m)...)
		}
	}
	return samples
}

func histogramSamples(name string, m *dto.Metric) []sample {
	h := m.GetHistogram()
	samples := []sample{
		{seriesLabels(name+"_sum", m, nil), h.GetSampleSum()},
		{seriesLabels(name+"_count", m, nil), float64(h.GetSampleCount())},
		{seriesLabels(name+"_bucket", m, []string{"le", "+Inf"}), float64(h.GetSampleCount())},
	}
	for _, b := range h.GetBucket() {
		if math.IsInf(b.GetUpperBound(), 1) {
			continue
		}
		le := fmt.Sprint(b.GetUpperBound())
		samples = append(samples, sample{seriesLabels(name+"_bucket", m, []string{"le", le}), float64(b.GetCumulativeCount())})
	}
	return samples
}

// seriesLabels returns the labels of one series. Empty label values are
// dropped, as Prometheus does on ingestion.
func seriesLabels(name string, m *dto.Metric, extra []string) labels.Labels {
	b := labels.NewScratchBuilder(len(m.GetLabel()) + 2)
	b.Add(model.MetricNameLabel, name)
	for _, pair := range m.GetLabel() {
		if pair.GetValue() != "" {
			b.Add(pair.GetName(), pair.GetValue())
		}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		b.Add(extra[i], extra[i+1])
	}
	b.Sort()
	return b.Labels()
}
