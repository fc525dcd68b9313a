package purge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/subject"
	"github.com/alto/alto/shared/tenant"
)

// Requests is what erasure needs of subject requests.
type Requests interface {
	List(ctx context.Context, f subject.Filter) ([]subject.Request, string, error)
	OpenSubject(ctx context.Context, id string) (subject.Ref, error)
	Advance(ctx context.Context, id, status string, res *subject.Result, reason string) (subject.Request, error)
}

// Contacts is what erasure needs of the contact service.
type Contacts interface {
	Find(ctx context.Context, scope auth.Scope, kind, value string) ([]contact.Contact, error)
	Get(ctx context.Context, scope auth.Scope, id string) (contact.Contact, error)
	Delete(ctx context.Context, scope auth.Scope, id, actor string) error
	Suppress(ctx context.Context, c contact.Contact) error
}

// Drafts removes a contact's drafts.
type Drafts interface {
	DeleteDrafts(ctx context.Context, contactID string) (int, error)
}

// Archives removes the export archives that hold any of the contacts.
type Archives interface {
	DropArchives(ctx context.Context, contactIDs []string) (int, error)
}

// Eraser carries out erasure requests (PRG-01): it removes every contact
// matching the subject with its handles and drafts, puts the subject's
// e-mail and phone on the suppression list so no later ingest brings them
// back (ING-04), and completes the request with a report of what it
// removed, and deletes the export archives that hold them (every
// workspace export, and the subject's own). Queued jobs about the subject
// find nothing when they run, and
// queued submissions are dropped by the suppression check. Audit entries
// name contacts by ID only, so they keep no personal data. It may be used
// concurrently; each step is idempotent.
type Eraser struct {
	Requests Requests
	Contacts Contacts
	Drafts   Drafts
	Archives Archives
}

// Run carries out the tenant's pending erasure requests and returns how
// many it completed.
func (e *Eraser) Run(ctx context.Context) (int, error) {
	done, cursor := 0, ""
	for {
		reqs, next, err := e.Requests.List(ctx, subject.Filter{Type: subject.Erasure, Cursor: cursor})
		if err != nil {
			return done, fmt.Errorf("purge: erasures: %w", err)
		}
		for _, r := range reqs {
			if r.Status != subject.Received && r.Status != subject.Running {
				continue
			}
			if err := e.erase(ctx, r.ID); err != nil {
				return done, err
			}
			done++
		}
		if cursor = next; cursor == "" {
			return done, nil
		}
	}
}

func (e *Eraser) erase(ctx context.Context, id string) error {
	if _, err := e.Requests.Advance(ctx, id, subject.Running, nil, ""); err != nil {
		return fmt.Errorf("purge: erasure %s: %w", id, err)
	}
	ref, err := e.Requests.OpenSubject(ctx, id)
	if err != nil {
		return fmt.Errorf("purge: erasure %s: %w", id, err)
	}
	all := auth.Scope{All: true}
	var found []contact.Contact
	switch {
	case ref.ContactID != "":
		c, err := e.Contacts.Get(ctx, all, ref.ContactID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("purge: erasure %s: %w", id, err)
		}
		if err == nil {
			found = append(found, c)
		}
	default:
		norm, _ := contact.Normalize(contact.Contact{Email: ref.Email, Phone: ref.Phone}, "")
		for _, h := range []struct{ kind, value string }{{contact.KindEmail, norm.Email}, {contact.KindPhone, norm.Phone}} {
			if h.value == "" {
				continue
			}
			cs, err := e.Contacts.Find(ctx, all, h.kind, h.value)
			if err != nil {
				return fmt.Errorf("purge: erasure %s: %w", id, err)
			}
			found = append(found, cs...)
		}
		// The subject as named is suppressed even if nothing matched:
		// a later import must not bring them in (ING-04).
		if err := e.Contacts.Suppress(ctx, norm); err != nil {
			return fmt.Errorf("purge: erasure %s: %w", id, err)
		}
	}
	seen := map[string]bool{}
	removed := 0
	for _, c := range found {
		if seen[c.ID] {
			continue
		}
		seen[c.ID] = true
		if err := e.Contacts.Suppress(ctx, c); err != nil {
			return fmt.Errorf("purge: erasure %s: %w", id, err)
		}
		if _, err := e.Drafts.DeleteDrafts(ctx, c.ID); err != nil {
			return fmt.Errorf("purge: erasure %s: %w", id, err)
		}
		err := e.Contacts.Delete(ctx, all, c.ID, "erasure")
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("purge: erasure %s: %w", id, err)
		}
		removed++
	}
	archives := 0
	if e.Archives != nil {
		if archives, err = e.Archives.DropArchives(ctx, slices.Collect(maps.Keys(seen))); err != nil {
			return fmt.Errorf("purge: erasure %s: %w", id, err)
		}
	}
	_, err = e.Requests.Advance(ctx, id, subject.Done, &subject.Result{Contacts: len(seen), Changed: removed, Archives: archives}, "")
	if err != nil {
		return fmt.Errorf("purge: erasure %s: %w", id, err)
	}
	return nil
}

// RunAll carries out pending erasures of every tenant that each names.
func (e *Eraser) RunAll(ctx context.Context, each func(context.Context, func(tenant.ID) error) error) (int, error) {
	total := 0
	err := each(ctx, func(org tenant.ID) error {
		n, err := e.Run(tenant.With(ctx, org))
		total += n
		if errors.Is(err, seal.ErrShredded) {
			return nil
		}
		return err
	})
	return total, err
}
