package catalog_test

// The target contract: every provider module of a template (modules/<target>/) is
// interchangeable behind the template's form. docs/targets.md states the rule; these
// tests check it on the built-in catalog without any provider plugin, so they run on a
// machine that can build neither the AWS nor the Kubernetes provider:
//
//   - terraform-config-inspect reads each module's variables, outputs and
//     required_providers (any diagnostic fails);
//   - hclsyntax reads what config-inspect does not expose (backend blocks, security
//     group rules, where secrets go);
//   - `tofu fmt -check` runs on the whole catalog when tofu is available.

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"
	"github.com/zclconf/go-cty/cty"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/catalog/catalogtest"
	"github.com/spawnit/spawnit/internal/testservers"
)

// requiredTargets are the targets every built-in template must have a module for.
var requiredTargets = []string{"aws", "docker"}

// contractModule is one provider module of a template, read both ways.
type contractModule struct {
	target  string
	inspect *tfconfig.Module
	hcl     *hclModule
}

func builtinTemplateIDs(t *testing.T) []string {
	t.Helper()
	entries, err := fs.ReadDir(catalog.Builtin(), ".")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	if len(ids) == 0 {
		t.Fatal("no built-in template")
	}
	return ids
}

// copyTree writes the embedded folder root (and below) to dir: terraform-config-inspect
// reads an OS directory, and tofu needs one.
func copyTree(t *testing.T, root, dir string) {
	t.Helper()
	err := fs.WalkDir(catalog.Builtin(), root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := fs.ReadFile(catalog.Builtin(), p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func loadContractModule(t *testing.T, id, target string) *contractModule {
	t.Helper()
	root := path.Join(id, "modules", target)
	dir := t.TempDir()
	copyTree(t, root, dir)
	mod, diags := tfconfig.LoadModule(dir)
	if len(diags) > 0 {
		t.Fatalf("%s: terraform-config-inspect: %v", root, diags)
	}
	return &contractModule{target: target, inspect: mod, hcl: parseHCLModule(t, root)}
}

// checkAsAuthorsDo runs catalog.CheckTemplate on a built-in template's files.
func checkAsAuthorsDo(t *testing.T, id string) {
	t.Helper()
	if _, err := catalog.CheckTemplate(catalogtest.Files(t, catalog.Builtin(), id)); err != nil {
		var ve *catalog.ValidationError
		if !errors.As(err, &ve) {
			t.Fatal(err)
		}
		for _, f := range ve.Fields {
			t.Errorf("%s: %s", f.Field, f.Reason)
		}
	}
}

// TestContractBuiltinTemplates checks the interface rule of docs/targets.md on every
// built-in template, and each module's own conventions.
func TestContractBuiltinTemplates(t *testing.T) {
	for _, id := range builtinTemplateIDs(t) {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			data, err := fs.ReadFile(catalog.Builtin(), path.Join(id, catalog.TemplateFile))
			if err != nil {
				t.Fatal(err)
			}
			tpl, err := catalog.ParseTemplate(data)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := fs.ReadDir(catalog.Builtin(), path.Join(id, "modules"))
			if err != nil {
				t.Fatal(err)
			}
			var targets []string
			for _, e := range entries {
				if !e.IsDir() {
					t.Errorf("modules/%s is not a folder", e.Name())
					continue
				}
				targets = append(targets, e.Name())
			}
			for _, want := range requiredTargets {
				if !slices.Contains(targets, want) {
					t.Errorf("no %s module: every built-in template has one", want)
				}
			}
			// The rule itself (form and server variables, target variables, outputs,
			// files, readiness outputs) is what template authors check with
			// `spawnit template validate`: catalog.CheckTemplate.
			checkAsAuthorsDo(t, id)

			mods := map[string]*contractModule{}
			for _, target := range targets {
				m := loadContractModule(t, id, target)
				mods[target] = m
				checkCommonConventions(t, m)
			}
			if len(tpl.Readiness) == 0 {
				t.Errorf("template %s declares no readiness checks", tpl.ID)
			}
			if aws, docker := mods["aws"], mods["docker"]; aws != nil && docker != nil {
				checkAWSModule(t, tpl, aws, dockerPublishedPorts(t, docker), dockerPortProtocols(docker))
			}
			if k8s, docker := mods["kubernetes"], mods["docker"]; k8s != nil && docker != nil {
				checkKubernetesModule(t, tpl, k8s, dockerPublishedPorts(t, docker))
			}
		})
	}
}

// checkCommonConventions: pinned providers, no provider configuration and no backend
// (the server's environment configures providers; the engine adds the backend).
func checkCommonConventions(t *testing.T, m *contractModule) {
	t.Helper()
	if len(m.inspect.RequiredProviders) == 0 {
		t.Errorf("%s: no required_providers", m.target)
	}
	for name, req := range m.inspect.RequiredProviders {
		if req.Source == "" || !strings.Contains(req.Source, "/") {
			t.Errorf("%s: provider %s has no source (namespace/type)", m.target, name)
		}
		if len(req.VersionConstraints) == 0 {
			t.Errorf("%s: provider %s has no version constraint", m.target, name)
		}
	}
	allowed := 0
	for _, b := range m.hcl.blocks {
		if m.target == "docker" && catalog.DockerRegistryAuthBlock(b, m.hcl.files[b.Range().Filename]) {
			allowed++
		}
	}
	if len(m.inspect.ProviderConfigs) > allowed {
		t.Errorf("%s: module configures providers %v; credentials and region come from the server's environment", m.target, sortedKeys(m.inspect.ProviderConfigs))
	}
	if len(m.inspect.RequiredCore) == 0 {
		t.Errorf("%s: no required_version", m.target)
	}
	for _, b := range m.hcl.blocks {
		switch b.Type {
		case "provider":
			if m.target != "docker" || !catalog.DockerRegistryAuthBlock(b, m.hcl.files[b.Range().Filename]) {
				t.Errorf("%s: provider block %v", m.target, b.Labels)
			}
		case "terraform":
			for _, nb := range b.Body.Blocks {
				if nb.Type == "backend" || nb.Type == "cloud" {
					t.Errorf("%s: %s block; the engine adds the backend at run time", m.target, nb.Type)
				}
			}
		case "module":
			t.Errorf("%s: module call %v; a module is self-contained", m.target, b.Labels)
		}
	}
}

// dockerPublishedPorts lists the port fields the Docker module publishes
// (ports { external = var.X }), in order.
func dockerPublishedPorts(t *testing.T, m *contractModule) []string {
	t.Helper()
	var ports []string
	for _, b := range m.hcl.resources("docker_container") {
		for _, nb := range b.Body.Blocks {
			if nb.Type != "ports" {
				continue
			}
			if a := nb.Body.Attributes["external"]; a != nil {
				ports = append(ports, varName(a.Expr))
			}
		}
	}
	if len(ports) == 0 {
		t.Fatalf("docker: no published port")
	}
	return ports
}

// dockerPortProtocols maps each port field the Docker module publishes to its
// protocol ("tcp" unless the ports block says otherwise).
func dockerPortProtocols(m *contractModule) map[string]string {
	protocols := map[string]string{}
	for _, b := range m.hcl.resources("docker_container") {
		for _, nb := range b.Body.Blocks {
			if nb.Type != "ports" || nb.Body.Attributes["external"] == nil {
				continue
			}
			proto := "tcp"
			if a := nb.Body.Attributes["protocol"]; a != nil {
				proto = strings.Trim(m.hcl.text(a.Expr), `"`)
			}
			protocols[varName(nb.Body.Attributes["external"].Expr)] = proto
		}
	}
	return protocols
}

// checkAWSModule: the security group opens exactly the ports the Docker module
// publishes, over the same protocol (TCP unless the Docker port says UDP), to a range
// that comes from aws_allowed_cidr; nothing else comes in; instances require IMDSv2;
// tags carry the spawnit keys and no secret.
func checkAWSModule(t *testing.T, tpl *catalog.Template, m *contractModule, published []string, protocols map[string]string) {
	t.Helper()
	if len(m.hcl.resources("aws_security_group_rule")) > 0 {
		t.Errorf("aws: aws_security_group_rule is not used; rules are aws_vpc_security_group_*_rule")
	}
	for _, sg := range m.hcl.resources("aws_security_group") {
		if _, ok := sg.Body.Attributes["ingress"]; ok {
			t.Errorf("aws: aws_security_group.%s has inline ingress rules", sg.Labels[1])
		}
		for _, nb := range sg.Body.Blocks {
			if nb.Type == "ingress" || nb.Type == "egress" {
				t.Errorf("aws: aws_security_group.%s has an inline %s block", sg.Labels[1], nb.Type)
			}
		}
	}

	var opened []string
	rules := m.hcl.resources("aws_vpc_security_group_ingress_rule")
	if len(rules) == 0 {
		t.Errorf("aws: no ingress rule: the service would be unreachable")
	}
	for _, r := range rules {
		name := "aws_vpc_security_group_ingress_rule." + r.Labels[1]
		attr := func(n string) string {
			if a := r.Body.Attributes[n]; a != nil {
				return m.hcl.text(a.Expr)
			}
			return ""
		}
		proto := attr("ip_protocol")
		for _, n := range []string{"cidr_ipv6", "prefix_list_id", "referenced_security_group_id"} {
			if attr(n) != "" {
				t.Errorf("aws: %s sets %s; sources come from aws_allowed_cidr only", name, n)
			}
		}
		cidr := r.Body.Attributes["cidr_ipv4"]
		if cidr == nil || !m.hcl.references(cidr.Expr, "var.aws_allowed_cidr") {
			t.Errorf("aws: %s: cidr_ipv4 must come from var.aws_allowed_cidr", name)
		} else if strings.Contains(m.hcl.resolvedText(cidr.Expr), "0.0.0.0/0") {
			t.Errorf("aws: %s: cidr_ipv4 may open the service to the whole internet by default", name)
		}
		from, to := attr("from_port"), attr("to_port")
		if from != to {
			t.Errorf("aws: %s opens a port range %s-%s", name, from, to)
		}
		if fe := r.Body.Attributes["for_each"]; fe != nil {
			if from != "each.value" {
				t.Errorf("aws: %s: from_port = %s, want each.value of its for_each", name, from)
			}
			ports, ok := m.hcl.localObject(fe.Expr)
			if !ok {
				t.Errorf("aws: %s: for_each must be a local object of port variables, got %s", name, m.hcl.text(fe.Expr))
				continue
			}
			var vars []string
			for _, e := range ports {
				vars = append(vars, varName(e))
			}
			checkProtocol(t, name, proto, vars, protocols)
			opened = append(opened, vars...)
		} else {
			v := varName(r.Body.Attributes["from_port"].Expr)
			checkProtocol(t, name, proto, []string{v}, protocols)
			opened = append(opened, v)
		}
	}
	for _, p := range opened {
		if f, ok := tpl.Field(p); !ok || f.Type != catalog.TypePort {
			t.Errorf("aws: the security group opens %q, which is not a port field", p)
		}
	}
	if !reflect.DeepEqual(sorted(opened), sorted(published)) {
		t.Errorf("aws: the security group opens %v; the Docker module publishes %v", sorted(opened), sorted(published))
	}

	instances := m.hcl.resources("aws_instance")
	if len(instances) != 1 {
		t.Errorf("aws: %d aws_instance resources, want 1", len(instances))
	}
	for _, inst := range instances {
		tokens := ""
		for _, nb := range inst.Body.Blocks {
			if nb.Type == "metadata_options" && nb.Body.Attributes["http_tokens"] != nil {
				tokens = m.hcl.text(nb.Body.Attributes["http_tokens"].Expr)
			}
		}
		if tokens != `"required"` {
			t.Errorf("aws: aws_instance.%s must require IMDSv2 (metadata_options.http_tokens = \"required\"), got %q", inst.Labels[1], tokens)
		}
	}
	checkLabels(t, tpl, m, "tags", map[string]string{
		"spawnit:client":   "var.spawnit_client_id",
		"spawnit:service":  "var.spawnit_service_id",
		"spawnit:template": `"` + tpl.ID + `"`,
	})
}

// checkProtocol: an ingress rule opens its ports over the protocol the Docker module
// publishes them with.
func checkProtocol(t *testing.T, rule, proto string, ports []string, protocols map[string]string) {
	t.Helper()
	for _, p := range ports {
		want := protocols[p]
		if want == "" {
			want = "tcp"
		}
		if proto != `"`+want+`"` {
			t.Errorf("aws: %s: ip_protocol = %s, want %q as the Docker module publishes %s", rule, proto, want, p)
		}
	}
}

// checkKubernetesModule: the Service exposes the ports the Docker module publishes;
// objects carry the spawnit labels; sensitive fields never go into a ConfigMap or a
// plain env value (only into Secrets).
func checkKubernetesModule(t *testing.T, tpl *catalog.Template, m *contractModule, published []string) {
	t.Helper()
	var exposed []string
	for _, s := range m.hcl.resources("kubernetes_service_v1") {
		for _, spec := range s.Body.Blocks {
			for _, p := range spec.Body.Blocks {
				if spec.Type == "spec" && p.Type == "port" && p.Body.Attributes["port"] != nil {
					exposed = append(exposed, varName(p.Body.Attributes["port"].Expr))
				}
			}
		}
	}
	if !reflect.DeepEqual(sorted(exposed), sorted(published)) {
		t.Errorf("kubernetes: the Service exposes %v; the Docker module publishes %v", sorted(exposed), sorted(published))
	}
	checkLabels(t, tpl, m, "labels", map[string]string{
		"spawnit.io/client":            "var.spawnit_client_id",
		"spawnit.io/service":           "var.spawnit_service_id",
		"spawnit.io/template":          `"` + tpl.ID + `"`,
		"app.kubernetes.io/managed-by": `"spawnit"`,
	})
	sensitive := map[string]bool{}
	for _, f := range tpl.Inputs {
		if f.IsSensitive() {
			sensitive["var."+f.Name] = true
		}
	}
	leaks := func(e hclsyntax.Expression) []string {
		var out []string
		for _, ref := range m.hcl.allReferences(e) {
			if sensitive[ref] {
				out = append(out, ref)
			}
		}
		return out
	}
	for _, cm := range m.hcl.resources("kubernetes_config_map_v1") {
		if a := cm.Body.Attributes["data"]; a != nil {
			if l := leaks(a.Expr); len(l) > 0 {
				t.Errorf("kubernetes: config map %s holds sensitive values %v; use a Secret", cm.Labels[1], l)
			}
		}
	}
	walkBlocks(m.hcl.blocks, func(b *hclsyntax.Block) {
		if b.Type != "env" {
			return
		}
		a := b.Body.Attributes["value"]
		if a == nil {
			return
		}
		if l := leaks(a.Expr); len(l) > 0 {
			name := "?"
			if n := b.Body.Attributes["name"]; n != nil {
				name = m.hcl.text(n.Expr)
			}
			t.Errorf("kubernetes: env %s = %s puts the sensitive %v in the pod spec; use value_from a Secret", name, m.hcl.text(a.Expr), l)
		}
	})
}

// checkLabels: local.<name> maps exactly the wanted keys to the wanted expressions, so
// every object labelled or tagged with it can be traced back to its service.
func checkLabels(t *testing.T, tpl *catalog.Template, m *contractModule, name string, want map[string]string) {
	t.Helper()
	e, ok := m.hcl.locals[name]
	if !ok {
		t.Errorf("%s: no local.%s", m.target, name)
		return
	}
	obj, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Errorf("%s: local.%s is not an object", m.target, name)
		return
	}
	got := map[string]string{}
	for _, item := range obj.Items {
		k, diags := item.KeyExpr.Value(nil)
		if diags.HasErrors() || k.IsNull() || k.Type() != cty.String {
			t.Errorf("%s: local.%s has a computed key", m.target, name)
			continue
		}
		got[k.AsString()] = m.hcl.text(item.ValueExpr)
		for _, ref := range m.hcl.allReferences(item.ValueExpr) {
			if f, ok := tpl.Field(strings.TrimPrefix(ref, "var.")); ok && strings.HasPrefix(ref, "var.") && f.IsSensitive() {
				t.Errorf("%s: local.%s[%q] carries the secret %s", m.target, name, k.AsString(), ref)
			}
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: local.%s[%q] = %q, want %q", m.target, name, k, got[k], v)
		}
	}
}

// TestContractFormatting runs `tofu fmt -check` over the whole built-in catalog, every
// target included: the one tofu check that needs no provider.
func TestContractFormatting(t *testing.T) {
	bin := testservers.Tofu(t)
	dir := t.TempDir()
	copyTree(t, ".", dir)
	cfg := filepath.Join(t.TempDir(), "tofu.tfrc")
	if err := os.WriteFile(cfg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_") {
			env = append(env, kv)
		}
	}
	env = append(env, "TF_CLI_CONFIG_FILE="+cfg, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "fmt", "-check", "-diff", "-recursive", "-no-color", ".")
	cmd.Dir = dir
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("tofu fmt -check -recursive: %v\n%s", err, out.Bytes())
	}
}

// hclModule is a module's HCL, parsed without evaluating anything.
type hclModule struct {
	files  map[string][]byte // file name -> source, for expression text
	blocks []*hclsyntax.Block
	locals map[string]hclsyntax.Expression
}

func parseHCLModule(t *testing.T, root string) *hclModule {
	t.Helper()
	m := &hclModule{files: map[string][]byte{}, locals: map[string]hclsyntax.Expression{}}
	entries, err := fs.ReadDir(catalog.Builtin(), root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".tf") {
			continue
		}
		data, err := fs.ReadFile(catalog.Builtin(), path.Join(root, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		f, diags := hclsyntax.ParseConfig(data, e.Name(), hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("%s/%s: %v", root, e.Name(), diags)
		}
		m.files[e.Name()] = data
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			m.blocks = append(m.blocks, b)
			if b.Type == "locals" {
				for name, a := range b.Body.Attributes {
					if _, dup := m.locals[name]; dup {
						t.Fatalf("%s: local.%s declared twice", root, name)
					}
					m.locals[name] = a.Expr
				}
			}
		}
	}
	return m
}

func (m *hclModule) text(e hclsyntax.Expression) string {
	r := e.Range()
	return string(r.SliceBytes(m.files[r.Filename]))
}

func (m *hclModule) resources(typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range m.blocks {
		if b.Type == "resource" && len(b.Labels) == 2 && b.Labels[0] == typ {
			out = append(out, b)
		}
	}
	return out
}

// allReferences lists the var.* and local.* references of e, following locals.
func (m *hclModule) allReferences(e hclsyntax.Expression) []string {
	seen := map[string]bool{}
	var walk func(hclsyntax.Expression)
	walk = func(e hclsyntax.Expression) {
		for _, tr := range e.Variables() {
			if len(tr) < 2 {
				continue
			}
			attr, ok := tr[1].(hcl.TraverseAttr)
			if !ok {
				continue
			}
			ref := tr.RootName() + "." + attr.Name
			if seen[ref] {
				continue
			}
			seen[ref] = true
			if tr.RootName() == "local" {
				if le, ok := m.locals[attr.Name]; ok {
					walk(le)
				}
			}
		}
	}
	walk(e)
	return sortedKeys(seen)
}

func (m *hclModule) references(e hclsyntax.Expression, ref string) bool {
	return slices.Contains(m.allReferences(e), ref)
}

// resolvedText is e's source followed by that of every local it uses.
func (m *hclModule) resolvedText(e hclsyntax.Expression) string {
	parts := []string{m.text(e)}
	for _, ref := range m.allReferences(e) {
		if name, ok := strings.CutPrefix(ref, "local."); ok {
			if le := m.locals[name]; le != nil {
				parts = append(parts, m.text(le))
			}
		}
	}
	return strings.Join(parts, "\n")
}

// localObject returns the values of the object local e names (local.X = { k = v }).
func (m *hclModule) localObject(e hclsyntax.Expression) ([]hclsyntax.Expression, bool) {
	st, ok := e.(*hclsyntax.ScopeTraversalExpr)
	if !ok || len(st.Traversal) != 2 || st.Traversal.RootName() != "local" {
		return nil, false
	}
	attr, ok := st.Traversal[1].(hcl.TraverseAttr)
	if !ok {
		return nil, false
	}
	obj, ok := m.locals[attr.Name].(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil, false
	}
	var out []hclsyntax.Expression
	for _, item := range obj.Items {
		out = append(out, item.ValueExpr)
	}
	return out, true
}

// varName is X for an expression that is exactly var.X, else its whole text marked.
func varName(e hclsyntax.Expression) string {
	st, ok := e.(*hclsyntax.ScopeTraversalExpr)
	if ok && len(st.Traversal) == 2 && st.Traversal.RootName() == "var" {
		if attr, ok := st.Traversal[1].(hcl.TraverseAttr); ok {
			return attr.Name
		}
	}
	return "<not a variable>"
}

func walkBlocks(blocks []*hclsyntax.Block, fn func(*hclsyntax.Block)) {
	for _, b := range blocks {
		fn(b)
		walkBlocks(b.Body.Blocks, fn)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}
