// Command alerteval evaluates Prometheus alerting rules against one scrape
// of an exporter, with Prometheus' own rule engine, and prints the alerts
// that fire. The scrape's samples are held constant over the hour before
// now, so rules with a 'for' duration of up to an hour fire as they would
// after an hour of identical scrapes.
//
// Usage: alerteval --rules=FILE --scrape=FILE
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/tsdb"
)

const (
	// history is how far back the scrape's samples are repeated.
	history  = time.Hour
	interval = 30 * time.Second
)

func main() {
	rulesPath := flag.String("rules", "", "Prometheus rules file to evaluate.")
	scrapePath := flag.String("scrape", "", "File with one scrape in the Prometheus text format.")
	job := flag.String("job", "", "Scrape job name to attach to every series, as Prometheus would, with up{job} = 1.")
	instance := flag.String("instance", "", "Instance label to attach to every series along with --job.")
	flag.Parse()
	if *rulesPath == "" || *scrapePath == "" {
		fmt.Fprintln(os.Stderr, "usage: alerteval --rules=FILE --scrape=FILE")
		os.Exit(2)
	}
	target := labels.FromStrings("job", *job, "instance", *instance)
	if err := run(context.Background(), *rulesPath, *scrapePath, target, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "alerteval: %v\n", err)
		os.Exit(1)
	}
}

// run evaluates the rules on the scrape. Target labels with a value (job,
// instance) are attached to every series unless the series has its own,
// as Prometheus does with honor_labels, and a job adds up = 1.
func run(ctx context.Context, rulesPath, scrapePath string, target labels.Labels, out io.Writer) error {
	logger := slog.New(slog.DiscardHandler)
	promParser := parser.NewParser(parser.Options{})

	groups, errs := rulefmt.ParseFile(rulesPath, false, model.UTF8Validation, promParser, logger)
	if len(errs) > 0 {
		return fmt.Errorf("parse rules: %w", errs[0])
	}

	dir, err := os.MkdirTemp("", "alerteval-")
	if err != nil {
		return fmt.Errorf("create storage folder: %w", err)
	}
	defer os.RemoveAll(dir)
	db, err := tsdb.Open(dir, logger, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		return fmt.Errorf("open storage: %w", err)
	}
	defer db.Close()

	now := time.Now()
	if err := loadScrape(ctx, db, scrapePath, target, now); err != nil {
		return err
	}

	engine := promql.NewEngine(promql.EngineOpts{
		Logger: logger, MaxSamples: 10_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute,
	})
	query := rules.EngineQueryFunc(engine, db)

	var firing []string
	for _, group := range groups.Groups {
		for _, node := range group.Rules {
			if node.Alert == "" {
				continue
			}
			alerts, err := evaluate(ctx, node, promParser, query, now, logger)
			if err != nil {
				return fmt.Errorf("rule %s: %w", node.Alert, err)
			}
			firing = append(firing, alerts...)
		}
	}
	sort.Strings(firing)
	for _, line := range firing {
		fmt.Fprintln(out, line)
	}
	return nil
}

// loadScrape stores every sample of the scrape at each interval of the hour
// before now.
func loadScrape(ctx context.Context, db *tsdb.DB, path string, target labels.Labels, now time.Time) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open scrape: %w", err)
	}
	defer file.Close()
	textParser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := textParser.TextToMetricFamilies(file)
	if err != nil {
		return fmt.Errorf("parse scrape %s: %w", path, err)
	}

	var samples []sample
	for name, family := range families {
		for _, metric := range family.GetMetric() {
			samples = append(samples, samplesOf(name, family.GetType(), metric)...)
		}
	}
	if target.Get("job") != "" {
		samples = append(samples, sample{series: labels.FromStrings(model.MetricNameLabel, "up"), value: 1})
	}

	app := db.Appender(ctx)
	for _, sample := range samples {
		sample.series = withTarget(sample.series, target)
		for at := now.Add(-history); !at.After(now); at = at.Add(interval) {
			if _, err := app.Append(0, sample.series, at.UnixMilli(), sample.value); err != nil {
				return fmt.Errorf("store %s: %w", sample.series, err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		return fmt.Errorf("commit samples: %w", err)
	}
	return nil
}

func withTarget(series, target labels.Labels) labels.Labels {
	builder := labels.NewBuilder(series)
	target.Range(func(l labels.Label) {
		if l.Value != "" && series.Get(l.Name) == "" {
			builder.Set(l.Name, l.Value)
		}
	})
	return builder.Labels()
}

type sample struct {
	series labels.Labels
	value  float64
}

// samplesOf flattens one metric of a family into the series Prometheus
// stores for it: one for a gauge or counter, _bucket, _sum and _count for a
// histogram, quantiles, _sum and _count for a summary.
func samplesOf(name string, kind dto.MetricType, metric *dto.Metric) []sample {
	base := labels.NewBuilder(labels.EmptyLabels())
	for _, pair := range metric.GetLabel() {
		base.Set(pair.GetName(), pair.GetValue())
	}
	series := func(metricName string, value float64, extra ...string) sample {
		builder := labels.NewBuilder(base.Labels())
		builder.Set(model.MetricNameLabel, metricName)
		for i := 0; i+1 < len(extra); i += 2 {
			builder.Set(extra[i], extra[i+1])
		}
		return sample{series: builder.Labels(), value: value}
	}

	switch kind {
	case dto.MetricType_COUNTER:
		return []sample{series(name, metric.GetCounter().GetValue())}
	case dto.MetricType_GAUGE:
		return []sample{series(name, metric.GetGauge().GetValue())}
	case dto.MetricType_HISTOGRAM:
		histogram := metric.GetHistogram()
		out := []sample{
			series(name+"_sum", histogram.GetSampleSum()),
			series(name+"_count", float64(histogram.GetSampleCount())),
			series(name+"_bucket", float64(histogram.GetSampleCount()), model.BucketLabel, "+Inf"),
		}
		for _, bucket := range histogram.GetBucket() {
			bound := strconv.FormatFloat(bucket.GetUpperBound(), 'g', -1, 64)
			out = append(out, series(name+"_bucket", float64(bucket.GetCumulativeCount()), model.BucketLabel, bound))
		}
		return out
	case dto.MetricType_SUMMARY:
		summary := metric.GetSummary()
		out := []sample{
			series(name+"_sum", summary.GetSampleSum()),
			series(name+"_count", float64(summary.GetSampleCount())),
		}
		for _, quantile := range summary.GetQuantile() {
			q := strconv.FormatFloat(quantile.GetQuantile(), 'g', -1, 64)
			out = append(out, series(name, quantile.GetValue(), model.QuantileLabel, q))
		}
		return out
	default:
		return []sample{series(name, metric.GetUntyped().GetValue())}
	}
}

// evaluate runs an alerting rule at each interval of the last hour and
// returns a line per alert that fires at now.
func evaluate(ctx context.Context, node rulefmt.Rule, promParser parser.Parser, query rules.QueryFunc,
	now time.Time, logger *slog.Logger,
) ([]string, error) {
	expr, err := promParser.ParseExpr(node.Expr)
	if err != nil {
		return nil, fmt.Errorf("parse expression: %w", err)
	}
	rule := rules.NewAlertingRule(node.Alert, expr, time.Duration(node.For), time.Duration(node.KeepFiringFor),
		labels.FromMap(node.Labels), labels.FromMap(node.Annotations), labels.EmptyLabels(), "", true, logger)

	externalURL := &url.URL{}
	for at := now.Add(-history); !at.After(now); at = at.Add(interval) {
		if _, err := rule.Eval(ctx, 0, at, query, externalURL, 0); err != nil {
			return nil, fmt.Errorf("evaluate at %s: %w", at.Format(time.RFC3339), err)
		}
	}

	var lines []string
	for _, alert := range rule.ActiveAlerts() {
		if alert.State != rules.StateFiring {
			continue
		}
		lines = append(lines, fmt.Sprintf("%s %s: %s", node.Alert, formatLabels(alert.Labels),
			alert.Annotations.Get("summary")))
	}
	return lines, nil
}

func formatLabels(set labels.Labels) string {
	var parts []string
	set.Range(func(l labels.Label) {
		if l.Name != "alertname" {
			parts = append(parts, l.Name+"="+l.Value)
		}
	})
	return "{" + strings.Join(parts, ", ") + "}"
}
