package directory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/tenant"
)

// Resolve returns the principal of an authenticated token as the directory
// of its tenant (the tenant in ctx) has it (ACC-07):
//
//   - a tenant without a directory: p unchanged, its claims trusted;
//   - a subject matching no user (by externalId, else by userName without
//     regard to case), or a deactivated user: an error wrapping
//     auth.ErrUnauthenticated, whatever the token's exp says;
//   - an active user whose directory entry has a role: p with the role,
//     branch and dept of the directory; one without a role: p unchanged.
//
// Lookups are cached for the Directory's CacheTTL: a change made through
// this Directory applies to the very next call, one made through another
// process within the TTL. Other errors (the store failing) are returned
// wrapped, not as ErrUnauthenticated.
func (d *Directory) Resolve(ctx context.Context, p auth.Principal) (auth.Principal, error) {
	org, err := orgOf(ctx)
	if err != nil {
		return auth.Principal{}, err
	}
	now := d.now()
	if e, ok := d.cache.get(org, p.Sub, now, d.ttl); ok {
		return e.apply(p)
	}
	gen := d.cache.generation(org)
	e, err := d.load(ctx, p.Sub)
	if err != nil {
		return auth.Principal{}, err
	}
	e.at = now
	d.cache.put(org, p.Sub, gen, e, d.ttl)
	return e.apply(p)
}

// entry is what Resolve learnt about one subject of one tenant.
type entry struct {
	at          time.Time
	noDirectory bool
	found       bool
	active      bool
	role        auth.Role
	branch      string
	dept        string
}

// load reads what the store says about sub, without opening sealed data.
func (d *Directory) load(ctx context.Context, sub string) (entry, error) {
	exists, err := d.Exists(ctx)
	if err != nil {
		return entry{}, fmt.Errorf("directory: resolve: %w", err)
	}
	if !exists {
		return entry{noDirectory: true}, nil
	}
	_, rec, err := d.lookup(ctx, extPK, kindExt, sub)
	if isNotFound(err) {
		_, rec, err = d.lookup(ctx, namePK, kindName, normalizeUserName(sub))
	}
	if isNotFound(err) {
		return entry{}, nil
	}
	if errors.Is(err, seal.ErrShredded) {
		// A purged tenant: nothing of it can be read, its directory
		// included. What the token may still do (follow the purge) is
		// decided by the purge, not here.
		return entry{noDirectory: true}, nil
	}
	if err != nil {
		return entry{}, fmt.Errorf("directory: resolve: %w", err)
	}
	return entry{found: true, active: rec.Active, role: rec.Role, branch: rec.Branch, dept: rec.Dept}, nil
}

func (e entry) apply(p auth.Principal) (auth.Principal, error) {
	switch {
	case e.noDirectory:
		return p, nil
	case !e.found:
		return auth.Principal{}, fmt.Errorf("%w: subject not in the tenant's directory", auth.ErrUnauthenticated)
	case !e.active:
		return auth.Principal{}, fmt.Errorf("%w: user deactivated in the tenant's directory", auth.ErrUnauthenticated)
	}
	if e.role != "" {
		p.Role, p.Branch, p.Dept = e.role, e.branch, e.dept
	}
	return p, nil
}

// maxCached bounds the cache; past it the cache starts over.
const maxCached = 50_000

// cache keeps Resolve's entries per tenant and subject. Every write to a
// tenant's directory drops the tenant's entries and bumps its generation,
// so a lookup that raced with the write cannot store what it read before.
// It may be used concurrently.
type cache struct {
	mu   sync.Mutex
	orgs map[tenant.ID]map[string]entry
	gens map[tenant.ID]uint64
	size int
}

func (c *cache) get(org tenant.ID, sub string, now time.Time, ttl time.Duration) (entry, bool) {
	if ttl < 0 {
		return entry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.orgs[org][sub]
	if !ok || now.Sub(e.at) >= ttl || now.Before(e.at) {
		return entry{}, false
	}
	return e, true
}

func (c *cache) generation(org tenant.ID) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gens[org]
}

func (c *cache) put(org tenant.ID, sub string, gen uint64, e entry, ttl time.Duration) {
	if ttl < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gens[org] != gen {
		return // the directory changed while e was read
	}
	if c.orgs == nil || c.size >= maxCached {
		c.orgs, c.size = map[tenant.ID]map[string]entry{}, 0
	}
	subs := c.orgs[org]
	if subs == nil {
		subs = map[string]entry{}
		c.orgs[org] = subs
	}
	if _, ok := subs[sub]; !ok {
		c.size++
	}
	subs[sub] = e
}

// invalidate forgets everything cached about the tenant of ctx.
func (c *cache) invalidate(ctx context.Context) {
	org, err := tenant.From(ctx)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gens == nil {
		c.gens = map[tenant.ID]uint64{}
	}
	c.gens[org]++
	c.size -= len(c.orgs[org])
	delete(c.orgs, org)
}
