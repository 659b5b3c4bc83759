package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/keyring"
	"github.com/spawnit/spawnit/pkg/store"
)

// Secret inputs at rest. With a keyring (UseKeyring), every sensitive input of a
// service is stored in its terraform.tfvars.json sealed (keyring.Seal: AES-256-GCM
// under a key derived for the service, the service's identity and the input's name as
// associated data): a string "spawnit-sealed:v1:<key id>:..." in place of the value.
// The catalog opens them when it reads a service (GetService, for reveal and updates)
// and when it hands the engine the variables file (ServiceSource.Files), which is the
// only place they exist in clear: the job's workdir, for the job's duration.
//
// A variables file written before the keyring was configured, or sealed with a previous
// key, is resealed with the current key when the service next runs (ServiceSource)
// or is updated; nothing else rewrites it.

// UseKeyring makes the catalog seal sensitive inputs with r from now on (nil: stored
// in clear, as before). Call it before the catalog serves.
func (c *Catalog) UseKeyring(r *keyring.Keyring) { c.ring = r }

// inputName is what a sealed input is bound to besides its service.
func inputName(name string) string { return "inputs." + name }

// sealTfvars seals the sensitive values of a rendered variables file. Empty values
// stay as they are (nothing to hide, and a listing shows that no value was set).
func (c *Catalog) sealTfvars(ref engine.ServiceRef, tfvars []byte, sensitive []string) ([]byte, error) {
	if c.ring == nil {
		return tfvars, nil
	}
	vars, err := rawTfvars(tfvars)
	if err != nil {
		return nil, err
	}
	for name, raw := range vars {
		if !slices.Contains(sensitive, name) || isEmptyValue(raw) || isSealedValue(raw) {
			continue
		}
		sealed, _ := json.Marshal(c.ring.Seal(ref.Tenant(), ref.Service, inputName(name), raw))
		vars[name] = sealed
	}
	return encodeTfvars(vars)
}

// openTfvars returns the variables file with every sealed value opened, and whether it
// should be written again sealed with the current key: it holds a sensitive value in
// clear, or one sealed with a previous key.
func (c *Catalog) openTfvars(ref engine.ServiceRef, tfvars []byte, sensitive []string) (plain []byte, reseal bool, err error) {
	vars, err := rawTfvars(tfvars)
	if err != nil {
		return nil, false, err
	}
	opened := false
	for name, raw := range vars {
		if !isSealedValue(raw) {
			if c.ring != nil && slices.Contains(sensitive, name) && !isEmptyValue(raw) {
				reseal = true
			}
			continue
		}
		var s string
		_ = json.Unmarshal(raw, &s)
		if c.ring == nil {
			return nil, false, fmt.Errorf("%w: input %s of %s is sealed and this server has no encryption key", keyring.ErrWrongKey, name, ref)
		}
		v, err := c.ring.Open(ref.Tenant(), ref.Service, inputName(name), s)
		if err != nil {
			return nil, false, fmt.Errorf("catalog: %w", err)
		}
		if keyring.SealedWith(s) != c.ring.Current().ID() {
			reseal = true
		}
		vars[name], opened = v, true
	}
	if !opened {
		return tfvars, reseal, nil
	}
	plain, err = encodeTfvars(vars)
	return plain, reseal, err
}

// resealTfvars writes the service's variables file again with its secrets sealed under
// the current key, if it is still the version read (etag); a concurrent writer wins.
func (c *Catalog) resealTfvars(ctx context.Context, ref engine.ServiceRef, plain []byte, sensitive []string, etag string) error {
	sealed, err := c.sealTfvars(ref, plain, sensitive)
	if err != nil {
		return err
	}
	_, err = c.st.Put(ctx, storeKeys(ref).Tfvars(), sealed, store.PutOptions{IfMatch: etag, ContentType: "application/json"})
	if errors.Is(err, store.ErrPreconditionFailed) {
		return nil
	}
	if err == nil {
		c.log.Info("catalog: service secrets sealed with the current key", "service", ref.String(), "key", c.ring.Current().ID())
	}
	return err
}

// sensitiveNames are the inputs of info to keep sealed: those recorded at creation
// plus the current template's.
func (c *Catalog) sensitiveNames(ctx context.Context, info *Info) []string {
	names := slices.Clone(info.Sensitive)
	if tpl, err := c.Get(ctx, info.Template); err == nil {
		for _, n := range tpl.SensitiveNames() {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

func rawTfvars(b []byte) (map[string]json.RawMessage, error) {
	var vars map[string]json.RawMessage
	if err := json.Unmarshal(b, &vars); err != nil {
		return nil, errors.New("catalog: terraform.tfvars.json is not a JSON object")
	}
	return vars, nil
}

func encodeTfvars(vars map[string]json.RawMessage) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(vars); err != nil {
		return nil, fmt.Errorf("encode tfvars: %w", err)
	}
	return buf.Bytes(), nil
}

func isEmptyValue(raw json.RawMessage) bool {
	s := string(bytes.TrimSpace(raw))
	return s == "null" || s == `""`
}

func isSealedValue(raw json.RawMessage) bool {
	var s string
	return json.Unmarshal(raw, &s) == nil && keyring.IsSealed(s)
}
