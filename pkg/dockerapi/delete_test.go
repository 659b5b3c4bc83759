package dockerapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDeleteAnswers: DELETE maps the engine's answers to errors callers can test.
func TestDeleteAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodDelete {
			http.Error(w, "want DELETE", http.StatusMethodNotAllowed)
			return
		}
		switch r.URL.Path {
		case "/containers/gone":
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"No such container: gone"}`))
		case "/volumes/busy":
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"message":"remove busy: volume is in use"}`))
		case "/networks/broken":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"message":"boom"}`))
		default:
			if r.URL.Query().Get("force") != "1" {
				http.Error(w, "want force=1", http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	c, err := FromEnv(envOf(map[string]string{"DOCKER_HOST": "tcp://" + strings.TrimPrefix(srv.URL, "http://")}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Delete(ctx, "/containers/ok", map[string][]string{"force": {"1"}}); err != nil {
		t.Fatalf("204: %v", err)
	}
	if err := c.Delete(ctx, "/containers/gone", nil); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "No such container") {
		t.Fatalf("404: %v", err)
	}
	if err := c.Delete(ctx, "/volumes/busy", nil); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "volume is in use") {
		t.Fatalf("409: %v", err)
	}
	if err := c.Delete(ctx, "/networks/broken", nil); err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("500: %v", err)
	}
}

func TestLabelFilter(t *testing.T) {
	got := LabelFilter("a=1", "b=2").Get("filters")
	if got != `{"label":["a=1","b=2"]}` {
		t.Fatalf("filters = %s", got)
	}
}
