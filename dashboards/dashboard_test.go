package dashboards

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// fixture is a scrape written by hand with series of every component, so
// that every panel has data; TestDashboardMetricsExistInExporterScrape
// checks its exporter metrics against the exporter's real output.
const fixture = "testdata/scrape.prom"

type dashboard struct {
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name     string `json:"name"`
			Type     string `json:"type"`
			AllValue string `json:"allValue"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource map[string]any `json:"datasource"`
	Targets    []target       `json:"targets"`
	Panels     []panel        `json:"panels"`
}

type target struct {
	RefID   string `json:"refId"`
	Expr    string `json:"expr"`
	Instant bool   `json:"instant"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile("meshcert.json")
	if err != nil {
		t.Fatalf("read dashboard: %v", err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("decode dashboard: %v", err)
	}
	return d
}

// queryPanels returns every panel with queries, including those in rows.
func queryPanels(panels []panel) []panel {
	var out []panel
	for _, p := range panels {
		if p.Type == "row" {
			out = append(out, queryPanels(p.Panels)...)
			continue
		}
		out = append(out, p)
	}
	return out
}

func TestDashboardStructure(t *testing.T) {
	d := loadDashboard(t)
	if d.UID != "meshcert-certificates" {
		t.Errorf("uid = %q, want the stable meshcert-certificates", d.UID)
	}
	variables := map[string]string{}
	for _, v := range d.Templating.List {
		variables[v.Name] = v.Type
	}
	for name, kind := range map[string]string{"datasource": "datasource", "cluster": "query", "namespace": "query"} {
		if variables[name] != kind {
			t.Errorf("variable %s has type %q, want %q", name, variables[name], kind)
		}
	}

	ids := map[int]bool{}
	for _, p := range queryPanels(d.Panels) {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		if p.Datasource["uid"] != "${datasource}" {
			t.Errorf("panel %q datasource = %v, want the ${datasource} variable", p.Title, p.Datasource)
		}
		for _, tg := range p.Targets {
			if strings.Contains(tg.Expr, "rate(") && !strings.Contains(tg.Expr, "[$__rate_interval]") {
				t.Errorf("panel %q query %s uses a fixed rate range; use $__rate_interval", p.Title, tg.RefID)
			}
		}
	}
}

// variableValues are what Grafana substitutes when every cluster and
// namespace is selected.
var variableValues = strings.NewReplacer(
	"$__rate_interval", "4m",
	"$namespace", ".*",
	"$cluster", ".*",
)

// zeroFallback matches the "or vector(0)" that keeps a stat panel at 0
// rather than "No data".
var zeroFallback = regexp.MustCompile(`\s+or\s+vector\(0\)\s*$`)

func TestDashboardQueriesReturnData(t *testing.T) {
	d := loadDashboard(t)
	db := loadScrape(t, fixture)
	promqlParser := parser.NewParser(parser.Options{})
	engine := promql.NewEngine(promql.EngineOpts{
		Parser:        promqlParser,
		MaxSamples:    1_000_000,
		Timeout:       time.Minute,
		LookbackDelta: 5 * time.Minute,
	})

	for _, p := range queryPanels(d.Panels) {
		for _, tg := range p.Targets {
			t.Run(p.Title+"/"+tg.RefID, func(t *testing.T) {
				expr := variableValues.Replace(tg.Expr)
				if strings.Contains(expr, "$") {
					t.Fatalf("query has an unknown variable: %s", tg.Expr)
				}
				// The fallback would hide a query that matches nothing.
				expr = zeroFallback.ReplaceAllString(expr, "")
				if _, err := promqlParser.ParseExpr(expr); err != nil {
					t.Fatalf("parse %s: %v", expr, err)
				}
				if n := evaluate(t, engine, db, expr, tg.Instant); n == 0 {
					t.Errorf("query returned no series on the fixture: %s", expr)
				}
			})
		}
	}
}

// evaluate runs expr as Grafana would, as an instant query or a range
// query over the last ten minutes, and returns the number of series.
func evaluate(t *testing.T, engine *promql.Engine, db storage.Queryable, expr string, instant bool) int {
	t.Helper()
	ctx := context.Background()
	var (
		q   promql.Query
		err error
	)
	if instant {
		q, err = engine.NewInstantQuery(ctx, db, nil, expr, fixtureTime)
	} else {
		q, err = engine.NewRangeQuery(ctx, db, nil, expr, fixtureTime.Add(-10*time.Minute), fixtureTime, time.Minute)
	}
	if err != nil {
		t.Fatalf("prepare %s: %v", expr, err)
	}
	defer q.Close()
	result := q.Exec(ctx)
	if result.Err != nil {
		t.Fatalf("evaluate %s: %v", expr, result.Err)
	}
	switch v := result.Value.(type) {
	case promql.Vector:
		return len(v)
	case promql.Matrix:
		return len(v)
	case promql.Scalar:
		return 1
	default:
		t.Fatalf("evaluate %s: unexpected result type %T", expr, result.Value)
		return 0
	}
}

// exporterGolden is the exporter's own scrape of every fixture, which its
// golden test keeps current.
const exporterGolden = "../internal/metrics/testdata/golden/all.prom"

// exporterMetric matches the families the exporter publishes.
var exporterMetric = regexp.MustCompile(`^meshcert_(certificate|secret|exporter)_`)

// TestDashboardMetricsExistInExporterScrape fails when a panel queries an
// exporter metric, or a label of one, that the exporter does not publish,
// so renaming a metric or label in the exporter breaks this test rather
// than the dashboard.
func TestDashboardMetricsExistInExporterScrape(t *testing.T) {
	published := scrapeLabels(t, exporterGolden)
	promqlParser := parser.NewParser(parser.Options{})

	for _, p := range queryPanels(loadDashboard(t).Panels) {
		for _, tg := range p.Targets {
			expr, err := promqlParser.ParseExpr(variableValues.Replace(tg.Expr))
			if err != nil {
				t.Fatalf("panel %q query %s: %v", p.Title, tg.RefID, err)
			}
			parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
				selector, ok := node.(*parser.VectorSelector)
				if !ok || !exporterMetric.MatchString(selector.Name) {
					return nil
				}
				labels, ok := published[selector.Name]
				if !ok {
					t.Errorf("panel %q queries %s, which the exporter does not publish", p.Title, selector.Name)
					return nil
				}
				for _, matcher := range selector.LabelMatchers {
					if matcher.Name != "__name__" && matcher.Name != "cluster" && !labels[matcher.Name] {
						t.Errorf("panel %q selects %s{%s}, a label the exporter does not set",
							p.Title, selector.Name, matcher.Name)
					}
				}
				return nil
			})
		}
	}
}

// scrapeLabels returns each metric name of a text scrape with the label
// names its series carry.
func scrapeLabels(t *testing.T, path string) map[string]map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read exporter scrape: %v", err)
	}
	series := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s`)
	label := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="`)
	out := map[string]map[string]bool{}
	for line := range strings.Lines(string(data)) {
		match := series.FindStringSubmatch(line)
		if match == nil {
			continue
		}
		name := match[1]
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		for _, l := range label.FindAllStringSubmatch(match[2], -1) {
			out[name][l[1]] = true
		}
	}
	return out
}
