package catalog_test

import (
	"errors"
	"fmt"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
)

func ExampleTemplate_Validate() {
	tpl, err := catalog.ParseTemplate([]byte(`{
	  "id": "echo", "name": "Echo", "description": "", "category": "test", "version": "1",
	  "inputs": [
	    {"name": "port", "label": "Port", "type": "port", "default": 8080},
	    {"name": "greeting", "label": "Greeting", "type": "string", "max": 100, "default": "hello"}
	  ]
	}`))
	if err != nil {
		panic(err)
	}

	// A request body's "inputs" object, decoded without losing duplicates or precision.
	inputs, err := catalog.ParseInputs([]byte(`{"greeting": "hi ${not.evaluated}"}`))
	if err != nil {
		panic(err)
	}
	values, err := tpl.Validate(inputs)
	if err != nil {
		panic(err)
	}
	tfvars, err := tpl.Render(values, catalog.ServerValues{TenantID: "acme", ServiceID: "svc-abcdefgh", ServiceName: "My echo"})
	if err != nil {
		panic(err)
	}
	fmt.Print(string(tfvars))

	// Every bad field at once, as one error the API turns into a 400/422.
	_, err = tpl.Validate(map[string]any{"port": 70000, "spawnit_client_id": "other", "colour": "red"})
	fmt.Println(errors.Is(err, engine.ErrInvalidInput))
	var ve *catalog.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			fmt.Printf("%s: %s (%s)\n", f.Field, f.Reason, f.Code)
		}
	}
	// Output:
	// {
	//   "greeting": "hi ${not.evaluated}",
	//   "port": 8080,
	//   "spawnit_client_id": "acme",
	//   "spawnit_service_id": "svc-abcdefgh",
	//   "spawnit_service_name": "My echo"
	// }
	// true
	// colour: is not an input of template echo (unknown)
	// spawnit_client_id: is reserved: values named spawnit_* are set by the server (reserved)
	// port: must be a port between 1 and 65535 (range)
}
