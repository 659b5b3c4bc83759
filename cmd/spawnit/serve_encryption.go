//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spawnit/spawnit/pkg/keyring"
)

// keyFileName is the generated key's file in the data directory.
const keyFileName = "encryption.key"

// encryptionConfig is the operator's key for secrets at rest, and the one before it
// while rotating.
type encryptionConfig struct {
	key, previous string
}

func (c encryptionConfig) check() error {
	for _, k := range []struct{ flag, v string }{{"--encryption-key", c.key}, {"--previous-encryption-key", c.previous}} {
		if k.v == "" {
			continue
		}
		if _, err := keyring.ParseKey(k.v); err != nil {
			return usageError{k.flag + ": " + err.Error()}
		}
	}
	return nil
}

// loadKeyring returns the keyring of the server: the operator's key, or without one,
// the key kept in the data directory (generated on first start, mode 0600). With an S3
// store the key must be given: replicas sharing the bucket need the same key, and a
// key kept in one replica's data directory (or in its memory) is not shared. Keeping it
// in the bucket would hand it to whoever reads the bucket.
func loadKeyring(c encryptionConfig, dataDir string, shared bool, log *slog.Logger, out io.Writer) (*keyring.Keyring, error) {
	var prev [][]byte
	if c.previous != "" {
		p, _ := keyring.ParseKey(c.previous)
		prev = append(prev, p)
	}
	text, source := c.key, "the operator's key"
	if text == "" {
		if shared {
			return nil, errors.New("an encryption key is required with an S3 store, the same on every replica: set --encryption-key, SPAWNIT_ENCRYPTION_KEY or SPAWNIT_ENCRYPTION_KEY_FILE (generate one with: head -c 32 /dev/urandom | base64)")
		}
		var generated bool
		var err error
		text, generated, err = dataDirKey(filepath.Join(dataDir, keyFileName))
		if err != nil {
			return nil, err
		}
		source = "kept in " + filepath.Join(dataDir, keyFileName)
		if generated {
			log.Warn("encryption key generated: back it up, without it no state or secret input can be read", "path", filepath.Join(dataDir, keyFileName))
			fmt.Fprintf(out, "encryption key generated and kept in %s (mode 0600): back it up\n", filepath.Join(dataDir, keyFileName))
		}
	}
	cur, err := keyring.ParseKey(text)
	if err != nil {
		return nil, fmt.Errorf("encryption key (%s): %w", source, err)
	}
	ring, err := keyring.New(cur, prev...)
	if err != nil {
		return nil, err
	}
	attrs := []any{"key", ring.Current().ID(), "source", source}
	if len(ring.Previous()) > 0 {
		attrs = append(attrs, "previous_key", ring.Previous()[0].ID())
	}
	log.Info("secrets at rest are encrypted (OpenTofu state and plan encryption, sealed secret inputs)", attrs...)
	return ring, nil
}

// dataDirKey reads the key kept at path, or generates and writes it (create-only, mode
// 0600) when there is none. A key file others can read is refused.
func dataDirKey(path string) (key string, generated bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		st, serr := os.Stat(path)
		if serr != nil {
			return "", false, serr
		}
		if st.Mode().Perm()&0o077 != 0 {
			return "", false, fmt.Errorf("encryption key %s is readable by others (mode %o): chmod 600 it", path, st.Mode().Perm())
		}
		return strings.TrimSpace(string(b)), false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("encryption key: %w", err)
	}
	// Written whole under a temporary name, then linked into place: a concurrent start
	// of the same data directory either wins or reads the complete key.
	key = keyring.GenerateKey()
	f, err := os.CreateTemp(filepath.Dir(path), ".encryption-key-*")
	if err != nil {
		return "", false, fmt.Errorf("encryption key: %w", err)
	}
	defer os.Remove(f.Name())
	_, werr := f.WriteString(key + "\n")
	if err := errors.Join(werr, f.Chmod(0o600), f.Sync(), f.Close()); err != nil {
		return "", false, fmt.Errorf("encryption key: %w", err)
	}
	if err := os.Link(f.Name(), path); errors.Is(err, fs.ErrExist) {
		return dataDirKey(path)
	} else if err != nil {
		return "", false, fmt.Errorf("encryption key: %w", err)
	}
	return key, true, nil
}
