package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// table is rows of cells under a header.
type table struct {
	header []string
	rows   [][]string
}

var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")

// write prints the table aligned on a terminal, and otherwise as one line
// per row with the cells separated by tabs, for cut and awk -F'\t'.
// Empty cells print as "-" in both forms.
func (t table) write(w io.Writer, aligned bool) error {
	rows := append([][]string{t.header}, t.rows...)
	for _, row := range rows {
		for i, cell := range row {
			if cell == "" {
				row[i] = "-"
			}
		}
	}
	if !aligned {
		for _, row := range rows {
			if _, err := fmt.Fprintln(w, strings.Join(row, "\t")); err != nil {
				return err
			}
		}
		return nil
	}
	widths := columnWidths(rows)
	for _, row := range rows {
		if _, err := fmt.Fprintln(w, padRow(row, widths)); err != nil {
			return err
		}
	}
	return nil
}

// visibleWidth is the width of a cell on screen, without colour codes.
func visibleWidth(cell string) int {
	return utf8.RuneCountInString(ansiEscape.ReplaceAllString(cell, ""))
}

func columnWidths(rows [][]string) []int {
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], visibleWidth(cell))
		}
	}
	return widths
}

func padRow(row []string, widths []int) string {
	var b strings.Builder
	for i, cell := range row {
		b.WriteString(cell)
		if i < len(row)-1 {
			b.WriteString(strings.Repeat(" ", widths[i]-visibleWidth(cell)+3))
		}
	}
	return b.String()
}

// writeStructured prints value as indented JSON or as YAML.
func writeStructured(w io.Writer, format string, value any) error {
	data, err := json.MarshalIndent(value, "", "  ")
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	if format == "yaml" {
		if data, err = yaml.JSONToYAML(data); err != nil {
			return fmt.Errorf("encode output as YAML: %w", err)
		}
		_, err = w.Write(data)
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}

// outputAPIVersion versions the JSON and YAML documents meshcert prints.
const outputAPIVersion = "meshcert.io/v1alpha1"
