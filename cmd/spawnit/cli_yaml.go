package main

import (
	"encoding/json"
	"io"

	"go.yaml.in/yaml/v3"
)

// writeYAML writes v as YAML with the field names and the order of its JSON form (the
// API's): v is encoded as JSON, read back as a YAML node tree (JSON is YAML), and the
// tree is written in block style.
func writeYAML(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	blockStyle(&doc)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	return enc.Close()
}

// blockStyle turns JSON's flow collections into YAML's block ones; strings keep the
// quotes that keep them strings ("true", "12").
func blockStyle(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = 0
	}
	if n.Kind == yaml.ScalarNode && n.Style == yaml.DoubleQuotedStyle {
		n.Style = 0
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}
