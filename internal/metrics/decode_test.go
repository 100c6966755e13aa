package metrics

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
)

func sampleSecretList() *corev1.SecretList {
	return &corev1.SecretList{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "SecretList"},
		ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "next-page"},
		Items: []corev1.Secret{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "gateways", Name: "web", UID: "uid-web", ResourceVersion: "41"},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{"tls.crt": []byte("certificate"), "tls.key": []byte("key")},
		}},
	}
}

func encodeProtobuf(t testing.TB, obj runtime.Object) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme).Encode(obj, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeSecretListBothEncodings(t *testing.T) {
	want := sampleSecretList()
	jsonBody, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"protobuf": encodeProtobuf(t, want), "JSON": jsonBody} {
		var got corev1.SecretList
		if err := decodeSecretList(body, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Continue != want.Continue || len(got.Items) != 1 || got.Items[0].Name != "web" ||
			!bytes.Equal(got.Items[0].Data["tls.key"], []byte("key")) {
			t.Errorf("%s: decoded %+v, want %+v", name, got, want)
		}
	}
}

func TestDecodeSecretListRejectsBrokenBodies(t *testing.T) {
	body := encodeProtobuf(t, sampleSecretList())
	for name, broken := range map[string][]byte{
		"empty":             nil,
		"magic only":        protobufMagic,
		"truncated":         body[:len(body)/2],
		"not JSON":          []byte("<html>"),
		"envelope no field": append(append([]byte{}, protobufMagic...), 0x1a, 0x00),
	} {
		var list corev1.SecretList
		if err := decodeSecretList(broken, &list); err == nil {
			t.Errorf("%s: decoded without an error", name)
		}
	}
}

// chunkReader returns data a few bytes at a time and remembers every
// slice it wrote into.
type chunkReader struct {
	data    []byte
	written [][]byte
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 7)], r.data)
	r.data = r.data[n:]
	r.written = append(r.written, p[:n])
	return n, nil
}

// Once the caller wipes the result, as readPage does, no buffer that
// readWiping filled may still hold any of the data.
func TestReadWipingLeavesNoCopy(t *testing.T) {
	data := bytes.Repeat([]byte("secret!"), 30_000)
	reader := &chunkReader{data: data}
	got, err := readWiping(reader, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("readWiping returned other bytes than it read")
	}
	clear(got)
	for i, chunk := range reader.written {
		if bytes.ContainsFunc(chunk, func(r rune) bool { return r != 0 }) {
			t.Fatalf("chunk %d of %d still holds data after the result was wiped", i, len(reader.written))
		}
	}
}

func FuzzDecodeSecretList(f *testing.F) {
	f.Add(encodeProtobuf(f, sampleSecretList()))
	jsonBody, _ := json.Marshal(sampleSecretList())
	f.Add(jsonBody)
	f.Add(protobufMagic)
	f.Fuzz(func(t *testing.T, body []byte) {
		var list corev1.SecretList
		_ = decodeSecretList(body, &list)
	})
}
