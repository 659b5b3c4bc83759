package tofu

// The argument lists of the tofu commands the engine runs. They are built apart from
// running them, so they are tested without a binary. Every command that streams runs
// with -json (OpenTofu's machine-readable UI) and none reads from a terminal
// (-input=false): the engine decides on exit codes and JSON, never on human text.

// Init initializes a working directory, reconfiguring the backend from scratch (the
// engine writes the backend block) and keeping the providers the lock file selects.
func Init() []string {
	return []string{"init", "-no-color", "-input=false", "-backend=true", "-get=true", "-upgrade=false", "-reconfigure", "-json"}
}

// ProvidersLock records in .terraform.lock.hcl the checksums of the providers the
// module requires, as the filesystem mirror at mirror holds them for platform
// (os_arch). An init that finds them there installs without computing checksums
// itself, and so without warning that the lock file is incomplete.
func ProvidersLock(mirror, platform string) []string {
	return []string{"providers", "lock", "-no-color", "-fs-mirror=" + mirror, "-platform=" + platform}
}

// PlanOptions adjusts Plan. The zero value plans with the state lock and a refresh.
type PlanOptions struct {
	// Out is the plan file to save (relative to the working directory).
	Out string
	// NoLock plans without taking the state lock: for reads that must never hold the
	// lock a user's job needs.
	NoLock bool
	// RefreshOnly plans only the refresh of the state (what changed outside).
	RefreshOnly bool
}

// Plan computes a plan. Its exit code is 0 whether or not it has changes (no
// -detailed-exitcode): the changes are read from the stream and the plan file.
func Plan(o PlanOptions) []string {
	args := []string{"plan", "-no-color", "-input=false", "-lock=" + boolArg(!o.NoLock), "-refresh=true"}
	if o.RefreshOnly {
		args = append(args, "-refresh-only")
	}
	if o.Out != "" {
		args = append(args, "-out="+o.Out)
	}
	return append(args, "-json")
}

// Apply applies the configuration without asking; refreshOnly records reality as the
// new state instead (drift accepted).
func Apply(refreshOnly bool) []string {
	args := []string{"apply", "-no-color", "-input=false", "-auto-approve", "-lock=true", "-refresh=true"}
	if refreshOnly {
		args = append(args, "-refresh-only")
	}
	return append(args, "-json")
}

// Destroy destroys every resource of the state without asking.
func Destroy() []string {
	return []string{"destroy", "-no-color", "-input=false", "-auto-approve", "-lock=true", "-refresh=true", "-json"}
}

// ShowPlan prints a saved plan file as JSON.
func ShowPlan(planFile string) []string {
	return []string{"show", "-json", "-no-color", planFile}
}

// ShowState prints the current state as JSON (OpenTofu's documented state
// representation, deposed objects included).
func ShowState() []string { return []string{"show", "-json", "-no-color"} }

// Output prints the module's outputs as JSON, sensitive values included.
func Output() []string { return []string{"output", "-no-color", "-json"} }

// StatePull prints the current state.
func StatePull() []string { return []string{"state", "pull"} }

// ForceUnlock removes the state lock with the given id without asking.
func ForceUnlock(lockID string) []string {
	return []string{"force-unlock", "-no-color", "-force", lockID}
}

func boolArg(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
