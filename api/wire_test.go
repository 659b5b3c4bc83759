package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
)

// TestWireShapes pins the API's JSON to what it was when the engine's and catalog's
// types went on the wire as they were: every field set, and every field zero, the wire
// types encode byte for byte as the domain types do.
func TestWireShapes(t *testing.T) {
	// Before apiv1 had types of its own, a template was sent as the catalog's with the
	// enabled providers added; targets, their new name, now comes first.
	type oldTemplate struct {
		catalog.Template
		Targets   []string `json:"targets"`
		Providers []string `json:"providers"`
	}
	for _, full := range []bool{true, false} {
		var info engine.JobInfo
		var ev engine.Event
		var rep engine.DriftReport
		var tpl catalog.Template
		if full {
			fill(reflect.ValueOf(&info).Elem())
			fill(reflect.ValueOf(&ev).Elem())
			fill(reflect.ValueOf(&rep).Elem())
			fill(reflect.ValueOf(&tpl).Elem())
		}
		same(t, info, wireJob(info))
		same(t, ev, wireEvent(ev))
		same(t, rep, wireDrift(rep))
		same(t, oldTemplate{Template: tpl, Targets: tpl.Targets, Providers: tpl.Targets}, wireTemplate(tpl))
	}
}

func same(t *testing.T, domain, wire any) {
	t.Helper()
	want, err := json.Marshal(domain)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(wire)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%T encodes as\n%s\nwant (%T)\n%s", wire, got, domain, want)
	}
}

// fill sets every exported field reachable from v to a value that is not zero.
func fill(v reflect.Value) {
	switch v.Type() {
	case reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)))
		return
	case reflect.TypeFor[json.RawMessage]():
		v.Set(reflect.ValueOf(json.RawMessage(`"raw"`)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x-" + v.Type().Name())
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Interface:
		v.Set(reflect.ValueOf("any"))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		val := reflect.New(v.Type().Elem()).Elem()
		fill(val)
		m.SetMapIndex(reflect.ValueOf("k").Convert(v.Type().Key()), val)
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	}
}
