//go:build linux

package main

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEncryptionKeyFlags: the key comes from the flag, its variable or the file its
// _FILE variable names, is never shown, and must be long enough; without one, S3 is
// refused and the embedded defaults generate a key in the data directory (0600) once.
func TestEncryptionKeyFlags(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(testEncryptionKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseServeFlags(nil, env(map[string]string{"SPAWNIT_ENCRYPTION_KEY_FILE": keyFile}), io.Discard)
	if err != nil || cfg.encryption.key != testEncryptionKey {
		t.Fatalf("key from _FILE: %v", err)
	}
	var help bytes.Buffer
	_, _ = parseServeFlags([]string{"-h"}, env(map[string]string{"SPAWNIT_ENCRYPTION_KEY": testEncryptionKey}), &help)
	if strings.Contains(help.String(), testEncryptionKey) || !strings.Contains(help.String(), "$SPAWNIT_ENCRYPTION_KEY_FILE") {
		t.Fatalf("help shows the key or not its _FILE variable:\n%s", help.String())
	}
	var ue usageError
	if _, err := parseServeFlags([]string{"--encryption-key", "short"}, env(nil), io.Discard); !errors.As(err, &ue) || strings.Contains(err.Error(), "short") {
		t.Fatalf("a short key: %v", err)
	}

	var logs, out bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	if _, err := loadKeyring(encryptionConfig{}, t.TempDir(), true, log, &out); err == nil || !strings.Contains(err.Error(), "SPAWNIT_ENCRYPTION_KEY") {
		t.Fatalf("S3 without a key: %v", err)
	}
	dir := t.TempDir()
	first, err := loadKeyring(encryptionConfig{}, dir, false, log, &out)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, keyFileName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("generated key file: %v %v", st, err)
	}
	if !strings.Contains(out.String(), "encryption key generated and kept in "+filepath.Join(dir, keyFileName)) || !strings.Contains(logs.String(), "encryption key generated") {
		t.Fatalf("the generated key was not announced:\n%s\n%s", out.String(), logs.String())
	}
	key, _ := os.ReadFile(filepath.Join(dir, keyFileName))
	if strings.Contains(out.String()+logs.String(), strings.TrimSpace(string(key))) {
		t.Fatal("the generated key was printed")
	}
	out.Reset()
	again, err := loadKeyring(encryptionConfig{}, dir, false, log, &out)
	if err != nil || again.Current().ID() != first.Current().ID() || strings.Contains(out.String(), "generated") {
		t.Fatalf("a restart did not reuse the kept key: %v", err)
	}
	rotated, err := loadKeyring(encryptionConfig{key: testEncryptionKey, previous: strings.TrimSpace(string(key))}, dir, true, log, &out)
	if err != nil || len(rotated.Previous()) != 1 || rotated.Previous()[0].ID() != first.Current().ID() {
		t.Fatalf("rotation from the generated key: %v", err)
	}
	if err := os.Chmod(filepath.Join(dir, keyFileName), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadKeyring(encryptionConfig{}, dir, false, log, &out); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Fatalf("a key file others can read: %v", err)
	}
}
