package retention

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/purge"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// Class is one kind of record with its own retention.
type Class interface {
	// Name names the class in the audit log and the sweep's report.
	Name() string
	// Due returns up to limit keys of records of the context's tenant that
	// set no longer allows at now.
	Due(ctx context.Context, set Settings, now time.Time, limit int) ([]store.Key, error)
	// Delete removes the records at keys; what is gone already is no error.
	Delete(ctx context.Context, keys []store.Key) error
}

// Purger runs the workspace purge that ends the termination lifecycle.
type Purger interface {
	Purged(ctx context.Context, org string) (bool, error)
	Request(ctx context.Context, confirm, recipient, actor string) (purge.Purge, error)
}

// Deleted is the audit entry type of one batch of deletions by the sweep:
// Target is the batch ID, Detail its class, count and a digest of its keys.
const EntryDeleted = "retention.deleted"

// Report is what one sweep run did.
type Report struct {
	Deleted map[string]int `json:"deleted"` // by class
	Tenants int            `json:"tenants"` // swept to the end
	Purges  int            `json:"purges"`  // lifecycles ended
	// Done is false when the run's budget ran out: the next run goes on
	// from the checkpoint.
	Done bool `json:"done"`
}

const (
	defaultBudget = 10_000
	batchSize     = 500
)

var checkpointKey = store.Key{PK: "RETENTION", SK: "CHECKPOINT"} // platform scope

// checkpoint is where a sweep is: the last tenant it finished in this
// round, and the batch it was deleting when it stopped, if any.
type checkpoint struct {
	Round   string `json:"round"`
	Done    string `json:"done,omitempty"`
	Pending *batch `json:"pending,omitempty"`
	version int64
}

// batch is one bounded deletion, recorded before it starts so that a
// crash in the middle is finished, and audited once, by the next run.
type batch struct {
	ID    string      `json:"id"`
	Org   tenant.ID   `json:"org"`
	Class string      `json:"class"`
	Keys  []store.Key `json:"keys"`
	At    time.Time   `json:"at"`
}

var errBudget = errors.New("retention: budget spent")

// Sweep runs the retention sweep once (RET-08): for every tenant in ID
// order, each class's records that its settings no longer allow are
// deleted in batches of at most 500, each batch recorded in the tenant's
// audit log exactly once; a workspace at the end of its termination
// lifecycle is purged. The run stops after Budget deletions or when ctx
// ends and the next run goes on from the checkpoint; a run killed at any
// point loses and repeats nothing. Two sweeps at once: one of them fails
// with store.ErrConditionFailed.
func (s *Service) Sweep(ctx context.Context) (Report, error) {
	rep := Report{Deleted: map[string]int{}}
	platform := tenant.WithPlatform(ctx)
	cp, err := s.loadCheckpoint(platform)
	if err != nil {
		return rep, err
	}
	if b := cp.Pending; b != nil {
		if err := s.apply(ctx, &cp, *b, true); err != nil {
			return rep, err
		}
		rep.Deleted[b.Class] += len(b.Keys)
	}
	budget := s.Budget
	if budget <= 0 {
		budget = defaultBudget
	}
	err = s.Tenants(ctx, func(org tenant.ID) error {
		if cp.Done != "" && string(org) <= cp.Done {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.sweepTenant(ctx, &cp, org, &budget, &rep); err != nil {
			return err
		}
		rep.Tenants++
		cp.Done = string(org)
		return s.saveCheckpoint(platform, &cp)
	})
	if errors.Is(err, errBudget) {
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	rep.Done = true
	cp.Round, cp.Done = newID("rnd"), "" // the next run starts a new round
	return rep, s.saveCheckpoint(platform, &cp)
}

// sweepTenant applies org's settings to each class in turn.
func (s *Service) sweepTenant(ctx context.Context, cp *checkpoint, org tenant.ID, budget *int, rep *Report) error {
	if s.Purges != nil {
		gone, err := s.Purges.Purged(ctx, string(org))
		if err != nil {
			return fmt.Errorf("retention: sweep %s: %w", org, err)
		}
		if gone {
			return nil // the purge deletes everything
		}
	}
	tctx := tenant.With(ctx, org)
	r, _, err := s.load(tctx)
	if err != nil {
		return err
	}
	now := s.now()
	if r.stage(now) == Deleted {
		if err := s.endLifecycle(tctx, org, r); err != nil {
			return err
		}
		rep.Purges++
		return nil
	}
	set := r.settings(now)
	for _, c := range s.Classes {
		for {
			if *budget <= 0 {
				return errBudget
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			limit := min(batchSize, *budget)
			keys, err := c.Due(tctx, set, now, limit)
			if err != nil {
				return fmt.Errorf("retention: %s of %s: %w", c.Name(), org, err)
			}
			if len(keys) == 0 {
				break
			}
			b := batch{ID: newID("ret"), Org: org, Class: c.Name(), Keys: keys, At: now}
			cp.Pending = &b
			if err := s.saveCheckpoint(tenant.WithPlatform(ctx), cp); err != nil {
				return err
			}
			if err := s.apply(ctx, cp, b, false); err != nil {
				return err
			}
			*budget -= len(keys)
			rep.Deleted[c.Name()] += len(keys)
			if len(keys) < limit {
				break
			}
		}
	}
	return nil
}

// apply deletes b's records, records the deletion in the tenant's audit
// log (once: a resumed batch first looks for its entry) and clears the
// checkpoint's pending batch.
func (s *Service) apply(ctx context.Context, cp *checkpoint, b batch, resumed bool) error {
	c := s.class(b.Class)
	if c == nil {
		return fmt.Errorf("retention: checkpoint names an unknown class %q", b.Class)
	}
	tctx := tenant.With(ctx, b.Org)
	if err := c.Delete(tctx, b.Keys); err != nil {
		return fmt.Errorf("retention: delete %s of %s: %w", b.Class, b.Org, err)
	}
	audited := false
	if resumed {
		var err error
		if audited, err = s.audited(tctx, b); err != nil {
			return err
		}
	}
	if !audited {
		if _, err := s.Audit.Append(tctx, audit.Entry{Type: EntryDeleted, Actor: "system", Target: b.ID,
			Detail: map[string]string{"class": b.Class, "count": strconv.Itoa(len(b.Keys)), "keys": digest(b.Keys)}}); err != nil {
			return fmt.Errorf("retention: audit %s of %s: %w", b.Class, b.Org, err)
		}
	}
	cp.Pending = nil
	return s.saveCheckpoint(tenant.WithPlatform(ctx), cp)
}

// audited reports whether b's audit entry was written before a crash.
func (s *Service) audited(ctx context.Context, b batch) (bool, error) {
	f := audit.Filter{Type: EntryDeleted, From: b.At, Limit: store.MaxLimit}
	for {
		es, next, err := s.Audit.List(ctx, f)
		if err != nil {
			return false, fmt.Errorf("retention: resume %s: %w", b.ID, err)
		}
		if slices.ContainsFunc(es, func(e audit.Entry) bool { return e.Target == b.ID }) {
			return true, nil
		}
		if next == "" {
			return false, nil
		}
		f.Cursor = next
	}
}

// endLifecycle purges a workspace whose termination lifecycle is over.
func (s *Service) endLifecycle(ctx context.Context, org tenant.ID, r record) error {
	if s.Purges == nil {
		return fmt.Errorf("retention: %s is due for deletion but no purge is configured", org)
	}
	to, err := s.Keys.Open(ctx, settingsKey.PK, "recipient", r.Recipient)
	if err != nil {
		return fmt.Errorf("retention: open recipient of %s: %w", org, err)
	}
	if _, err := s.Purges.Request(ctx, string(org), string(to), "system"); err != nil {
		return fmt.Errorf("retention: purge %s: %w", org, err)
	}
	return nil
}

func (s *Service) class(name string) Class {
	for _, c := range s.Classes {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

func (s *Service) loadCheckpoint(platform context.Context) (checkpoint, error) {
	it, err := s.Store.Get(platform, checkpointKey)
	if errors.Is(err, store.ErrNotFound) {
		return checkpoint{Round: newID("rnd")}, nil
	}
	if err != nil {
		return checkpoint{}, fmt.Errorf("retention: checkpoint: %w", err)
	}
	var cp checkpoint
	if err := json.Unmarshal(it.Data, &cp); err != nil {
		return checkpoint{}, fmt.Errorf("retention: checkpoint unreadable: %w", err)
	}
	cp.version = it.Version
	return cp, nil
}

// saveCheckpoint writes cp over the version this run last saw, so a second
// sweep running at the same time fails instead of interleaving.
func (s *Service) saveCheckpoint(platform context.Context, cp *checkpoint) error {
	data, _ := json.Marshal(cp)
	it := store.Item{PK: checkpointKey.PK, SK: checkpointKey.SK, Data: data, Version: cp.version}
	cond := store.IfVersion
	if cp.version == 0 {
		cond = store.IfAbsent
	}
	saved, err := s.Store.Put(platform, it, cond)
	if err != nil {
		return fmt.Errorf("retention: save checkpoint: %w", err)
	}
	cp.version = saved.Version
	return nil
}

// digest is a short digest of a batch's keys for its audit entry.
func digest(keys []store.Key) string {
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s\x00%s\x00", k.PK, k.SK)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)[:16])
}

func newID(prefix string) string {
	b := make([]byte, 10)
	rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}
