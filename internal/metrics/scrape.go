package metrics

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

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

// writeCertFamilies writes the certificate families whose names sort
// before limit (all of them when limit is empty) and have not been written
// yet. next is the index of the first family not yet written.
func writeCertFamilies(w *bufio.Writer, objects []*object, next int, limit string) int {
	for ; next < familyCount && (limit == "" || certFamilies[next].name < limit); next++ {
		if !slices.ContainsFunc(objects, func(obj *object) bool { return len(obj.series.family(next)) > 0 }) {
			continue
		}
		_, _ = w.Write(appendHeader(nil, next))
		for _, obj := range objects {
			_, _ = w.Write(obj.series.family(next))
		}
	}
	return next
}

// writeText writes the certificate families from the rendered cache and
// the families of self in one text exposition, sorted by family name.
// It returns the error of gathering self or of writing to w.
func (s *State) writeText(w io.Writer, self prometheus.Gatherer) error {
	buffered := bufio.NewWriterSize(w, 64<<10)
	objects := s.snapshot()
	var gatherErr error
	var families []*dto.MetricFamily
	if self != nil {
		families, gatherErr = self.Gather()
	}
	next := 0
	for _, family := range families {
		next = writeCertFamilies(buffered, objects, next, family.GetName())
		if _, err := expfmt.MetricFamilyToText(buffered, family); err != nil {
			return fmt.Errorf("encode %s: %w", family.GetName(), err)
		}
	}
	writeCertFamilies(buffered, objects, next, "")
	if err := buffered.Flush(); err != nil {
		return fmt.Errorf("write scrape: %w", err)
	}
	if gatherErr != nil {
		return fmt.Errorf("gather self metrics: %w", gatherErr)
	}
	return nil
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

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

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
	gz := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(gz)
	gz.Reset(w)
	err := e.state.writeText(gz, e.self)
	return errors.Join(err, gz.Close())
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
			if param := strings.TrimSpace(params); strings.HasPrefix(param, "q=") {
				parsed, err := strconv.ParseFloat(param[len("q="):], 64)
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
