package engine

import (
	"sync"

	"github.com/spawnit/spawnit/engine/internal/tofu"
)

// procHandle holds the tofu process a job runs now, if any, so that its pid can be
// read (tests follow the process group with it). A cancel does not go through it:
// runTofu ties the process to the job's contexts (interrupt on the soft one, kill on
// the hard one). The job sets it when it starts tofu and clears it when tofu has exited
// and its process group was killed.
type procHandle struct {
	mu sync.Mutex
	p  *tofu.Process
}

func (h *procHandle) set(p *tofu.Process) {
	h.mu.Lock()
	h.p = p
	h.mu.Unlock()
}

func (h *procHandle) current() *tofu.Process {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.p
}

// get is tofu's pid (which is also its process group's id), 0 when none runs.
func (h *procHandle) get() int {
	if p := h.current(); p != nil {
		return p.Pid()
	}
	return 0
}
