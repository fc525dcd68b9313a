// Package purge deletes a whole workspace (PRG-02): it shreds the tenant's
// keys first, so from that moment nothing of the tenant can be read (ENC-04),
// then deletes what is left in bounded, resumable steps driven by the
// sweep, and finally e-mails the owner a confirmation log with the counts,
// the times and the digest of the tenant's audit chain.
//
// Purge records live in the platform scope: they outlive the tenant.
package purge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/valid"
)

// Deadline is how long a workspace purge may take, request to last byte.
const Deadline = 72 * time.Hour

// NearDeadline is how long before its deadline an unfinished purge raises
// AlarmDueSoon.
const NearDeadline = 12 * time.Hour

// Alarm names of the purge's timer (OPS-04).
const (
	AlarmDueSoon = "purge.due_soon" // unfinished within NearDeadline of its deadline
	AlarmOverdue = "purge.overdue"  // unfinished past its deadline
)

// Statuses of a purge.
const (
	Shredded = "shredded" // keys destroyed; physical deletion pending
	Deleting = "deleting"
	Done     = "done"
)

// Purge is one workspace purge.
type Purge struct {
	ID          string         `json:"id"`
	Org         string         `json:"org"`
	Status      string         `json:"status"`
	RequestedAt time.Time      `json:"requestedAt"`
	ShreddedAt  time.Time      `json:"shreddedAt"`
	Deadline    time.Time      `json:"deadline"`
	DoneAt      time.Time      `json:"doneAt,omitzero"`
	Deleted     map[string]int `json:"deleted"`
	// AuditEntries and AuditHead are the tenant's audit chain as it was
	// verified right before the shredding: the final digest.
	AuditEntries int64  `json:"auditEntries"`
	AuditHead    string `json:"auditHead"`
	// Log is the confirmation log, once done.
	Log string `json:"log,omitempty"`
	// Recipient is sealed with the platform's keys: where the log goes.
	Recipient []byte `json:"recipient,omitempty"`
	// Alarmed names the timer alarms already raised, so each goes once.
	Alarmed []string `json:"alarmed,omitempty"`
}

// Keys is the tenant key ring: shredding, and sealing in the platform scope.
type Keys interface {
	Shred(ctx context.Context) error
	Seal(ctx context.Context, record, field string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, record, field string, ciphertext []byte) ([]byte, error)
}

// Records keeps purge records (platform scope).
type Records interface {
	Get(ctx context.Context, k store.Key) (store.Item, error)
	Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error)
	Query(ctx context.Context, q store.Query) (store.Page, error)
}

// TenantData deletes a tenant's stored items in bounded steps.
type TenantData interface {
	DeleteTenant(ctx context.Context, limit int) (int, error)
}

// Chain is the audit log: the purge is recorded, and the chain verified
// for its final digest.
type Chain interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
	Verify(ctx context.Context) (audit.Result, error)
}

// Service runs workspace purges. It may be used concurrently.
type Service struct {
	Keys   Keys
	Store  Records
	Data   TenantData
	Blobs  blob.Store
	Audit  Chain
	Mailer notify.Mailer
	// Alarms, when set, hears of a purge near or past its deadline.
	Alarms notify.Alarms
	Now    func() time.Time
}

const (
	purgesPK = "PURGE"     // SK: purge ID → the record
	byOrgPK  = "PURGE#ORG" // SK: org → the purge ID
)

// ErrNotFound is returned for a purge that does not exist or is another
// tenant's.
var ErrNotFound = fmt.Errorf("purge: %w", store.ErrNotFound)

// Request purges the context's tenant: confirm must equal the tenant's ID.
// It records the request, shreds the keys at once, then verifies the audit
// chain for its final digest and returns the purge, due within Deadline. A
// second request while one is under way returns the first. recipient is
// where the confirmation log is e-mailed.
func (s *Service) Request(ctx context.Context, confirm, recipient, actor string) (Purge, error) {
	org, err := tenant.From(ctx)
	if err != nil {
		return Purge{}, err
	}
	if recipient, err = Confirm(org, confirm, recipient, "the purge"); err != nil {
		return Purge{}, err
	}
	platform := tenant.WithPlatform(ctx)
	now := s.now()
	p := Purge{ID: newID(), Org: string(org), Status: Shredded, RequestedAt: now, Deadline: now.Add(Deadline),
		Deleted: map[string]int{}}
	if it, err := s.Store.Get(platform, store.Key{PK: byOrgPK, SK: string(org)}); err == nil {
		prev, err := s.load(platform, string(it.Data))
		if !errors.Is(err, ErrNotFound) {
			return prev, err
		}
		// A request claimed the tenant, then crashed before it saved its
		// record: carry that purge out, or the workspace would stay
		// claimed (and answer 410) yet never be shredded.
		p.ID = string(it.Data)
	} else if !errors.Is(err, store.ErrNotFound) {
		return Purge{}, fmt.Errorf("purge: %w", err)
	} else if _, err := s.Store.Put(platform, store.Item{PK: byOrgPK, SK: p.Org, Data: []byte(p.ID)}, store.IfAbsent); err != nil {
		if errors.Is(err, store.ErrConditionFailed) { // a concurrent request won
			return s.Request(ctx, confirm, recipient, actor)
		}
		return Purge{}, fmt.Errorf("purge: %w", err)
	}
	if _, err := s.Audit.Append(ctx, audit.Entry{Type: "workspace.purge_requested", Actor: actor, Target: p.ID}); err != nil {
		return Purge{}, err
	}
	if p.Recipient, err = s.Keys.Seal(platform, purgesPK+"#"+p.ID, "recipient", []byte(recipient)); err != nil {
		return Purge{}, fmt.Errorf("purge: seal recipient: %w", err)
	}
	if err := s.Keys.Shred(ctx); err != nil {
		return Purge{}, fmt.Errorf("purge: shred: %w", err)
	}
	p.ShreddedAt = s.now()
	// The chain is verified after the shred, so the time until nothing can
	// be read does not grow with the audit log (audit entries are not
	// sealed: they verify without the keys).
	res, err := s.Audit.Verify(ctx)
	if err != nil {
		return Purge{}, err
	}
	p.AuditEntries, p.AuditHead = res.Entries, res.Head
	if !res.OK {
		p.AuditHead = fmt.Sprintf("chain broken at entry %d: %s", res.FirstBroken, res.Reason)
	}
	if err := s.save(platform, p); err != nil {
		return Purge{}, err
	}
	// The platform keeps the only record of the purge now.
	_, err = s.Audit.Append(platform, audit.Entry{Type: "workspace.shredded", Actor: actor, Target: p.ID,
		Detail: map[string]string{"org": p.Org}})
	return p, err
}

// Confirm checks the confirmation of a request that ends a workspace (the
// purge, a termination): confirm must equal org, and email, where the
// confirmation log goes, must look like an address. It returns email
// trimmed, or valid.Errors naming each field.
func Confirm(org tenant.ID, confirm, email, what string) (string, error) {
	var errs valid.Errors
	if confirm != string(org) {
		errs.Add("confirm", "must equal the organization ID, to confirm "+what)
	}
	email = strings.TrimSpace(email)
	if email == "" || !strings.Contains(email, "@") || len(email) > 254 {
		errs.Add("email", "an address for the confirmation log is required")
	}
	return email, errs.Err()
}

// Get returns purge id of the context's tenant. Returns ErrNotFound if it
// does not exist or belongs to another tenant.
func (s *Service) Get(ctx context.Context, id string) (Purge, error) {
	org, err := tenant.From(ctx)
	if err != nil {
		return Purge{}, err
	}
	p, err := s.load(tenant.WithPlatform(ctx), id)
	if err != nil || p.Org != string(org) {
		return Purge{}, ErrNotFound
	}
	p.Recipient = nil
	return p, nil
}

// Purged reports whether org was purged (or is being purged).
func (s *Service) Purged(ctx context.Context, org string) (bool, error) {
	_, err := s.Store.Get(tenant.WithPlatform(ctx), store.Key{PK: byOrgPK, SK: org})
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Step advances every unfinished purge by at most budget deletions of each
// kind and returns how many things it deleted. It is idempotent and
// resumable: run it again after a crash and it continues where the data
// says it is. The sweep calls it until it returns 0.
func (s *Service) Step(ctx context.Context, budget int) (int, error) {
	platform := tenant.WithPlatform(ctx)
	total, cursor := 0, ""
	for {
		page, err := s.Store.Query(platform, store.Query{PK: purgesPK, Cursor: cursor})
		if err != nil {
			return total, fmt.Errorf("purge: step: %w", err)
		}
		for _, it := range page.Items {
			var p Purge
			if err := json.Unmarshal(it.Data, &p); err != nil {
				return total, fmt.Errorf("purge: decode %s: %w", it.SK, err)
			}
			if p.Status == Done {
				continue
			}
			if err := s.watch(ctx, &p); err != nil {
				return total, err
			}
			n, err := s.advance(ctx, p, budget)
			total += n
			if err != nil {
				return total, err
			}
		}
		if cursor = page.Next; cursor == "" {
			return total, nil
		}
	}
}

// watch raises the timer alarm an unfinished purge is due, once each
// (OPS-04): AlarmDueSoon within NearDeadline of the deadline, AlarmOverdue
// past it. The alarm is raised before it is recorded, so a crash between
// the two repeats it rather than loses it.
func (s *Service) watch(ctx context.Context, p *Purge) error {
	if s.Alarms == nil {
		return nil
	}
	now := s.now()
	name := ""
	switch {
	case !now.Before(p.Deadline):
		name = AlarmOverdue
	case !now.Before(p.Deadline.Add(-NearDeadline)):
		name = AlarmDueSoon
	}
	if name == "" || slices.Contains(p.Alarmed, name) {
		return nil
	}
	err := s.Alarms.Raise(ctx, notify.Alarm{Name: name, Detail: map[string]string{
		"purge": p.ID, "org": p.Org, "deadline": p.Deadline.Format(time.RFC3339), "status": p.Status}})
	if err != nil {
		return fmt.Errorf("purge: %s: alarm: %w", p.ID, err)
	}
	p.Alarmed = append(p.Alarmed, name)
	return s.save(tenant.WithPlatform(ctx), *p)
}

// advance deletes up to budget items and budget blobs of p's tenant; when
// nothing is left it completes p and sends the confirmation.
func (s *Service) advance(ctx context.Context, p Purge, budget int) (int, error) {
	tctx := tenant.With(ctx, tenant.ID(p.Org))
	items, err := s.Data.DeleteTenant(tctx, budget)
	if err != nil {
		return 0, fmt.Errorf("purge: %s: %w", p.ID, err)
	}
	blobs := 0
	if s.Blobs != nil {
		page, err := s.Blobs.List(tctx, "", "", budget)
		if err != nil {
			return items, fmt.Errorf("purge: %s: list blobs: %w", p.ID, err)
		}
		for _, o := range page.Objects {
			if err := s.Blobs.Delete(tctx, o.Key); err != nil {
				return items, fmt.Errorf("purge: %s: delete blob: %w", p.ID, err)
			}
			blobs++
		}
	}
	p.Deleted["items"] += items
	p.Deleted["blobs"] += blobs
	platform := tenant.WithPlatform(ctx)
	if items+blobs > 0 {
		p.Status = Deleting
		return items + blobs, s.save(platform, p)
	}
	p.Status, p.DoneAt = Done, s.now()
	p.Log = confirmation(p)
	if err := s.notify(platform, p); err != nil {
		return 0, err
	}
	if err := s.save(platform, p); err != nil {
		return 0, err
	}
	_, err = s.Audit.Append(platform, audit.Entry{Type: "workspace.purged", Actor: "system", Target: p.ID,
		Detail: map[string]string{"org": p.Org, "items": fmt.Sprint(p.Deleted["items"]), "blobs": fmt.Sprint(p.Deleted["blobs"])}})
	return 0, err
}

// notify e-mails the confirmation log; the purge ID keeps it to one e-mail
// however often the last step runs.
func (s *Service) notify(platform context.Context, p Purge) error {
	if s.Mailer == nil {
		return nil
	}
	to, err := s.Keys.Open(platform, purgesPK+"#"+p.ID, "recipient", p.Recipient)
	if err != nil {
		return fmt.Errorf("purge: open recipient: %w", err)
	}
	err = s.Mailer.Send(platform, notify.Email{ID: "purge-" + p.ID, To: []string{string(to)},
		Subject: "Alto: workspace " + p.Org + " purged", Text: p.Log})
	if err != nil {
		return fmt.Errorf("purge: confirmation: %w", err)
	}
	return nil
}

// confirmation is the log sent to the owner.
func confirmation(p Purge) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Workspace purge confirmation\n\n")
	fmt.Fprintf(&b, "Organization:        %s\nPurge:               %s\n", p.Org, p.ID)
	fmt.Fprintf(&b, "Requested:           %s\n", p.RequestedAt.Format(time.RFC3339))
	fmt.Fprintf(&b, "Keys destroyed:      %s (from then on nothing of the workspace could be read)\n", p.ShreddedAt.Format(time.RFC3339))
	fmt.Fprintf(&b, "Deletion completed:  %s (deadline %s)\n", p.DoneAt.Format(time.RFC3339), p.Deadline.Format(time.RFC3339))
	fmt.Fprintf(&b, "Records deleted:     %d\nFiles deleted:       %d\n", p.Deleted["items"], p.Deleted["blobs"])
	fmt.Fprintf(&b, "Audit chain:         %d entries, final digest %s\n", p.AuditEntries, p.AuditHead)
	return b.String()
}

func (s *Service) load(platform context.Context, id string) (Purge, error) {
	it, err := s.Store.Get(platform, store.Key{PK: purgesPK, SK: id})
	if errors.Is(err, store.ErrNotFound) {
		return Purge{}, ErrNotFound
	}
	if err != nil {
		return Purge{}, fmt.Errorf("purge: get: %w", err)
	}
	var p Purge
	if err := json.Unmarshal(it.Data, &p); err != nil {
		return Purge{}, fmt.Errorf("purge: decode %s: %w", id, err)
	}
	return p, nil
}

func (s *Service) save(platform context.Context, p Purge) error {
	data, _ := json.Marshal(p)
	if _, err := s.Store.Put(platform, store.Item{PK: purgesPK, SK: p.ID, Data: data}, store.Always); err != nil {
		return fmt.Errorf("purge: save %s: %w", p.ID, err)
	}
	return nil
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "prg_" + hex.EncodeToString(b)
}
