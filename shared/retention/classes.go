package retention

import (
	"context"
	"errors"
	"time"

	"github.com/alto/alto/shared/store"
)

// Partitions calls fn with every store partition (PK) that holds a class's
// records in the context's tenant, and stops at the first error.
type Partitions func(ctx context.Context, fn func(pk string) error) error

// Fixed is the Partitions of a class kept in the named partitions.
func Fixed(pks ...string) Partitions {
	return func(_ context.Context, fn func(string) error) error {
		for _, pk := range pks {
			if err := fn(pk); err != nil {
				return err
			}
		}
		return nil
	}
}

// Join is the Partitions of all of ps, in order.
func Join(ps ...Partitions) Partitions {
	return func(ctx context.Context, fn func(string) error) error {
		for _, p := range ps {
			if err := p(ctx, fn); err != nil {
				return err
			}
		}
		return nil
	}
}

// Expiring is a class whose records carry ExpiresAt = last activity +
// Default (drafts, RET-02; logs, RET-04): the store drops them then, and a
// tenant's shorter policy brings that forward by the difference.
type Expiring struct {
	Class      string
	Default    time.Duration
	Days       func(Policy) int // the tenant's limit
	Partitions Partitions
	Store      Store
}

// Name implements Class.
func (e Expiring) Name() string { return e.Class }

// Due implements Class: records whose last activity is older than the
// tenant's limit.
func (e Expiring) Due(ctx context.Context, set Settings, now time.Time, limit int) ([]store.Key, error) {
	shift := e.Default - time.Duration(e.Days(set.Policy))*day
	if shift <= 0 {
		return nil, nil // the store's own expiry is the policy
	}
	deadline := now.Add(shift)
	return collect(ctx, e.Store, e.Partitions, limit, func(it store.Item) bool {
		return !it.ExpiresAt.IsZero() && !it.ExpiresAt.After(deadline)
	})
}

// Delete implements Class.
func (e Expiring) Delete(ctx context.Context, keys []store.Key) error {
	return e.Store.BatchDelete(ctx, keys)
}

// AfterContract is a class whose records all go the tenant's
// ContactsDays after its contract ends (contacts and CRM data, RET-03).
type AfterContract struct {
	Class      string
	Partitions Partitions
	Store      Store
}

// Name implements Class.
func (a AfterContract) Name() string { return a.Class }

// Due implements Class: every record, once the contract's end is
// ContactsDays past.
func (a AfterContract) Due(ctx context.Context, set Settings, now time.Time, limit int) ([]store.Key, error) {
	if set.ContactsEndAt.IsZero() || now.Before(set.ContactsEndAt) {
		return nil, nil
	}
	return collect(ctx, a.Store, a.Partitions, limit, func(store.Item) bool { return true })
}

// Delete implements Class.
func (a AfterContract) Delete(ctx context.Context, keys []store.Key) error {
	return a.Store.BatchDelete(ctx, keys)
}

// Trail is the audit log as the sweep sees it.
type Trail interface {
	Due(ctx context.Context, cutoff time.Time, limit int) ([]store.Key, error)
	Trim(ctx context.Context, keys []store.Key) error
}

// AuditTrail is the audit log's own class (RET-05): entries older than
// the tenant's AuditDays go, oldest first, and the chain goes on verifying
// from the last one removed.
type AuditTrail struct{ Log Trail }

// Name implements Class.
func (AuditTrail) Name() string { return "audit" }

// Due implements Class.
func (a AuditTrail) Due(ctx context.Context, set Settings, now time.Time, limit int) ([]store.Key, error) {
	return a.Log.Due(ctx, now.Add(-time.Duration(set.AuditDays)*day), limit)
}

// Delete implements Class.
func (a AuditTrail) Delete(ctx context.Context, keys []store.Key) error { return a.Log.Trim(ctx, keys) }

var errEnough = errors.New("enough")

// collect returns the keys of up to limit items in parts that match keep.
func collect(ctx context.Context, s Store, parts Partitions, limit int, keep func(store.Item) bool) ([]store.Key, error) {
	var keys []store.Key
	err := parts(ctx, func(pk string) error {
		for cursor := ""; ; {
			page, err := s.Query(ctx, store.Query{PK: pk, Cursor: cursor, Limit: store.MaxLimit})
			if err != nil {
				return err
			}
			for _, it := range page.Items {
				if keep(it) {
					keys = append(keys, store.Key{PK: it.PK, SK: it.SK})
					if len(keys) == limit {
						return errEnough
					}
				}
			}
			if cursor = page.Next; cursor == "" {
				return nil
			}
		}
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, err
	}
	return keys, nil
}
