// Package orgs keeps the platform's registry of tenants: every organization
// that has used Alto, learnt on its first authenticated request. Platform
// work that concerns "every tenant" (incident notices to all, detectors
// that read each tenant's audit log) lists them here.
//
// The registry lives in the platform scope (tenant.WithPlatform); entries
// hold the org ID and when it was first seen, nothing else.
package orgs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// Store is the part of the storage port the registry needs.
type Store interface {
	Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error)
	Query(ctx context.Context, q store.Query) (store.Page, error)
}

const partition = "ORG"

// Registry is the tenant registry. It may be used concurrently, also by
// several processes sharing the store.
type Registry struct {
	store Store
	now   func() time.Time
	known sync.Map // tenant.ID → struct{}: registered by this process
}

// New returns the registry kept in s. now may be nil (time.Now).
func New(s Store, now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{store: s, now: now}
}

type entry struct {
	Org       tenant.ID `json:"org"`
	FirstSeen time.Time `json:"firstSeen"`
}

// Register records org if it is not registered yet; registering twice is
// not an error. Returns an error if org is not a valid tenant ID (the
// platform scope included) or the store fails.
func (r *Registry) Register(ctx context.Context, org tenant.ID) error {
	if err := tenant.Valid(string(org)); err != nil {
		return fmt.Errorf("orgs: register: %w", err)
	}
	if _, ok := r.known.Load(org); ok {
		return nil
	}
	data, _ := json.Marshal(entry{Org: org, FirstSeen: r.now().UTC()})
	_, err := r.store.Put(tenant.WithPlatform(ctx), store.Item{PK: partition, SK: string(org), Data: data}, store.IfAbsent)
	if err != nil && !errors.Is(err, store.ErrConditionFailed) {
		return fmt.Errorf("orgs: register %s: %w", org, err)
	}
	r.known.Store(org, struct{}{})
	return nil
}

// List returns up to limit registered tenants (store.DefaultLimit if 0) in
// ID order after cursor ("" for the first page), and the cursor of the
// next page ("" after the last). Returns store.ErrInvalid for a limit above
// store.MaxLimit or a foreign cursor.
func (r *Registry) List(ctx context.Context, cursor string, limit int) ([]tenant.ID, string, error) {
	page, err := r.store.Query(tenant.WithPlatform(ctx), store.Query{PK: partition, Cursor: cursor, Limit: limit})
	if err != nil {
		return nil, "", fmt.Errorf("orgs: list: %w", err)
	}
	out := make([]tenant.ID, 0, len(page.Items))
	for _, it := range page.Items {
		out = append(out, tenant.ID(it.SK))
	}
	return out, page.Next, nil
}

// All calls fn for every registered tenant in ID order, one page at a time,
// and stops at the first error fn or the store returns.
func (r *Registry) All(ctx context.Context, fn func(tenant.ID) error) error {
	cursor := ""
	for {
		ids, next, err := r.List(ctx, cursor, store.MaxLimit)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := fn(id); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}
