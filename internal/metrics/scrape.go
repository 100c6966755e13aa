package metrics

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/meshcert/meshcert/internal/logging"
)

// maxScrapesInFlight bounds concurrent scrapes; more are rejected with
// 503, as promhttp's MaxRequestsInFlight does.
const maxScrapesInFlight = 4

// textContentType is the text format 0.0.4 that every scrape is served in.
var textContentType = string(expfmt.NewFormat(expfmt.TypeTextPlain))

// writeCertFamilies renders the certificate families of objects, each
// with its HELP and TYPE lines, skipping families without series.
func writeCertFamilies(w io.Writer, objects []*object) error {
	var line []byte
	for i := range familyCount {
		if !slices.ContainsFunc(objects, func(obj *object) bool { return hasFamily(obj, i) }) {
			continue
		}
		if _, err := w.Write(appendHeader(line[:0], i)); err != nil {
			return err
		}
		for _, obj := range objects {
			line = appendObjectFamily(line[:0], i, obj)
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeSelf writes the families of self, the exporter's own metrics. It
// returns the error of gathering them, after writing what was gathered,
// or of writing to w.
func writeSelf(w io.Writer, self prometheus.Gatherer) error {
	if self == nil {
		return nil
	}
	families, gatherErr := self.Gather()
	for _, family := range families {
		if _, err := expfmt.MetricFamilyToText(w, family); err != nil {
			return fmt.Errorf("encode %s: %w", family.GetName(), err)
		}
	}
	if gatherErr != nil {
		return fmt.Errorf("gather self metrics: %w", gatherErr)
	}
	return nil
}

// writeText writes the certificate families and then the families of
// self in one text exposition.
func (s *State) writeText(w io.Writer, self prometheus.Gatherer) error {
	buffered := bufio.NewWriterSize(w, 64<<10)
	if err := writeCertFamilies(buffered, s.snapshot()); err != nil {
		return fmt.Errorf("write scrape: %w", err)
	}
	selfErr := writeSelf(buffered, self)
	if err := buffered.Flush(); err != nil {
		return fmt.Errorf("write scrape: %w", err)
	}
	return selfErr
}

// Gatherer returns the certificate metrics and the exporter's own metrics
// as parsed families, sorted by name. It parses the text a scrape serves,
// so it costs more than a scrape; the HTTP handler does not use it.
func (e *Exporter) Gatherer() prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		var buf bytes.Buffer
		if err := e.state.writeText(&buf, e.self); err != nil {
			return nil, err
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		parsed, err := parser.TextToMetricFamilies(&buf)
		if err != nil {
			return nil, fmt.Errorf("parse the exposition: %w", err)
		}
		families := make([]*dto.MetricFamily, 0, len(parsed))
		for _, family := range parsed {
			families = append(families, family)
		}
		slices.SortFunc(families, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
		return families, nil
	})
}

// metricsHandler serves the text exposition, gzip-compressed when the
// client accepts gzip, as Prometheus does.
func (e *Exporter) metricsHandler() http.Handler {
	inFlight := make(chan struct{}, maxScrapesInFlight)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case inFlight <- struct{}{}:
			defer func() { <-inFlight }()
		default:
			http.Error(w, fmt.Sprintf("more than %d scrapes in flight", maxScrapesInFlight), http.StatusServiceUnavailable)
			return
		}
		e.logger.V(logging.Trace).Info("Serving a scrape", "remoteAddr", r.RemoteAddr)
		if err := e.serveText(w, r); err != nil {
			e.logger.Error(err, "Failed to serve a scrape", "remoteAddr", r.RemoteAddr)
		}
	})
}

func (e *Exporter) serveText(w http.ResponseWriter, r *http.Request) error {
	header := w.Header()
	header.Set("Content-Type", textContentType)
	header.Add("Vary", "Accept-Encoding")
	if !acceptsGzip(r.Header.Values("Accept-Encoding")) {
		return e.state.writeText(w, e.self)
	}
	header.Set("Content-Encoding", "gzip")
	return e.state.writeGzip(w, e.self)
}

// acceptsGzip reports whether an Accept-Encoding header lists gzip with a
// non-zero quality.
func acceptsGzip(values []string) bool {
	for _, value := range values {
		for coding := range strings.SplitSeq(value, ",") {
			name, params, _ := strings.Cut(coding, ";")
			if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
				continue
			}
			quality := 1.0
			for param := range strings.SplitSeq(params, ";") {
				key, value, _ := strings.Cut(strings.TrimSpace(param), "=")
				if !strings.EqualFold(key, "q") {
					continue
				}
				parsed, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
				if err != nil {
					parsed = 0
				}
				quality = parsed
			}
			return quality > 0
		}
	}
	return false
}
