package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestDispatch(t *testing.T) {
	var errw bytes.Buffer
	if code := dispatch(nil, &errw); code != 2 || !strings.Contains(errw.String(), "farm") || !strings.Contains(errw.String(), "journal") || !strings.Contains(errw.String(), "trace") {
		t.Errorf("no subcommand: exit %d and %q, want 2 and a list naming farm, journal and trace", code, errw.String())
	}
	errw.Reset()
	if code := dispatch([]string{"frobnicate"}, &errw); code != 2 || !strings.Contains(errw.String(), `no subcommand "frobnicate"`) {
		t.Errorf("an unknown subcommand: exit %d and %q", code, errw.String())
	}
}
