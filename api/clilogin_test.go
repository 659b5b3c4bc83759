package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/spawnit/spawnit/pkg/apiv1"
)

// The sign-in settings are public (no tenant, no token) and say what the CLI needs.
func TestCLILoginIsPublic(t *testing.T) {
	h := newHarness(t, harnessOptions{cliLogin: &apiv1.CLILogin{
		Issuer: "https://issuer.example/", ClientID: "spawnit-cli", Scopes: []string{"openid", "offline_access"}}})
	r := h.must(http.StatusOK, req{method: http.MethodGet, path: "/api/v1/cli-login"})
	var got apiv1.CLILogin
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if got.SingleUser || got.Issuer != "https://issuer.example/" || got.ClientID != "spawnit-cli" || !slices.Contains(got.Scopes, "offline_access") {
		t.Fatalf("%+v", got)
	}

	// Without command-line sign-in, the answer says so by naming no client.
	h = newHarness(t, harnessOptions{})
	r = h.must(http.StatusOK, req{method: http.MethodGet, path: "/api/v1/cli-login"})
	got = apiv1.CLILogin{}
	if err := json.Unmarshal(r.body, &got); err != nil || got.ClientID != "" || got.SingleUser {
		t.Fatalf("%s %v", r.body, err)
	}
}
