package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/spawnit/spawnit/pkg/apiv1"
)

// TestUnknownAPIPathIsJSON404: the UI answers unclaimed paths, but never API ones.
func TestUnknownAPIPathIsJSON404(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>the app</html>")) })
	h := newHarness(t, harnessOptions{ui: ui})
	if res := h.do(req{method: "GET", path: "/services/x"}); res.status != 200 || !strings.Contains(string(res.body), "the app") {
		t.Fatalf("UI path: %d %s", res.status, res.body)
	}
	for _, m := range []string{"GET", "POST", "DELETE"} {
		res := h.do(req{method: m, path: "/api/v1/no-such-thing"})
		if res.status != 404 || res.apiError(t).Error.Code != apiv1.CodeNotFound {
			t.Fatalf("%s unknown API path: %d %s", m, res.status, res.body)
		}
	}
}
