package certrotation

import (
	"context"
	"testing"
)

func TestReadyCheck(t *testing.T) {
	ready := make(chan struct{})
	check := ReadyCheck(ready)
	if err := check(nil); err == nil {
		t.Error("check passed before ready closed")
	}
	close(ready)
	if err := check(nil); err != nil {
		t.Errorf("check after ready closed: %v", err)
	}
}

type recordingRunnable struct{ started chan struct{} }

func (r recordingRunnable) Start(context.Context) error {
	close(r.started)
	return nil
}

func TestStartAfterWaitsForReady(t *testing.T) {
	ready := make(chan struct{})
	inner := recordingRunnable{started: make(chan struct{})}
	runnable := StartAfter(ready, inner)
	if runnable.(interface{ NeedLeaderElection() bool }).NeedLeaderElection() {
		t.Error("StartAfter runnable needs leader election; the webhook server runs on every replica")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := runnable.Start(ctx); err != nil {
		t.Errorf("Start with a cancelled context: %v", err)
	}
	select {
	case <-inner.started:
		t.Fatal("inner runnable started before ready closed")
	default:
	}

	close(ready)
	if err := runnable.Start(context.Background()); err != nil {
		t.Errorf("Start after ready: %v", err)
	}
	select {
	case <-inner.started:
	default:
		t.Error("inner runnable did not start after ready closed")
	}
}
