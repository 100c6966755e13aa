package certrotation

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/meshcert/meshcert/internal/logging"
)

// servingFiles are the Secret keys copied into the cert dir, under the same
// names; the webhook server reads tls.crt and tls.key.
var servingFiles = []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey}

// addFileWriter registers a controller that copies the serving key pair
// from the Secret into the cert dir. It watches only that one Secret,
// through its own cache, so the webhook needs no cluster-wide Secret cache
// for it.
func addFileWriter(mgr manager.Manager, opts Options) error {
	secretCache, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme:            mgr.GetScheme(),
		Mapper:            mgr.GetRESTMapper(),
		DefaultNamespaces: map[string]cache.Config{opts.Namespace: {}},
		ByObject: map[client.Object]cache.ByObject{&corev1.Secret{}: {
			Field: fields.OneTermEqualSelector("metadata.name", opts.SecretName),
		}},
	})
	if err != nil {
		return fmt.Errorf("create cache for Secret %s/%s: %w", opts.Namespace, opts.SecretName, err)
	}
	if err := mgr.Add(everyReplica{secretCache}); err != nil {
		return fmt.Errorf("register Secret cache: %w", err)
	}

	writer := &fileWriter{
		reader: secretCache,
		key:    types.NamespacedName{Namespace: opts.Namespace, Name: opts.SecretName},
		dir:    opts.CertDir,
	}
	c, err := controller.NewUnmanaged("cert-file-writer", controller.Options{Reconciler: writer})
	if err != nil {
		return fmt.Errorf("create certificate file writer: %w", err)
	}
	if err := c.Watch(source.Kind(secretCache, &corev1.Secret{}, &handler.TypedEnqueueRequestForObject[*corev1.Secret]{})); err != nil {
		return fmt.Errorf("watch Secret %s: %w", writer.key, err)
	}
	if err := mgr.Add(everyReplica{c}); err != nil {
		return fmt.Errorf("register certificate file writer: %w", err)
	}
	return nil
}

// everyReplica runs a runnable whether or not this replica leads.
type everyReplica struct{ manager.Runnable }

func (everyReplica) NeedLeaderElection() bool { return false }

// fileWriter writes the serving key pair from the Secret into dir.
type fileWriter struct {
	reader client.Reader
	key    types.NamespacedName
	dir    string
}

func (w *fileWriter) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	if req.NamespacedName != w.key {
		return reconcile.Result{}, nil
	}
	log := logf.FromContext(ctx)

	var secret corev1.Secret
	if err := w.reader.Get(ctx, w.key, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			log.Error(err, "Webhook certificate Secret not found; create it empty and the rotator fills it", "secret", w.key)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, fmt.Errorf("get Secret %s: %w", w.key, err)
	}
	for _, name := range servingFiles {
		if len(secret.Data[name]) == 0 {
			log.V(logging.Debug).Info("Waiting for the rotator to fill the Secret", "secret", w.key, "key", name)
			return reconcile.Result{}, nil
		}
	}

	// The key is written first: a reader that sees the new certificate
	// then finds its key already in place.
	for _, name := range []string{corev1.TLSPrivateKeyKey, corev1.TLSCertKey} {
		changed, err := writeIfChanged(filepath.Join(w.dir, name), secret.Data[name])
		if err != nil {
			return reconcile.Result{}, err
		}
		if changed {
			log.Info("Wrote webhook serving certificate file", "file", filepath.Join(w.dir, name))
		}
	}
	return reconcile.Result{}, nil
}

// writeIfChanged replaces path with data by a rename, so a reader sees the
// old file or the new one and never a partial write.
func writeIfChanged(path string, data []byte) (bool, error) {
	current, err := os.ReadFile(path)
	if err == nil && bytes.Equal(current, data) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, fmt.Errorf("create cert dir: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return false, fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("replace %s: %w", path, err)
	}
	return true, nil
}
