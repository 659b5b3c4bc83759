// Package cluster lets SpawnIt replicas that share one store know of each other. Each
// replica writes a heartbeat record (replicas/<id>.json) every Interval; a replica whose
// newest heartbeat is older than TTL is dead. Nothing else is shared: the registry is how
// a replica tells a job or a lease left by a dead replica from one a live replica still
// holds, and how the replicas split work that must be done once (Owner).
//
// Liveness compares a heartbeat's time with the reader's clock, so replicas' clocks must
// agree to well within TTL (NTP does; the default TTL is 10 seconds).
//
// It imports only the standard library and the store's key layout, so the engine and
// programs importing it can use it on any OS.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// Store is what the registry needs from the shared store (pkg/store's FS and S3 stores
// satisfy it).
type Store interface {
	Get(ctx context.Context, key string) ([]byte, store.Object, error)
	Put(ctx context.Context, key string, data []byte, opts store.PutOptions) (store.Object, error)
	List(ctx context.Context, prefix string) ([]store.Object, error)
	Delete(ctx context.Context, key string) error
}

// Defaults.
const (
	DefaultInterval = 2 * time.Second
	DefaultTTL      = 10 * time.Second
	// forgetAfter: a dead replica's record is deleted by the next Live that sees it this
	// long after its last heartbeat (it tells nothing more by then).
	forgetAfter = time.Hour
)

// Replica is a replica's heartbeat record.
type Replica struct {
	ID      string    `json:"id"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Version string    `json:"version,omitempty"`
	Started time.Time `json:"started"`
	// Seen is the time of its newest heartbeat, by its own clock.
	Seen time.Time `json:"seen"`
}

// Alive reports whether r's newest heartbeat is at most ttl old at now.
func (r Replica) Alive(now time.Time, ttl time.Duration) bool { return now.Sub(r.Seen) <= ttl }

// Options configure a Registry.
type Options struct {
	// ID names this replica; empty draws one from Host and 8 random hex digits.
	ID string
	// Host and Version are recorded for operators (default: the hostname).
	Host    string
	Version string
	// Interval between heartbeats (default 2s) and TTL after which a silent replica is
	// dead (default 10s, at least 3 intervals).
	Interval, TTL time.Duration
	Log           *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
}

// Registry is this replica's membership: it beats while Run runs, and answers who is
// alive. Safe for concurrent use.
type Registry struct {
	st   Store
	self Replica
	opt  Options

	mu      sync.Mutex
	members []string // ids of the live replicas at the newest refresh, sorted
	beatErr error    // the newest heartbeat's error
}

var idChars = regexp.MustCompile(`[^a-z0-9-]+`)

// New returns the registry of one replica on st; it writes nothing until Join or Run.
func New(st Store, opt Options) (*Registry, error) {
	if opt.Host == "" {
		opt.Host, _ = os.Hostname()
	}
	if opt.Interval <= 0 {
		opt.Interval = DefaultInterval
	}
	if opt.TTL <= 0 {
		opt.TTL = DefaultTTL
	}
	if opt.TTL < 3*opt.Interval {
		return nil, fmt.Errorf("cluster: TTL %s must be at least three heartbeat intervals (%s)", opt.TTL, 3*opt.Interval)
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.ID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		host := strings.Trim(idChars.ReplaceAllString(strings.ToLower(opt.Host), "-"), "-")
		if len(host) > 40 {
			host = host[:40]
		}
		if host == "" {
			host = "replica"
		}
		opt.ID = host + "-" + hex.EncodeToString(b[:])
	}
	if idChars.MatchString(opt.ID) || len(opt.ID) > 64 {
		return nil, fmt.Errorf("cluster: replica id %q: use at most 64 of a-z, 0-9 and -", opt.ID)
	}
	now := opt.Now().UTC()
	return &Registry{st: st, opt: opt, self: Replica{ID: opt.ID, Host: opt.Host, PID: os.Getpid(),
		Version: opt.Version, Started: now, Seen: now}, members: []string{opt.ID}}, nil
}

// ID is this replica's id.
func (r *Registry) ID() string { return r.self.ID }

// TTL is the time after which a silent replica counts as dead.
func (r *Registry) TTL() time.Duration { return r.opt.TTL }

// Interval is the time between heartbeats.
func (r *Registry) Interval() time.Duration { return r.opt.Interval }

// Self is this replica's record as of its newest heartbeat.
func (r *Registry) Self() Replica {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.self
}

// Join writes the first heartbeat and reads the members: a replica that cannot write its
// heartbeat must not start work others would take for a dead replica's.
func (r *Registry) Join(ctx context.Context) error {
	if err := r.beat(ctx); err != nil {
		return fmt.Errorf("cluster: writing this replica's heartbeat: %w", err)
	}
	_, err := r.Live(ctx)
	return err
}

// Run beats every Interval (refreshing Members) until ctx ends, then removes this
// replica's record so the others know at once that it left.
func (r *Registry) Run(ctx context.Context) {
	t := time.NewTicker(r.opt.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.Leave()
			return
		case <-t.C:
		}
		if err := r.beat(ctx); err != nil && ctx.Err() == nil {
			r.opt.Log.Warn("cluster: heartbeat failed", "replica", r.self.ID, "err", err)
		}
		if _, err := r.Live(ctx); err != nil && ctx.Err() == nil {
			r.opt.Log.Warn("cluster: reading the replicas failed", "replica", r.self.ID, "err", err)
		}
	}
}

// Leave deletes this replica's record (best effort, bounded).
func (r *Registry) Leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.st.Delete(ctx, storekey.Replica(r.self.ID)); err != nil {
		r.opt.Log.Warn("cluster: removing this replica's heartbeat failed", "replica", r.self.ID, "err", err)
	}
}

func (r *Registry) beat(ctx context.Context) error {
	r.mu.Lock()
	r.self.Seen = r.opt.Now().UTC()
	b, _ := json.Marshal(r.self)
	r.mu.Unlock()
	_, err := r.st.Put(ctx, storekey.Replica(r.self.ID), b, store.PutOptions{ContentType: "application/json"})
	r.mu.Lock()
	r.beatErr = err
	r.mu.Unlock()
	return err
}

// Healthy reports whether this replica's newest heartbeat reached the store.
func (r *Registry) Healthy() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.beatErr
}

// Live reads every replica's record and returns the live ones, sorted by id (this
// replica always among them), refreshing Members. Records dead for an hour are deleted.
func (r *Registry) Live(ctx context.Context) ([]Replica, error) {
	all, err := r.All(ctx)
	if err != nil {
		return nil, err
	}
	now := r.opt.Now()
	var live []Replica
	ids := []string{r.self.ID}
	for _, rep := range all {
		switch {
		case rep.ID == r.self.ID:
			live = append(live, r.Self())
		case rep.Alive(now, r.opt.TTL):
			live = append(live, rep)
			ids = append(ids, rep.ID)
		case now.Sub(rep.Seen) > forgetAfter:
			_ = r.st.Delete(ctx, storekey.Replica(rep.ID))
		}
	}
	if !slices.ContainsFunc(live, func(rep Replica) bool { return rep.ID == r.self.ID }) {
		live = append(live, r.Self())
	}
	sort.Slice(live, func(i, k int) bool { return live[i].ID < live[k].ID })
	sort.Strings(ids)
	r.mu.Lock()
	r.members = ids
	r.mu.Unlock()
	return live, nil
}

// All reads every replica record in the store, live or not, sorted by id.
func (r *Registry) All(ctx context.Context) ([]Replica, error) {
	objs, err := r.st.List(ctx, storekey.ReplicasPrefix)
	if err != nil {
		return nil, fmt.Errorf("cluster: listing replicas: %w", err)
	}
	var out []Replica
	for _, o := range objs {
		id, ok := storekey.ParseReplica(o.Key)
		if !ok {
			continue
		}
		b, _, err := r.st.Get(ctx, o.Key)
		if errors.Is(err, store.ErrNotFound) {
			continue // left meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("cluster: reading replica %s: %w", id, err)
		}
		var rep Replica
		if json.Unmarshal(b, &rep) != nil || rep.ID != id {
			continue
		}
		out = append(out, rep)
	}
	return out, nil
}

// Alive reports whether the replica id has beaten within TTL (this replica always is).
// A replica with no record (it left, or never existed) is not alive.
func (r *Registry) Alive(ctx context.Context, id string) (bool, error) {
	if id == r.self.ID {
		return true, nil
	}
	b, _, err := r.st.Get(ctx, storekey.Replica(id))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cluster: reading replica %s: %w", id, err)
	}
	var rep Replica
	if json.Unmarshal(b, &rep) != nil {
		return false, nil
	}
	return rep.Alive(r.opt.Now(), r.opt.TTL), nil
}

// Members is the ids of the live replicas at the newest refresh (Join, Run's beats or
// Live), sorted; this replica is always among them.
func (r *Registry) Members() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.members...)
}

// Owns reports whether this replica is the owner of key among Members (see Owner).
func (r *Registry) Owns(key string) bool { return Owner(r.Members(), key) == r.self.ID }

// Owner assigns key to one of members by rendezvous hashing: every replica that sees the
// same members picks the same owner, and when a member leaves only its keys move.
// It returns "" for no members.
func Owner(members []string, key string) string {
	var best string
	var bestScore uint64
	for _, m := range members {
		h := fnv.New64a()
		h.Write([]byte(m))
		h.Write([]byte{0})
		h.Write([]byte(key))
		if s := mix(h.Sum64()); best == "" || s > bestScore || s == bestScore && m < best {
			best, bestScore = m, s
		}
	}
	return best
}

// mix spreads FNV's output (its high bits vary little for keys that differ at the end).
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
