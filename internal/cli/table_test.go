package cli

import (
	"bytes"
	"testing"

	"github.com/meshcert/meshcert/internal/certs"
	"github.com/meshcert/meshcert/internal/validate"
)

func TestTableWrite(t *testing.T) {
	rows := func() table {
		return table{
			header: []string{"NAME", "STATUS", "USED BY"},
			rows: [][]string{
				{"web", paint(true, colorGreen, "valid"), ""},
				{"shop-long", paint(true, colorRed, "expired"), "istio:shop"},
			},
		}
	}
	tests := []struct {
		name    string
		aligned bool
		want    string
	}{
		{"aligned", true, "NAME        STATUS    USED BY\n" +
			"web         \x1b[32mvalid\x1b[0m     -\n" +
			"shop-long   \x1b[31mexpired\x1b[0m   istio:shop\n"},
		{"tab-separated", false, "NAME\tSTATUS\tUSED BY\n" +
			"web\t\x1b[32mvalid\x1b[0m\t-\n" +
			"shop-long\t\x1b[31mexpired\x1b[0m\tistio:shop\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := rows().write(&out, tt.aligned); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got\n%q\nwant\n%q", out.String(), tt.want)
			}
		})
	}
}

func TestLocateInFiles(t *testing.T) {
	origins := map[string][]segment{
		validate.KeyTLSCert: {
			{file: "leaf.pem", count: 1},
			{file: "combined.pem", count: 2, blocks: []int{0, 2}},
		},
		validate.KeyTLSKey: {{file: "combined.pem", count: 1, blocks: []int{1}}},
	}
	tests := []struct {
		name  string
		key   string
		block int
		want  string
	}{
		{"first file", validate.KeyTLSCert, 0, "leaf.pem block 1"},
		{"split file", validate.KeyTLSCert, 2, "combined.pem block 3"},
		{"whole value", validate.KeyTLSCert, certs.NoBlock, "leaf.pem + combined.pem"},
		{"key", validate.KeyTLSKey, 0, "combined.pem block 2"},
		{"past the end", validate.KeyTLSCert, 7, "leaf.pem + combined.pem block 8"},
		{"missing CA", validate.KeyTLSCA, certs.NoBlock, "(no CA file)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := locateInFiles(origins, validate.Finding{Key: tt.key, Block: tt.block})
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		file inputFile
		want fileRole
	}{
		{"leaf", inputFile{data: fixture(t, "web.crt")}, roleCertificate},
		{"chain", inputFile{data: fixtureChain(t, "web.crt", "intermediate.crt")}, roleCertificate},
		{"key", inputFile{data: fixture(t, "web.key")}, roleKey},
		{"CA bundle", inputFile{data: fixtureChain(t, "intermediate.crt", "root.crt")}, roleCA},
		{"forced CA", inputFile{data: fixture(t, "web.crt"), ca: true}, roleCA},
		{"combined", inputFile{data: fixtureChain(t, "web.crt", "web.key")}, roleCombined},
		{"DER", inputFile{data: []byte{0x30, 0x03, 0x02, 0x01, 0x01}}, roleUnknown},
		{"CSR", inputFile{data: []byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")}, roleCertificate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blocks, _ := certs.DecodePEM(tt.file.data)
			if got := classify(tt.file, blocks); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
