package testservers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Registry is the local registry that images/build.sh pushes the service images to:
// $SPAWNIT_REGISTRY, else 127.0.0.1:5000 (started by `go tool task registry`).
func Registry() string {
	if r := os.Getenv("SPAWNIT_REGISTRY"); r != "" {
		return r
	}
	return "127.0.0.1:5000"
}

// RegistryImage returns the name to pull images/<name> by from the local registry
// (<registry>/debian/<name>:<tag of images/<name>/tag>), once the registry says it holds
// it. A registry that does not answer, or lacks the image, is a missing prerequisite
// (`go tool task images` builds and pushes them): a failure in CI, a skip elsewhere.
func RegistryImage(t testing.TB, name string) string {
	t.Helper()
	tag := "bookworm"
	if b, err := os.ReadFile(filepath.Join(RepoRoot(), "images", name, "tag")); err == nil {
		tag = strings.TrimSpace(string(b))
	}
	repo := "debian/" + name
	client := &http.Client{Timeout: 10 * time.Second}
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/v2/%s/tags/list", Registry(), repo), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Do(req)
	if err != nil {
		Missing(t, "no registry answers at %s (go tool task images): %v", Registry(), err)
		return ""
	}
	defer res.Body.Close()
	var list struct {
		Tags []string `json:"tags"`
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&list) != nil || !slices.Contains(list.Tags, tag) {
		Missing(t, "the registry at %s has no %s:%s (go tool task images)", Registry(), repo, tag)
		return ""
	}
	return Registry() + "/" + repo + ":" + tag
}
