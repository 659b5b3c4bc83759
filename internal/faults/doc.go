// Package faults holds SpawnIt's fault-injection tests: they build the real `spawnit`
// binary, run `spawnit serve` against a real S3 server (versitygw), real OpenTofu and
// Docker, and break things on purpose (S3 stopped, slowed or blackholed; the server
// SIGKILLed or SIGTERMed mid-apply; a provider that hangs; state that cannot be saved;
// two servers on one bucket). docs/reliability.md maps each case to its test.
//
// The package has no code of its own; everything is in its tests.
package faults
