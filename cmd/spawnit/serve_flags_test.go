//go:build linux

package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServeSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "s3-secret")
	if err := os.WriteFile(file, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseServeFlags(nil, env(map[string]string{
		"SPAWNIT_S3_SECRET_KEY_FILE":      file,
		"SPAWNIT_OIDC_CLIENT_SECRET":      "plain",
		"SPAWNIT_LISTEN_FILE":             file, // not a secret: _FILE means nothing
		"SPAWNIT_OIDC_CLIENT_SECRET_FILE": "",
	}), io.Discard)
	// Both the variable and its _FILE: refused, naming both.
	if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "SPAWNIT_OIDC_CLIENT_SECRET and SPAWNIT_OIDC_CLIENT_SECRET_FILE") {
		t.Fatalf("both set: %v", err)
	}
	cfg, err = parseServeFlags(nil, env(map[string]string{"SPAWNIT_S3_SECRET_KEY_FILE": file, "SPAWNIT_LISTEN_FILE": file}), io.Discard)
	if err != nil || cfg.s3.secretKey != "from-a-file" || cfg.listen != "127.0.0.1:8080" {
		t.Fatalf("cfg %+v, %v", cfg, err)
	}
	// The command line still wins over the file.
	cfg, err = parseServeFlags([]string{"--s3-secret-key", "flag"}, env(map[string]string{"SPAWNIT_S3_SECRET_KEY_FILE": file}), io.Discard)
	if err != nil || cfg.s3.secretKey != "flag" {
		t.Fatalf("flag: %+v %v", cfg, err)
	}
	_, err = parseServeFlags(nil, env(map[string]string{"SPAWNIT_S3_SECRET_KEY_FILE": filepath.Join(dir, "missing")}), io.Discard)
	if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "SPAWNIT_S3_SECRET_KEY_FILE") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestServeHelpIsGroupedWithDefaults(t *testing.T) {
	var help bytes.Buffer
	_, err := parseServeFlags([]string{"-h"}, env(map[string]string{"SPAWNIT_S3_SECRET_KEY": "env-secret"}), &help)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	out := help.String()
	last := -1
	for _, title := range []string{"\nServer:\n", "\nStorage (S3", "\nSign-in (OIDC", "\nOpenTofu and targets:\n", "\nJobs and supervision:\n"} {
		i := strings.Index(out, title)
		if i <= last {
			t.Fatalf("topic %q missing or out of order:\n%s", title, out)
		}
		last = i
	}
	for _, want := range []string{
		"  --listen string\n      address to listen on (host:port) [$SPAWNIT_LISTEN] (default 127.0.0.1:8080)\n",
		"[$SPAWNIT_S3_SECRET_KEY or $SPAWNIT_S3_SECRET_KEY_FILE]",
		"--oidc-cli-client-id", "--log-format string",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "env-secret") {
		t.Error("help shows a secret")
	}
	// Every flag has a topic of its own: none fell into "Other".
	if strings.Contains(out, "\nOther:\n") {
		t.Errorf("flags without a topic:\n%s", out[strings.Index(out, "\nOther:\n"):])
	}
}

func TestServeLogFormat(t *testing.T) {
	for format, want := range map[string]string{"json": `{"time":`, "text": "time="} {
		cfg, err := parseServeFlags([]string{"--log-format", format}, env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		newServeLogger(cfg.logFormat, slog.LevelInfo, &b).Info("hello")
		if !strings.HasPrefix(b.String(), want) {
			t.Errorf("%s: %s", format, b.String())
		}
	}
	if _, err := parseServeFlags([]string{"--log-format", "xml"}, env(nil), io.Discard); !errors.As(err, new(usageError)) {
		t.Fatalf("xml: %v", err)
	}
}
