//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/keyring"
	"github.com/spawnit/spawnit/pkg/store"
)

// TestSecretsAtRestS3 is what an auditor with read access to the bucket sees: services
// deployed over the API on S3, then every object in the bucket searched for each secret
// (raw, base64 and URL-encoded), the running jobs' live event chunks included: nothing.
// Outputs are still revealed. Then the key is rotated (the old one passed as previous):
// everything still reads, and a service that runs moves to the new key. Then a wrong key:
// a clear error, and the service's objects are untouched.
func TestSecretsAtRestS3(t *testing.T) {
	tofu := testservers.Tofu(t)
	s3 := testservers.Versitygw(t)
	keyA, keyB, keyC := testEncryptionKey, "rotated-encryption-key-0123456789abcdef", "wrong-encryption-key-0123456789abcdefgh"
	var st store.Store // the bucket, as the last server opened it

	type server struct {
		base string
		stop func()
	}
	start := func(key, previous string) server {
		t.Helper()
		vars := map[string]string{
			"SPAWNIT_S3_ENDPOINT": s3.URL(), "SPAWNIT_S3_BUCKET": "spawnit-secrets",
			"SPAWNIT_S3_ACCESS_KEY": s3.AccessKey, "SPAWNIT_S3_SECRET_KEY": s3.SecretKey,
			"SPAWNIT_ENCRYPTION_KEY": key,
		}
		if previous != "" {
			vars["SPAWNIT_PREVIOUS_ENCRYPTION_KEY"] = previous
		}
		cfg, err := parseServeFlags([]string{"--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--tofu", tofu, "--drift-interval", "0"}, env(vars), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var out, logs bytes.Buffer
		a, err := newApp(context.Background(), cfg, slog.New(slog.NewJSONHandler(&logs, nil)), &out)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String()+logs.String(), key) {
			t.Fatal("the encryption key was printed")
		}
		st = a.store
		installBulk(t, a)
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- a.serve(ctx) }()
		stopped := false
		stop := func() {
			if !stopped {
				stopped = true
				cancel()
				<-served
			}
		}
		t.Cleanup(stop)
		return server{base: "http://" + a.listener.Addr().String(), stop: stop}
	}
	call := func(s server, method, path, body string, v any) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if v != nil {
			_ = json.Unmarshal(b, v)
		}
		return res.StatusCode, string(b)
	}
	// Everything the bucket held at some point: every object now, plus the live event
	// chunks seen while jobs ran (they go once the job's record is written).
	seen := map[string][]byte{}
	snapshot := func(prefix string) map[string][]byte {
		t.Helper()
		objs, err := st.List(context.Background(), prefix)
		if err != nil {
			t.Fatal(err)
		}
		all := map[string][]byte{}
		for _, o := range objs {
			if b, _, err := st.Get(context.Background(), o.Key); err == nil {
				all[o.Key] = b
				seen[o.Key+"@"+o.ETag] = b
			}
		}
		return all
	}
	runJob := func(s server, id, op string) apiv1.Job {
		t.Helper()
		var job apiv1.Job
		if code, body := call(s, "POST", "/api/v1/services/"+id+"/"+op, "", &job); code != 202 {
			t.Fatalf("%s: %d %s", op, code, body)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for !job.State.Final() {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not finish", op)
			}
			snapshot("clients/local/" + id + "/events/")
			time.Sleep(50 * time.Millisecond)
			call(s, "GET", "/api/v1/services/"+id+"/jobs/"+job.ID, "", &job)
		}
		if job.State != "succeeded" {
			t.Fatalf("%s ended %s: %s", op, job.State, job.Error)
		}
		return job
	}
	reveal := func(s server, id, job string) string {
		t.Helper()
		var j apiv1.Job
		if code, body := call(s, "GET", "/api/v1/services/"+id+"/jobs/"+job+"?reveal=true", "", &j); code != 200 {
			t.Fatalf("reveal: %d %s", code, body)
		}
		var token string
		if err := json.Unmarshal(j.Outputs["token"].Value, &token); err != nil || len(token) < 12 {
			t.Fatalf("revealed token output %q: %v", j.Outputs["token"].Value, err)
		}
		return token
	}
	scan := func(secrets []string) {
		t.Helper()
		snapshot("")
		for _, secret := range secrets {
			forms := map[string]string{
				"raw": secret, "base64": base64.StdEncoding.EncodeToString([]byte(secret)),
				"base64url": base64.RawURLEncoding.EncodeToString([]byte(secret)),
				"url":       url.QueryEscape(secret), "path": url.PathEscape(secret),
			}
			for key, b := range seen {
				for form, s := range forms {
					if bytes.Contains(b, []byte(s)) {
						t.Errorf("%s holds a secret (%s)", key, form)
					}
				}
			}
		}
		if len(seen) < 10 {
			t.Fatalf("only %d objects were searched", len(seen))
		}
	}

	a := start(keyA, "")
	given := "given-secret-" + strings.Repeat("x", 10) + "/+?&="
	var generated, chosen apiv1.Service
	if code, body := call(a, "POST", "/api/v1/services", `{"template":"bulk","inputs":{"items":2}}`, &generated); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, body := call(a, "POST", "/api/v1/services", `{"template":"bulk","inputs":{"items":1,"token":"`+given+`"}}`, &chosen); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	applyG := runJob(a, generated.ID, "apply")
	applyC := runJob(a, chosen.ID, "apply")
	runJob(a, chosen.ID, "plan")
	token := reveal(a, generated.ID, applyG.ID)
	if got := reveal(a, chosen.ID, applyC.ID); got != given {
		t.Fatalf("the chosen token revealed as %q", got)
	}
	secrets := []string{token, given}
	scan(secrets)
	a.stop()

	t.Run("rotate", func(t *testing.T) {
		b := start(keyB, keyA)
		defer b.stop()
		if got := reveal(b, generated.ID, applyG.ID); got != token {
			t.Fatalf("after rotation the token reveals as %q", got)
		}
		var svc apiv1.Service
		if code, body := call(b, "GET", "/api/v1/services/"+chosen.ID, "", &svc); code != 200 || svc.Inputs["token"] != "********" {
			t.Fatalf("get with the previous key: %d %s", code, body)
		}
		again := runJob(b, chosen.ID, "apply")
		if got := reveal(b, chosen.ID, again.ID); got != given {
			t.Fatalf("after rotation the chosen token reveals as %q", got)
		}
		ringB, _ := keyring.New([]byte(keyB))
		newID := ringB.Current().ID()
		objs := snapshot("clients/local/" + chosen.ID + "/")
		if !stateOpensWith(objs["clients/local/"+chosen.ID+"/terraform.tfstate"], ringB.Current().StateKey("local", chosen.ID)) {
			t.Error("the state was not encrypted again with the new key")
		}
		if !bytes.Contains(objs["clients/local/"+chosen.ID+"/terraform.tfvars.json"], []byte("spawnit-sealed:v1:"+newID+":")) {
			t.Error("the secret inputs were not sealed again with the new key")
		}
		scan(secrets)
	})

	t.Run("wrong key", func(t *testing.T) {
		c := start(keyC, "")
		defer c.stop()
		before := snapshot("clients/local/" + generated.ID + "/")
		code, body := call(c, "GET", "/api/v1/services/"+generated.ID, "", nil)
		if code != 503 || !strings.Contains(body, "encrypted with another key") {
			t.Fatalf("get under a wrong key: %d %s", code, body)
		}
		if code, body = call(c, "POST", "/api/v1/services/"+generated.ID+"/apply", "", nil); code != 503 || !strings.Contains(body, "encrypted with another key") {
			t.Fatalf("apply under a wrong key: %d %s", code, body)
		}
		after := snapshot("clients/local/" + generated.ID + "/")
		for _, name := range []string{"terraform.tfstate", "terraform.tfvars.json", "info.json", "intent.json"} {
			key := "clients/local/" + generated.ID + "/" + name
			if !bytes.Equal(before[key], after[key]) {
				t.Errorf("%s changed under a wrong key", key)
			}
		}
		scan(secrets)
	})

	t.Run("destroy and delete", func(t *testing.T) {
		// After a destroy the encrypted state says nothing of its resources in clear:
		// the service is known to have none by the serial the destroy left.
		b := start(keyB, keyA)
		defer b.stop()
		runJob(b, chosen.ID, "destroy")
		if code, body := call(b, "DELETE", "/api/v1/services/"+chosen.ID, "", nil); code != 204 {
			t.Fatalf("delete after destroy: %d %s", code, body)
		}
		if code, body := call(b, "DELETE", "/api/v1/services/"+generated.ID, "", nil); code != 409 {
			t.Fatalf("delete of a deployed service: %d %s", code, body)
		}
		scan(secrets)
		t.Logf("%d objects searched, %d of them live event chunks", len(seen), seenKeys(seen, "/events/"))
	})
}

func seenKeys(seen map[string][]byte, part string) int {
	n := 0
	for k := range seen {
		if strings.Contains(k, part) {
			n++
		}
	}
	return n
}

// stateOpensWith reports whether state, as OpenTofu's aes_gcm method encrypts it (the
// nonce, then the sealed data, in encrypted_data), opens under key.
func stateOpensWith(state, key []byte) bool {
	var h struct {
		EncryptedData []byte `json:"encrypted_data"`
	}
	if json.Unmarshal(state, &h) != nil || len(h.EncryptedData) < 12 {
		return false
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return false
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return false
	}
	_, err = gcm.Open(nil, h.EncryptedData[:12], h.EncryptedData[12:], nil)
	return err == nil
}
