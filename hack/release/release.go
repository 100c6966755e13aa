package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/meshcert/meshcert/hack/release/internal/dist"
	"github.com/meshcert/meshcert/hack/release/internal/gobuild"
)

func runRelease(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	var c common
	c.register(fs, "dist/release")
	pkg := fs.String("package", "./cmd/meshcert", "main package of the CLI")
	platforms := fs.String("platforms", platformList(dist.DefaultPlatforms), "comma-separated os/arch pairs")
	docs := fs.String("docs", "LICENSE,README.md", "comma-separated files copied into each archive; relative paths are under -dir")
	downloadURL := fs.String("download-url", "https://github.com/meshcert/meshcert/releases/download/v{{version}}", "URL the archives are published under; {{version}} is replaced")
	homepage := fs.String("homepage", "https://github.com/meshcert/meshcert", "project page in the krew manifest")
	if err := fs.Parse(args); err != nil {
		return err
	}
	targets, err := parsePlatforms(*platforms)
	if err != nil {
		return err
	}
	cfg, err := releaseConfig(&c, *docs, *downloadURL, *homepage)
	if err != nil {
		return err
	}

	res, err := dist.Build(ctx, c.goOptions(), *pkg, targets, cfg)
	if err != nil {
		return err
	}
	for _, p := range targets {
		fmt.Fprintln(stdout, res.Archives[p])
	}
	fmt.Fprintln(stdout, res.Checksums)
	fmt.Fprintln(stdout, res.Krew)
	return nil
}

func releaseConfig(c *common, docs, downloadURL, homepage string) (dist.Config, error) {
	if err := c.resolve(); err != nil {
		return dist.Config{}, err
	}
	created, err := c.created()
	if err != nil {
		return dist.Config{}, err
	}
	cfg := dist.Config{
		Version:     c.version,
		Created:     created,
		DownloadURL: strings.ReplaceAll(downloadURL, "{{version}}", c.version),
		Homepage:    homepage,
		OutDir:      c.out,
	}
	for _, doc := range splitList(docs) {
		if !filepath.IsAbs(doc) {
			doc = filepath.Join(c.dir, doc)
		}
		cfg.Docs = append(cfg.Docs, doc)
	}
	return cfg, nil
}

func platformList(platforms []gobuild.Platform) string {
	names := make([]string, len(platforms))
	for i, p := range platforms {
		names[i] = p.String()
	}
	return strings.Join(names, ",")
}

func parsePlatforms(s string) ([]gobuild.Platform, error) {
	var platforms []gobuild.Platform
	for _, item := range splitList(s) {
		p, err := gobuild.ParsePlatform(item)
		if err != nil {
			return nil, err
		}
		platforms = append(platforms, p)
	}
	if len(platforms) == 0 {
		return nil, fmt.Errorf("missing -platforms: give at least one os/arch")
	}
	return platforms, nil
}
