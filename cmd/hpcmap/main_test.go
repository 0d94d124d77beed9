package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestDispatch(t *testing.T) {
	var outw, errw bytes.Buffer
	if code := dispatch(nil, &outw, &errw); code != 2 || !strings.Contains(errw.String(), "farm") || !strings.Contains(errw.String(), "journal") || !strings.Contains(errw.String(), "trace") {
		t.Errorf("no subcommand: exit %d and %q, want 2 and a list naming farm, journal and trace", code, errw.String())
	}
	errw.Reset()
	if code := dispatch([]string{"frobnicate"}, &outw, &errw); code != 2 || !strings.Contains(errw.String(), `no subcommand "frobnicate"`) {
		t.Errorf("an unknown subcommand: exit %d and %q", code, errw.String())
	}
	for _, help := range []string{"-h", "--help", "help"} {
		outw.Reset()
		errw.Reset()
		if code := dispatch([]string{help}, &outw, &errw); code != 0 || !strings.Contains(outw.String(), "farm") || errw.Len() != 0 {
			t.Errorf("hpcmap %s: exit %d, stdout %q, stderr %q; want 0 and the list on stdout", help, code, outw.String(), errw.String())
		}
	}
}
