package catalog

// What a template's author can check before publishing: the rules docs/targets.md
// states for every module of a template, read from the files as terraform-config-inspect
// sees them (no provider plugin needed), and `tofu validate` on each module.

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"
)

// credentialWords may not appear in a target variable's name: credentials, region and
// cluster access reach tofu through the server's environment, never through variables.
var credentialWords = []string{"access_key", "secret", "token", "password", "credential", "kubeconfig", "config_path", "client_key", "client_cert", "cluster_ca"}

// LoadTemplateDir reads a template's files from a folder laid out as the store keeps
// them: template.json and modules/<target>/<files>. Other top-level files (a README)
// are not part of the template and are left out; so are the .terraform folders and
// lock-file-free working state tofu leaves when an author runs it in a module.
func LoadTemplateDir(dir string) (TemplateFiles, error) {
	files := TemplateFiles{}
	data, err := os.ReadFile(filepath.Join(dir, TemplateFile))
	switch {
	case err == nil:
		files[TemplateFile] = data
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	root := os.DirFS(dir)
	err = fs.WalkDir(root, modulesDir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == modulesDir {
			return fs.SkipDir
		}
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".terraform" {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			files[p] = nil // reported: only regular files make a template
			return nil
		}
		if len(files) > 4*MaxModuleFiles {
			return fmt.Errorf("%s: more than %d files", dir, 4*MaxModuleFiles)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > MaxModuleBytes {
			return fmt.Errorf("%s: larger than %d bytes", p, MaxModuleBytes)
		}
		b, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		files[p] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// CheckTemplate checks a template's content as its author should before publishing:
// what Publish checks (CheckTemplateFiles), plus the rules of docs/targets.md on every
// module, read without any provider plugin:
//
//   - no file that would override the user's or the server's values (*.tfvars,
//     *.tfvars.json, override files, spawnit_* names, hidden files);
//   - the variables without the target's prefix are exactly the form's fields and the
//     server's variables, typed and marked sensitive as the form says, with no
//     default; the target's own variables (<target>_*) have a default and are never
//     sensitive; every variable has a description;
//   - every module has the same outputs, with the same sensitivity, described, and an
//     endpoint output;
//   - readiness checks read outputs every module has, none sensitive.
//
// Every problem is listed at once in one *ValidationError whose fields are file paths
// ("template.json", "modules/docker/variables.tf"). It returns the template when
// template.json could be read.
func CheckTemplate(files TemplateFiles) (*Template, error) {
	var bad errs
	tpl, err := CheckTemplateFiles(files)
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		bad = append(bad, ve.Fields...)
	case err != nil:
		return nil, err
	}
	if tpl == nil {
		if t, err := ParseTemplate(files[TemplateFile]); err == nil {
			tpl = t
		}
	}
	byTarget := map[string]TemplateFiles{}
	for p, data := range files {
		rest, ok := strings.CutPrefix(p, modulesDir+"/")
		target, rel, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 || rel == "" {
			continue
		}
		if data == nil {
			bad.add(p, CodeInvalid, "not a regular file")
			continue
		}
		if byTarget[target] == nil {
			byTarget[target] = TemplateFiles{}
		}
		byTarget[target][rel] = data
		if reason := disallowedModuleFile(rel); reason != "" && !bad.hasField(p) {
			bad.add(p, CodeInvalid, "%s", reason)
		}
	}
	targets := make([]string, 0, len(byTarget))
	for t := range byTarget {
		targets = append(targets, t)
	}
	slices.Sort(targets)
	mods := map[string]*tfconfig.Module{}
	for _, target := range targets {
		mod, err := inspectModule(byTarget[target])
		if err != nil {
			return nil, err
		}
		clean := true
		for _, d := range mod.diags {
			bad.add(d.field(target), CodeInvalid, "%s", d.text)
			clean = false
		}
		if clean {
			mods[target] = mod.Module
		}
	}
	for _, target := range targets {
		if m := mods[target]; m != nil && tpl != nil {
			checkModuleInterface(&bad, tpl, target, m)
		}
	}
	for _, target := range targets {
		if mods[target] != nil {
			checkModuleBlocks(&bad, target, byTarget[target])
		}
	}
	checkOutputsAgree(&bad, mods)
	if tpl != nil {
		for i, c := range tpl.Readiness {
			if c.Output == "" {
				continue
			}
			for _, target := range targets {
				m := mods[target]
				if m == nil {
					continue
				}
				o, ok := m.Outputs[c.Output]
				switch {
				case !ok:
					bad.add(TemplateFile, CodeInvalid, "readiness[%d] reads output %q, which the %s module does not declare", i, c.Output, target)
				case o.Sensitive:
					bad.add(TemplateFile, CodeInvalid, "readiness[%d] reads output %q, which is sensitive in the %s module: readiness sees only values an apply may show", i, c.Output, target)
				}
			}
		}
	}
	if err := bad.err(); err != nil {
		return tpl, err
	}
	return tpl, nil
}

// checkModuleBlocks reads a module's HCL for what terraform-config-inspect does not
// expose (docs/targets.md, rule 4): no provider block (but the Docker module's registry
// logins, DockerRegistryAuthBlock), no backend or cloud block.
func checkModuleBlocks(bad *errs, target string, files TemplateFiles) {
	for _, rel := range slices.Sorted(maps.Keys(files)) {
		if !strings.HasSuffix(rel, ".tf") {
			continue
		}
		src := files[rel]
		f, diags := hclsyntax.ParseConfig(src, rel, hcl.InitialPos)
		if diags.HasErrors() {
			continue // terraform-config-inspect reported it
		}
		body, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			continue
		}
		for _, b := range body.Blocks {
			at := fmt.Sprintf("%s/%s/%s:%d", modulesDir, target, rel, b.TypeRange.Start.Line)
			switch b.Type {
			case "provider":
				if target != DefaultTarget || !DockerRegistryAuthBlock(b, src) {
					bad.add(at, CodeInvalid, "provider block %s: providers are configured by the server's environment, not the module (a Docker module may only name its registry logins, see docs/targets.md)", strings.Join(b.Labels, " "))
				}
			case "terraform":
				for _, nb := range b.Body.Blocks {
					if nb.Type == "backend" || nb.Type == "cloud" {
						bad.add(at, CodeInvalid, "%s block: the engine adds the backend at run time", nb.Type)
					}
				}
			}
		}
	}
}

// disallowedModuleFile says why a module file is not allowed ("" when it is).
func disallowedModuleFile(rel string) string {
	base := path.Base(rel)
	switch {
	case strings.HasSuffix(base, ".tfvars"), strings.HasSuffix(base, ".tfvars.json"):
		return "variable files are not allowed in a module: values come from the form and the server"
	case base == "override.tf", base == "override.tf.json", strings.HasSuffix(base, "_override.tf"), strings.HasSuffix(base, "_override.tf.json"):
		return "override files are not allowed in a module: they could replace the server's settings"
	case strings.HasPrefix(base, "spawnit_"):
		return "names starting with spawnit_ are the server's own files"
	case strings.HasPrefix(base, ".") && base != ".terraform.lock.hcl":
		return "hidden files are not allowed in a module"
	}
	return ""
}

type inspected struct {
	*tfconfig.Module
	diags []moduleDiag
}

type moduleDiag struct {
	file string
	line int
	text string
}

func (d moduleDiag) field(target string) string {
	f := modulesDir + "/" + target
	if d.file != "" {
		f += "/" + d.file
		if d.line > 0 {
			f += fmt.Sprintf(":%d", d.line)
		}
	}
	return f
}

// inspectModule reads a module's variables and outputs with terraform-config-inspect,
// from a temporary copy (it reads files from disk).
func inspectModule(files TemplateFiles) (*inspected, error) {
	dir, err := os.MkdirTemp("", "spawnit-inspect-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := writeModule(dir, files); err != nil {
		return nil, err
	}
	mod, diags := tfconfig.LoadModule(dir)
	out := &inspected{Module: mod}
	for _, d := range diags {
		md := moduleDiag{text: d.Summary}
		if d.Detail != "" {
			md.text += ": " + d.Detail
		}
		if d.Pos != nil {
			if rel, err := filepath.Rel(dir, d.Pos.Filename); err == nil {
				md.file = filepath.ToSlash(rel)
			}
			md.line = d.Pos.Line
		}
		out.diags = append(out.diags, md)
	}
	return out, nil
}

// writeModule writes a module's files (paths relative to the module) under dir.
func writeModule(dir string, files TemplateFiles) error {
	for rel, data := range files {
		if !fs.ValidPath(rel) {
			return fmt.Errorf("module file %q: not a relative path", rel)
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// checkModuleInterface: the interface rule of docs/targets.md for one module.
func checkModuleInterface(bad *errs, tpl *Template, target string, m *tfconfig.Module) {
	field := modulesDir + "/" + target
	at := func(pos tfconfig.SourcePos) string {
		if pos.Filename == "" {
			return field
		}
		return fmt.Sprintf("%s/%s:%d", field, filepath.Base(pos.Filename), pos.Line)
	}
	prefix := target + "_"
	for _, f := range tpl.Inputs {
		if strings.HasPrefix(f.Name, prefix) {
			bad.add(TemplateFile, CodeInvalid, "form field %s has the prefix of target %s, kept for the target's own variables", f.Name, target)
		}
	}
	names := make([]string, 0, len(m.Variables))
	for n := range m.Variables {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		v := m.Variables[name]
		if v.Description == "" {
			bad.add(at(v.Pos), CodeInvalid, "variable %s has no description", name)
		}
		if strings.HasPrefix(name, prefix) {
			if v.Required {
				bad.add(at(v.Pos), CodeInvalid, "target variable %s has no default: the server may leave it unset", name)
			}
			if v.Sensitive {
				bad.add(at(v.Pos), CodeInvalid, "target variable %s is sensitive: secrets reach tofu through the environment, not variables", name)
			}
			for _, w := range credentialWords {
				if strings.Contains(name, w) {
					bad.add(at(v.Pos), CodeInvalid, "target variable %s looks like a credential (%q): credentials reach tofu through the server's environment", name, w)
					break
				}
			}
			if name == prefix+"region" || name == prefix+"profile" {
				bad.add(at(v.Pos), CodeInvalid, "target variable %s: the region and credentials profile come from the server's environment", name)
			}
			continue
		}
		if slices.Contains(ReservedVariables, name) {
			if v.Type != "string" || v.Sensitive {
				bad.add(at(v.Pos), CodeInvalid, "server variable %s must be a string, not sensitive", name)
			}
			if !v.Required {
				bad.add(at(v.Pos), CodeInvalid, "server variable %s has a default: the server always sets it", name)
			}
			continue
		}
		f, ok := tpl.Field(name)
		if !ok {
			bad.add(at(v.Pos), CodeUnknown, "variable %s is neither a form field of template.json, a server variable (%s) nor a target variable (%s*)",
				name, strings.Join(ReservedVariables, ", "), prefix)
			continue
		}
		if !v.Required {
			bad.add(at(v.Pos), CodeInvalid, "variable %s has a default: defaults belong in template.json", name)
		}
		if want := f.Type.VariableType(); v.Type != want {
			bad.add(at(v.Pos), CodeInvalid, "variable %s has type %q; form field type %s needs %q", name, v.Type, f.Type, want)
		}
		if v.Sensitive != f.IsSensitive() {
			bad.add(at(v.Pos), CodeInvalid, "variable %s: sensitive = %v, but the form field is %s", name, v.Sensitive, map[bool]string{true: "secret", false: "not secret"}[f.IsSensitive()])
		}
	}
	for _, f := range tpl.Inputs {
		if _, ok := m.Variables[f.Name]; !ok {
			bad.add(field, CodeRequired, "no variable %s for form field %s", f.Name, f.Name)
		}
	}
	// Self-contained and unconfigured: pinned providers, no provider configuration,
	// no module call (the engine adds the backend; the server's environment
	// configures providers).
	if len(m.RequiredCore) == 0 {
		bad.add(field, CodeRequired, "no required_version in a terraform block")
	}
	if len(m.RequiredProviders) == 0 {
		bad.add(field, CodeRequired, "no required_providers: pin every provider with a source and a version")
	}
	for _, name := range slices.Sorted(maps.Keys(m.RequiredProviders)) {
		req := m.RequiredProviders[name]
		if req.Source == "" || !strings.Contains(req.Source, "/") {
			bad.add(field, CodeInvalid, "provider %s has no source (namespace/type)", name)
		}
		if len(req.VersionConstraints) == 0 {
			bad.add(field, CodeInvalid, "provider %s has no version constraint", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m.ModuleCalls)) {
		bad.add(at(m.ModuleCalls[name].Pos), CodeInvalid, "module call %s: a template's module is self-contained", name)
	}
	for _, r := range ReservedVariables {
		if _, ok := m.Variables[r]; !ok {
			bad.add(field, CodeRequired, "no variable %s: every module declares the server's variables (%s)", r, strings.Join(ReservedVariables, ", "))
		}
	}
}

// checkOutputsAgree: every module has the same outputs with the same sensitivity, each
// described, and an endpoint output. The docker module, when there is one, is the
// reference.
func checkOutputsAgree(bad *errs, mods map[string]*tfconfig.Module) {
	if len(mods) == 0 {
		return
	}
	targets := make([]string, 0, len(mods))
	for t := range mods {
		targets = append(targets, t)
	}
	slices.Sort(targets)
	refName := targets[0]
	if mods[DefaultTarget] != nil {
		refName = DefaultTarget
	}
	ref := mods[refName].Outputs
	for _, target := range targets {
		outs := mods[target].Outputs
		field := modulesDir + "/" + target
		if _, ok := outs["endpoint"]; !ok {
			bad.add(field, CodeRequired, "no endpoint output: every module says where its service answers")
		}
		names := make([]string, 0, len(outs))
		for n := range outs {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			o := outs[n]
			if o.Description == "" {
				bad.add(field, CodeInvalid, "output %s has no description", n)
			}
			r, ok := ref[n]
			switch {
			case target == refName:
			case !ok:
				bad.add(field, CodeInvalid, "output %s is not an output of the %s module: every module has the same outputs", n, refName)
			case r.Sensitive != o.Sensitive:
				bad.add(field, CodeInvalid, "output %s: sensitive = %v, the %s module says %v", n, o.Sensitive, refName, r.Sensitive)
			}
		}
		if target != refName {
			for n := range ref {
				if _, ok := outs[n]; !ok {
					bad.add(field, CodeRequired, "no output %s, which the %s module has: every module has the same outputs", n, refName)
				}
			}
		}
	}
}

// DockerRegistryAuthBlock reports whether b (read from src) is the one provider block a
// Docker module may have (docs/targets.md, rule 4): provider "docker" naming only the
// registries to log in to, from docker_registry_auth; the engine, and the credentials,
// come from the target's environment.
func DockerRegistryAuthBlock(b *hclsyntax.Block, src []byte) bool {
	if b.Type != "provider" || len(b.Labels) != 1 || b.Labels[0] != "docker" || len(b.Body.Attributes) != 0 || len(b.Body.Blocks) != 1 {
		return false
	}
	d := b.Body.Blocks[0]
	if d.Type != "dynamic" || len(d.Labels) != 1 || d.Labels[0] != "registry_auth" || len(d.Body.Attributes) != 1 || len(d.Body.Blocks) != 1 {
		return false
	}
	text := func(e hclsyntax.Expression) string { return string(e.Range().SliceBytes(src)) }
	forEach, ok := d.Body.Attributes["for_each"]
	if !ok || text(forEach.Expr) != "toset(var.docker_registry_auth)" {
		return false
	}
	c := d.Body.Blocks[0]
	addr, ok := c.Body.Attributes["address"]
	return c.Type == "content" && len(c.Body.Attributes) == 1 && len(c.Body.Blocks) == 0 && ok && text(addr.Expr) == "registry_auth.value"
}
