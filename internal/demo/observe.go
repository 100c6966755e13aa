package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

const expiryMetric = "meshcert_secret_expiry_timestamp_seconds"

func (s *system) scrapeAndAlert() func(context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		scrape, err := s.waitForScrape(ctx, `secret="`+shortSecret+`"`)
		if err != nil {
			return nil, err
		}
		scrapePath := filepath.Join(s.dir, "scrape.prom")
		if err := os.WriteFile(scrapePath, scrape, 0o600); err != nil {
			return nil, fmt.Errorf("save scrape: %w", err)
		}

		lines := []string{"expiry gauges:"}
		for line := range strings.Lines(string(scrape)) {
			if strings.HasPrefix(line, expiryMetric+"{") {
				lines = append(lines, "  "+describeExpiry(strings.TrimSpace(line)))
			}
		}

		alerts, err := s.evaluateAlerts(ctx, scrapePath)
		if err != nil {
			return lines, err
		}
		lines = append(lines, "firing alerts:")
		fired := false
		for _, alert := range alerts {
			lines = append(lines, "  "+alert)
			if strings.Contains(alert, shortSecret) && strings.Contains(alert, "ExpiringSoon") {
				fired = true
			}
		}
		if !fired {
			return lines, fmt.Errorf("no expiring-soon alert fired for %s", shortSecret)
		}
		return lines, nil
	}
}

// waitForScrape scrapes the exporter until the text contains want.
func (s *system) waitForScrape(ctx context.Context, want string) ([]byte, error) {
	var scrape []byte
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true,
		func(ctx context.Context) (bool, error) {
			body, err := get(ctx, s.exporterURL+"/metrics")
			if err != nil {
				return false, nil
			}
			scrape = body
			return bytes.Contains(body, []byte(want)), nil
		})
	if err != nil {
		return nil, fmt.Errorf("exporter never published %s: %w; see %s", want, err, s.exporter.logPath)
	}
	return scrape, nil
}

func get(ctx context.Context, url string) ([]byte, error) {
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, response.Status)
	}
	return io.ReadAll(response.Body)
}

// describeExpiry appends the time left to an expiry sample line.
func describeExpiry(line string) string {
	space := strings.LastIndexByte(line, ' ')
	if space < 0 {
		return line
	}
	value, err := strconv.ParseFloat(line[space+1:], 64)
	if err != nil {
		return line
	}
	left := time.Until(time.Unix(int64(value), 0)).Round(time.Minute)
	return fmt.Sprintf("%s  (%s left)", line, left)
}

// evaluateAlerts runs the rule evaluator on the scrape and returns one line
// per firing alert.
func (s *system) evaluateAlerts(ctx context.Context, scrapePath string) ([]string, error) {
	cmd := exec.CommandContext(ctx, s.opts.RuleEvaluator, "--rules="+s.opts.AlertRules, "--scrape="+scrapePath,
		"--job=meshcert-exporter", "--instance="+strings.TrimPrefix(s.exporterURL, "http://"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("evaluate alert rules: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var alerts []string
	for line := range strings.Lines(string(out)) {
		if line = strings.TrimSpace(line); line != "" {
			alerts = append(alerts, line)
		}
	}
	return alerts, nil
}

// alignColumns lines up the tab-separated columns that meshcert prints
// when its output is not a terminal, as it is here.
func alignColumns(out []byte) []string {
	var aligned bytes.Buffer
	writer := tabwriter.NewWriter(&aligned, 0, 4, 2, ' ', 0)
	writer.Write(out)
	writer.Flush()
	return strings.Split(strings.TrimRight(aligned.String(), "\n"), "\n")
}

func (s *system) listCertificates() func(context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		cmd := exec.CommandContext(ctx, filepath.Join(s.opts.BinDir, "meshcert"), "list", "--all-namespaces")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+s.source().kubeconfig)
		out, err := cmd.CombinedOutput()
		lines := alignColumns(out)
		if err != nil {
			return lines, fmt.Errorf("meshcert list: %w", err)
		}
		if !bytes.Contains(out, []byte(shortSecret)) {
			return lines, fmt.Errorf("meshcert list does not show %s", shortSecret)
		}
		return lines, nil
	}
}
