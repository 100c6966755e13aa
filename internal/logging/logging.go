// Package logging builds the structured logger that meshcert's servers use:
// zap behind the logr interface, configured by --log.level and
// --log.format.
package logging

import (
	"fmt"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Verbosity levels for logr's V(). Lifecycle events log at Info (V(0)).
const (
	// Debug is for per-object detail: a reconcile, a skipped write.
	Debug = 1
	// Trace is for per-request detail: every admission review.
	Trace = 2
)

// Options are the logging flags.
type Options struct {
	Level  string
	Format string
}

// AddFlags registers --log.level and --log.format on fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Level, "log.level", "info",
		"Minimum log level: error, info, debug or trace (per-request detail).")
	fs.StringVar(&o.Format, "log.format", "json", "Log format: json or text.")
}

// New returns a logger for the options.
func New(o Options) (logr.Logger, error) {
	level, err := parseLevel(o.Level)
	if err != nil {
		return logr.Discard(), err
	}

	var config zap.Config
	switch o.Format {
	case "json":
		config = zap.NewProductionConfig()
	case "text":
		config = zap.NewDevelopmentConfig()
		config.Development = false
	default:
		return logr.Discard(), fmt.Errorf("invalid --log.format %q: use json or text", o.Format)
	}
	config.Level = zap.NewAtomicLevelAt(level)
	config.Sampling = nil
	config.EncoderConfig.TimeKey = "ts"
	config.EncoderConfig.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	config.DisableStacktrace = true

	logger, err := config.Build()
	if err != nil {
		return logr.Discard(), fmt.Errorf("build logger: %w", err)
	}
	return zapr.NewLogger(logger), nil
}

// parseLevel maps a level name to zap's level. logr's V(n) is zap level -n,
// so debug enables V(1) and trace enables V(2).
func parseLevel(name string) (zapcore.Level, error) {
	switch name {
	case "error":
		return zapcore.ErrorLevel, nil
	case "info":
		return zapcore.InfoLevel, nil
	case "debug":
		return zapcore.Level(-Debug), nil
	case "trace":
		return zapcore.Level(-Trace), nil
	default:
		return zapcore.InfoLevel, fmt.Errorf("invalid --log.level %q: use error, info, debug or trace", name)
	}
}
