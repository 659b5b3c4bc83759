package catalog

import (
	"encoding/json"
	"io/fs"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"
	"github.com/zclconf/go-cty/cty"
)

// builtinProviders lists the module folders of a built-in template.
func builtinProviders(t *testing.T, id string) []string {
	t.Helper()
	entries, err := fs.ReadDir(Builtin(), path.Join(id, modulesDir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func loadModule(t *testing.T, id, provider string) *tfconfig.Module {
	t.Helper()
	sub, err := fs.Sub(Builtin(), path.Join(id, modulesDir, provider))
	if err != nil {
		t.Fatal(err)
	}
	mod, diags := tfconfig.LoadModuleFromFilesystem(tfconfig.WrapFS(sub), ".")
	if diags.HasErrors() {
		t.Fatalf("%s/%s: %v", id, provider, diags.Err())
	}
	return mod
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// minimalInputs fills the required fields of a template with the least a user must
// give: required booleans (licences) accepted. Any other required field needs an
// explicit sample here, so adding one to a built-in fails this test until it has one.
func minimalInputs(t *testing.T, tpl *Template) map[string]any {
	in := map[string]any{}
	for _, f := range tpl.Inputs {
		if !f.Required {
			continue
		}
		if f.Type != TypeBoolean {
			t.Fatalf("%s: required field %s needs a sample value in minimalInputs", tpl.ID, f.Name)
		}
		in[f.Name] = true
	}
	return in
}

// TestBuiltinModuleInterface checks, without tofu, that each module declares exactly the
// variables the template renders, with matching types and sensitivity, and the outputs
// and conventions the engine and supervisor rely on.
func TestBuiltinModuleInterface(t *testing.T) {
	for _, id := range builtinIDs {
		t.Run(id, func(t *testing.T) {
			tpl := loadBuiltin(t, id)
			if f, ok := tpl.Field("port"); !ok || f.Type != TypePort {
				t.Errorf("every built-in has a port field of type port")
			}
			values, err := tpl.Validate(minimalInputs(t, tpl))
			if err != nil {
				t.Fatalf("defaults do not validate: %v", err)
			}
			// Ports left empty are the server's to allocate (CreateRequest.Settle).
			for i, f := range tpl.Inputs {
				if _, ok := values[f.Name]; !ok && f.AllocatedPort() {
					values[f.Name] = int64(20000 + i)
				}
			}
			tfvars, err := tpl.Render(values, ServerValues{TenantID: "c1", ServiceID: "svc-abcdefgh", ServiceName: "n"})
			if err != nil {
				t.Fatal(err)
			}
			var rendered map[string]any
			if err := json.Unmarshal(tfvars, &rendered); err != nil {
				t.Fatal(err)
			}

			var firstVars, firstOutputs []string
			for _, provider := range builtinProviders(t, id) {
				mod := loadModule(t, id, provider)
				// A target's own settings (<provider>_*, with defaults, set by the server)
				// are not the form's: TestContractBuiltinTemplates checks them. The form's
				// variables are shared by every module.
				formVars := map[string]*tfconfig.Variable{}
				for name, v := range mod.Variables {
					if !strings.HasPrefix(name, provider+"_") {
						formVars[name] = v
					}
				}
				vars, outs := keys(formVars), keys(mod.Outputs)
				if firstVars == nil {
					firstVars, firstOutputs = vars, outs
				} else if !reflect.DeepEqual(vars, firstVars) || !reflect.DeepEqual(outs, firstOutputs) {
					t.Errorf("%s: modules of one template must share variables and outputs: %v %v vs %v %v", provider, vars, outs, firstVars, firstOutputs)
				}
				if got := keys(rendered); !reflect.DeepEqual(got, vars) {
					t.Errorf("%s: rendered tfvars keys %v, module variables %v", provider, got, vars)
				}
				for name, v := range formVars {
					if v.Description == "" {
						t.Errorf("%s: variable %s has no description", provider, name)
					}
					if !v.Required {
						t.Errorf("%s: variable %s has a default; defaults belong in template.json", provider, name)
					}
					if slices.Contains(ReservedVariables, name) {
						if v.Type != "string" || v.Sensitive {
							t.Errorf("%s: server variable %s must be a non-sensitive string", provider, name)
						}
						continue
					}
					f, ok := tpl.Field(name)
					if !ok {
						t.Errorf("%s: variable %s is not a template field", provider, name)
						continue
					}
					if v.Type != f.Type.VariableType() {
						t.Errorf("%s: variable %s has type %s, field type %s needs %s", provider, name, v.Type, f.Type, f.Type.VariableType())
					}
					if v.Sensitive != f.IsSensitive() {
						t.Errorf("%s: variable %s sensitive=%v, field sensitive=%v", provider, name, v.Sensitive, f.IsSensitive())
					}
				}
				if _, ok := mod.Outputs["endpoint"]; !ok {
					t.Errorf("%s: no endpoint output", provider)
				}
				for name, o := range mod.Outputs {
					if o.Description == "" {
						t.Errorf("%s: output %s has no description", provider, name)
					}
					secret := strings.Contains(name, "password") || strings.Contains(name, "token") || strings.Contains(name, "secret") || strings.Contains(name, "uri")
					if secret && !o.Sensitive {
						t.Errorf("%s: output %s carries a credential and must be sensitive", provider, name)
					}
				}
				if provider == "docker" {
					req := mod.RequiredProviders["docker"]
					if req == nil || req.Source != "kreuzwerker/docker" || !reflect.DeepEqual(req.VersionConstraints, []string{"4.6.0"}) {
						t.Errorf("docker: required provider = %+v", req)
					}
					// The operator's image setting reaches every Docker module.
					for _, name := range []string{"docker_image_map", "docker_image_prefix", "docker_registry_auth"} {
						if v := mod.Variables[name]; v == nil || v.Default == nil {
							t.Errorf("docker: no variable %s with a default (docs/targets.md, images from a private registry)", name)
						}
					}
					checkDockerModule(t, tpl)
					// Where ports are published and the host users are shown: loopback
					// unless the server's configuration says otherwise.
					for _, name := range []string{"docker_publish_address", "docker_public_host"} {
						if v := mod.Variables[name]; v == nil || v.Default != "127.0.0.1" || v.Type != "string" {
							t.Errorf("docker: variable %s must be a string defaulting to 127.0.0.1: %+v", name, v)
						}
					}
				}
			}
		})
	}
}

// dockerImageExpr is local.image in every Docker module: the operator's image map, else
// the operator's registry prefix, before the upstream image (docs/targets.md).
const dockerImageExpr = `lookup(var.docker_image_map, local.upstream_image,
    var.docker_image_prefix == "" ? local.upstream_image : "${trimsuffix(var.docker_image_prefix, "/")}/${local.upstream_image}",
  )`

// checkDockerModule reads the HCL itself for the conventions tfconfig does not expose:
// naming, labels, loopback-only ports, local images, no backend.
func checkDockerModule(t *testing.T, tpl *Template) {
	t.Helper()
	dir := path.Join(tpl.ID, modulesDir, "docker")
	entries, _ := fs.ReadDir(Builtin(), dir)
	var blocks []*hclsyntax.Block
	src := map[*hclsyntax.Block][]byte{}
	for _, e := range entries {
		data, err := fs.ReadFile(Builtin(), path.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		f, diags := hclsyntax.ParseConfig(data, e.Name(), hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", e.Name(), diags)
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			blocks = append(blocks, b)
			src[b] = data
		}
	}
	text := func(b *hclsyntax.Block, e hclsyntax.Expression) string {
		return string(e.Range().SliceBytes(src[b]))
	}
	attr := func(b, owner *hclsyntax.Block, name string) string {
		a, ok := b.Body.Attributes[name]
		if !ok {
			return ""
		}
		return text(owner, a.Expr)
	}
	hasDynamicLabels := func(b *hclsyntax.Block) bool {
		for _, nb := range b.Body.Blocks {
			if nb.Type == "dynamic" && len(nb.Labels) == 1 && nb.Labels[0] == "labels" && attr(nb, b, "for_each") == "local.labels" {
				return true
			}
		}
		return false
	}
	containers, volumes := 0, 0
	for _, b := range blocks {
		switch {
		case b.Type == "terraform":
			for _, nb := range b.Body.Blocks {
				if nb.Type == "backend" || nb.Type == "cloud" {
					t.Errorf("module declares a %s block; the engine adds the backend", nb.Type)
				}
			}
		case b.Type == "provider":
			if !DockerRegistryAuthBlock(b, src[b]) {
				t.Errorf("module configures provider %v beyond the registries to log in to; the engine's environment does", b.Labels)
			}
		case b.Type == "locals":
			if got := attr(b, b, "image"); got != dockerImageExpr {
				t.Errorf("local.image = %s, want %s", got, dockerImageExpr)
			}
			if attr(b, b, "upstream_image") == "" {
				t.Error("no local.upstream_image: the image the module pulls without the operator's setting")
			}
			if got := attr(b, b, "name"); got != `"spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"` {
				t.Errorf("local.name = %s", got)
			}
			labels, ok := b.Body.Attributes["labels"].Expr.(*hclsyntax.ObjectConsExpr)
			if !ok {
				t.Fatalf("local.labels is not an object")
			}
			got := map[string]string{}
			for _, item := range labels.Items {
				k, _ := item.KeyExpr.Value(nil)
				got[k.AsString()] = text(b, item.ValueExpr)
			}
			want := map[string]string{
				"spawnit.client":   "var.spawnit_client_id",
				"spawnit.service":  "var.spawnit_service_id",
				"spawnit.template": `"` + tpl.ID + `"`,
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("local.labels = %v, want %v", got, want)
			}
		case b.Type == "resource" && b.Labels[0] == "docker_image":
			if got := attr(b, b, "name"); got != "local.image" {
				t.Errorf("docker_image.%s name = %s: every image goes through the operator's image setting (local.image)", b.Labels[1], got)
			}
			if v, _ := b.Body.Attributes["keep_locally"].Expr.Value(nil); v != cty.True {
				t.Errorf("docker_image.%s must keep_locally = true (images are never pulled again on destroy/apply)", b.Labels[1])
			}
		case b.Type == "resource" && b.Labels[0] == "docker_volume":
			volumes++
			if got := attr(b, b, "name"); got != `"${local.name}-data"` {
				t.Errorf("docker_volume.%s name = %s", b.Labels[1], got)
			}
			if !hasDynamicLabels(b) {
				t.Errorf("docker_volume.%s has no spawnit labels", b.Labels[1])
			}
		case b.Type == "resource" && b.Labels[0] == "docker_container":
			containers++
			if got := attr(b, b, "name"); got != "local.name" {
				t.Errorf("docker_container.%s name = %s", b.Labels[1], got)
			}
			if !hasDynamicLabels(b) {
				t.Errorf("docker_container.%s has no spawnit labels", b.Labels[1])
			}
			ports, health := 0, false
			for _, nb := range b.Body.Blocks {
				switch nb.Type {
				case "ports":
					ports++
					ip := nb.Body.Attributes["ip"]
					if ip == nil {
						t.Errorf("ports block without ip: it would publish on every interface")
						continue
					}
					// The operator's address (a target variable whose default is loopback).
					if got := text(b, ip.Expr); got != "var.docker_publish_address" {
						t.Errorf("ports published on %s, want var.docker_publish_address", got)
					}
					ext := strings.TrimPrefix(attr(nb, b, "external"), "var.")
					if f, ok := tpl.Field(ext); !ok || f.Type != TypePort {
						t.Errorf("external port %q does not come from a port field", ext)
					}
					if ports == 1 && ext != "port" {
						t.Errorf("the first published port must be the port field, got %s", ext)
					}
				case "healthcheck":
					health = true
				}
			}
			if ports == 0 {
				t.Errorf("docker_container.%s publishes no port", b.Labels[1])
			}
			// httpecho's image is FROM scratch: nothing inside could run a check.
			if !health && tpl.ID != "httpecho" {
				t.Errorf("docker_container.%s has no healthcheck", b.Labels[1])
			}
		}
	}
	if containers != 1 {
		t.Errorf("%d containers; the conventions assume one", containers)
	}
	stateless := tpl.ID == "nginx-static"
	if volumes == 0 && !stateless {
		t.Errorf("no data volume")
	}
}
