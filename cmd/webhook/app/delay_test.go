package app

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

func TestDelayCancelEndsAfterTheDelay(t *testing.T) {
	parent, stop := context.WithCancel(context.Background())
	ctx, cancel := delayCancel(parent, 2*time.Second, logr.Discard())
	defer cancel()

	stop()
	select {
	case <-ctx.Done():
		t.Fatal("the context ended with its parent, before the delay")
	case <-time.After(100 * time.Millisecond):
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Minute):
		t.Fatal("the context did not end after the delay")
	}
}

func TestDelayCancelEndsOnCancel(t *testing.T) {
	ctx, cancel := delayCancel(context.Background(), time.Hour, logr.Discard())
	cancel()
	select {
	case <-ctx.Done():
	case <-time.After(time.Minute):
		t.Fatal("cancel did not end the context")
	}
}

func TestDelayCancelWithoutDelayEndsWithParent(t *testing.T) {
	parent, stop := context.WithCancel(context.Background())
	ctx, cancel := delayCancel(parent, 0, logr.Discard())
	defer cancel()
	stop()
	select {
	case <-ctx.Done():
	case <-time.After(time.Minute):
		t.Fatal("the context did not end with its parent")
	}
}
