// Package contacttest fills a tenant with many sealed contacts quickly, for
// benchmarks that need a workspace of 100,000 or a million contacts. The
// contacts go through contact.Service.Upsert (normalized, sealed,
// blind-indexed and stored exactly as ingest stores them), but their
// writes are gathered into store batches of BatchSize items, one
// transaction each, instead of one transaction per item: a million
// single-item transactions would take most of an hour.
package contacttest

import (
	"context"
	"fmt"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/store"
)

// BatchSize is how many items one batch write carries.
const BatchSize = 1000

// Store is the storage a tenant is seeded into: what the contact service
// reads, and batch writes.
type Store interface {
	contact.Store
	BatchPut(ctx context.Context, items []store.Item) error
}

// Person returns the i-th seeded contact, before normalization: a unique
// e-mail address (person0000042@example.com), names, company, title,
// country and e-mail consent.
func Person(i int) contact.Contact {
	return contact.Contact{
		Email: fmt.Sprintf("person%07d@example.com", i), FirstName: "Person", LastName: fmt.Sprintf("N%07d", i),
		Company: "Example Industries", Title: "Head of Examples", Country: "US",
		Consent: contact.Consent{Email: contact.Granted, Basis: "consent"},
	}
}

// Seed stores Person(from) .. Person(from+n-1) in the tenant of ctx and
// returns when every batch is written. The store must hold none of them
// yet: writes are unconditional and reads do not see the batch being
// gathered. log, when not nil, receives one contact.created entry per
// contact, as ingest writes them (straight to its own store, entry by
// entry); nil writes no audit entries. Seed is not for concurrent use on
// one tenant. Returns the first normalization, key or storage error.
func Seed(ctx context.Context, st Store, keys contact.Keys, log contact.Auditor, from, n int) error {
	if log == nil {
		log = noAudit{}
	}
	b := &batcher{Store: st}
	svc := &contact.Service{Store: b, Keys: keys, Audit: log}
	for i := from; i < from+n; i++ {
		c, errs := contact.Normalize(Person(i), "")
		if len(errs) > 0 {
			return fmt.Errorf("contacttest: person %d: %w", i, errs)
		}
		if _, _, err := svc.Upsert(ctx, c, "seed", nil); err != nil {
			return fmt.Errorf("contacttest: seed person %d: %w", i, err)
		}
	}
	return b.flush(ctx)
}

// batcher is the contact service's store while seeding: it gathers puts
// into batches and passes reads through.
type batcher struct {
	Store
	buf []store.Item
}

// Put buffers it and writes the batch when it is full. The condition is
// not checked: the seeded contacts are new.
func (b *batcher) Put(ctx context.Context, it store.Item, _ store.Cond) (store.Item, error) {
	b.buf = append(b.buf, it)
	it.Version++
	if len(b.buf) == BatchSize {
		return it, b.flush(ctx)
	}
	return it, nil
}

func (b *batcher) flush(ctx context.Context) error {
	if len(b.buf) == 0 {
		return nil
	}
	err := b.Store.BatchPut(ctx, b.buf)
	b.buf = b.buf[:0]
	if err != nil {
		return fmt.Errorf("contacttest: batch: %w", err)
	}
	return nil
}

// BatchDelete has nothing to delete in a fresh tenant (the contact service
// clears the handle of a missing phone number).
func (b *batcher) BatchDelete(context.Context, []store.Key) error { return nil }

type noAudit struct{}

func (noAudit) Append(_ context.Context, e audit.Entry) (audit.Entry, error) { return e, nil }
