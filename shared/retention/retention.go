// Package retention keeps each tenant's retention policy (RET-01..07) and
// the workspace lifecycle around it (contract end, termination,
// re-activation), and runs the retention sweep that enforces the policy
// (RET-08, PRG-03): bounded per run, resumable from a checkpoint, and
// writing what it deleted to the tenant's audit log exactly once.
//
// A tenant may only shorten what SPEC.md promises: drafts 30 days,
// contacts 90 days after the contract ends, logs 90 days after their last
// activity. The audit log is kept 1 year by default and may be set anywhere
// from 1 to 7 years. Ingress (24 hours), backups (14 days) and the
// termination lifecycle (30 days retained, then 90 days archived, then
// deleted) are fixed by the platform.
package retention

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/purge"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/valid"
)

const day = 24 * time.Hour

// The promises of SPEC.md, in days unless named otherwise.
const (
	IngressHours       = 24  // RET-01
	DraftsDays         = 30  // RET-02
	ContactsDays       = 90  // RET-03: after the contract ends
	LogsDays           = 90  // RET-04: after the last activity
	AuditDays          = 365 // RET-05: the default
	AuditMaxDays       = 7 * 365
	BackupsDays        = 14 // RET-06
	RetainedDays       = 30 // RET-07: after termination, re-activatable
	ArchivedDays       = 90 // RET-07: then archived, then deleted
	minDays            = 1
	minContactsDays    = 0 // contacts may go the day the contract ends
	maxContractAheadYr = 100
)

// Stages of the workspace lifecycle (RET-07).
const (
	Active     = "active"
	Terminated = "terminated" // retained, may be re-activated
	Archived   = "archived"   // kept out of reach, then deleted
	Deleted    = "deleted"    // the workspace purge has started
)

// Errors of the lifecycle.
var (
	// ErrArchived refuses a request to a workspace archived after its
	// termination.
	ErrArchived = errors.New("retention: the workspace is archived after its termination")
	// ErrStage refuses a lifecycle change the workspace's stage does not
	// allow (re-activating an active or archived workspace).
	ErrStage = errors.New("retention: not possible in the workspace's current stage")
)

// Policy is what a tenant may set, in days.
type Policy struct {
	DraftsDays   int `json:"draftsDays"`
	ContactsDays int `json:"contactsDaysAfterContractEnd"`
	LogsDays     int `json:"logsDaysAfterActivity"`
	AuditDays    int `json:"auditDays"`
}

// DefaultPolicy is SPEC.md's policy.
var DefaultPolicy = Policy{DraftsDays: DraftsDays, ContactsDays: ContactsDays, LogsDays: LogsDays, AuditDays: AuditDays}

// Range is the days a policy field may take.
type Range struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// Settings is a tenant's retention as shown to its owners and admins.
type Settings struct {
	Policy
	// Fixed by the platform.
	IngressHours            int `json:"ingressHours"`
	BackupsDays             int `json:"backupsDays"`
	TerminationRetainedDays int `json:"terminationRetainedDays"`
	TerminationArchivedDays int `json:"terminationArchivedDays"`
	// Limits are the values PUT accepts for each field of Policy now.
	Limits map[string]Range `json:"limits"`
	// The lifecycle.
	Stage          string    `json:"stage"`
	ContractEndsAt time.Time `json:"contractEndsAt,omitzero"`
	ContactsEndAt  time.Time `json:"contactsDeletedAt,omitzero"` // contract end + ContactsDays
	TerminatedAt   time.Time `json:"terminatedAt,omitzero"`
	ArchiveAt      time.Time `json:"archiveAt,omitzero"`
	DeleteAt       time.Time `json:"deleteAt,omitzero"`
	UpdatedAt      time.Time `json:"updatedAt,omitzero"`
}

// Change is a PUT of the policy: nil fields stay as they are. The fixed
// classes are accepted only to refuse them by name.
type Change struct {
	DraftsDays              *int `json:"draftsDays"`
	ContactsDays            *int `json:"contactsDaysAfterContractEnd"`
	LogsDays                *int `json:"logsDaysAfterActivity"`
	AuditDays               *int `json:"auditDays"`
	IngressHours            *int `json:"ingressHours"`
	BackupsDays             *int `json:"backupsDays"`
	TerminationRetainedDays *int `json:"terminationRetainedDays"`
	TerminationArchivedDays *int `json:"terminationArchivedDays"`
}

// record is a tenant's retention as stored (tenant scope).
type record struct {
	Policy         Policy    `json:"policy"`
	ContractEndsAt time.Time `json:"contractEndsAt,omitzero"`
	TerminatedAt   time.Time `json:"terminatedAt,omitzero"`
	// Recipient is where the confirmation of the final purge goes, sealed
	// with the tenant's keys (set at termination).
	Recipient []byte    `json:"recipient,omitempty"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// stage is the lifecycle stage of r at now.
func (r record) stage(now time.Time) string {
	switch {
	case r.TerminatedAt.IsZero():
		return Active
	case now.Before(r.TerminatedAt.Add(RetainedDays * day)):
		return Terminated
	case now.Before(r.TerminatedAt.Add((RetainedDays + ArchivedDays) * day)):
		return Archived
	default:
		return Deleted
	}
}

// Store is the part of the storage port retention needs.
type Store interface {
	Get(ctx context.Context, k store.Key) (store.Item, error)
	Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error)
	Query(ctx context.Context, q store.Query) (store.Page, error)
	BatchDelete(ctx context.Context, keys []store.Key) error
}

// Chain is the audit log: changes and deletions are recorded.
type Chain interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
	List(ctx context.Context, f audit.Filter) ([]audit.Entry, string, error)
}

// Keys seals the termination's recipient with the tenant's keys.
type Keys interface {
	Seal(ctx context.Context, record, field string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, record, field string, ciphertext []byte) ([]byte, error)
}

// Service keeps retention settings and runs the sweep. It may be used
// concurrently; the tenant comes from the context.
type Service struct {
	Store Store
	Audit Chain
	Keys  Keys
	// Classes are the kinds of records the sweep enforces, in order.
	Classes []Class
	// Tenants lists every tenant (orgs.Registry.All).
	Tenants func(ctx context.Context, fn func(tenant.ID) error) error
	// Purges ends the lifecycle: the workspace purge at its end.
	Purges Purger
	// Budget bounds the deletions of one sweep run (default 10,000); the
	// next run goes on from the checkpoint.
	Budget int
	Now    func() time.Time
}

var settingsKey = store.Key{PK: "RETENTION", SK: "SETTINGS"}

// Get returns the tenant's settings.
func (s *Service) Get(ctx context.Context) (Settings, error) {
	r, _, err := s.load(ctx)
	if err != nil {
		return Settings{}, err
	}
	return r.settings(s.now()), nil
}

// Stage returns the lifecycle stage of org's workspace.
func (s *Service) Stage(ctx context.Context, org tenant.ID) (string, error) {
	r, _, err := s.load(tenant.With(ctx, org))
	if err != nil {
		return "", err
	}
	return r.stage(s.now()), nil
}

// Update applies c to the tenant's policy and returns the settings. A
// field may only shorten its class (the audit log: from 1 to 7 years);
// the fixed classes are refused. Returns valid.Errors naming each field
// refused, with nothing changed.
func (s *Service) Update(ctx context.Context, c Change, actor string) (Settings, error) {
	r, version, err := s.load(ctx)
	if err != nil {
		return Settings{}, err
	}
	limits := r.limits()
	var errs valid.Errors
	set := func(field string, v *int, dst *int) {
		if v == nil {
			return
		}
		l := limits[field]
		if *v < l.Min || *v > l.Max {
			reason := fmt.Sprintf("must be from %d to %d days", l.Min, l.Max)
			if *v > l.Max && field != "auditDays" {
				reason = fmt.Sprintf("may only be shortened: at most %d days", l.Max)
			}
			errs.Add(field, reason)
			return
		}
		*dst = *v
	}
	p := r.Policy
	set("draftsDays", c.DraftsDays, &p.DraftsDays)
	set("contactsDaysAfterContractEnd", c.ContactsDays, &p.ContactsDays)
	set("logsDaysAfterActivity", c.LogsDays, &p.LogsDays)
	set("auditDays", c.AuditDays, &p.AuditDays)
	for field, v := range map[string]*int{"ingressHours": c.IngressHours, "backupsDays": c.BackupsDays,
		"terminationRetainedDays": c.TerminationRetainedDays, "terminationArchivedDays": c.TerminationArchivedDays} {
		if v != nil {
			errs.Add(field, "is fixed by the platform")
		}
	}
	if err := errs.Err(); err != nil {
		return Settings{}, err
	}
	old := r.Policy
	r.Policy = p
	if err := s.save(ctx, r, version); err != nil {
		return Settings{}, err
	}
	if old != p {
		if err := s.record(ctx, "retention.updated", actor, map[string]string{
			"draftsDays": fmt.Sprint(p.DraftsDays), "contactsDaysAfterContractEnd": fmt.Sprint(p.ContactsDays),
			"logsDaysAfterActivity": fmt.Sprint(p.LogsDays), "auditDays": fmt.Sprint(p.AuditDays)}); err != nil {
			return Settings{}, err
		}
	}
	return r.settings(s.now()), nil
}

// SetContractEnd records when the tenant's contract ends (the zero time
// clears it): its contacts and CRM data are deleted ContactsDays later
// (RET-03). Returns valid.Errors for a time absurdly far ahead.
func (s *Service) SetContractEnd(ctx context.Context, endsAt time.Time, actor string) (Settings, error) {
	now := s.now()
	if endsAt.After(now.AddDate(maxContractAheadYr, 0, 0)) {
		return Settings{}, valid.Errors{{Field: "endsAt", Reason: fmt.Sprintf("must be within %d years", maxContractAheadYr)}}
	}
	r, version, err := s.load(ctx)
	if err != nil {
		return Settings{}, err
	}
	r.ContractEndsAt = endsAt.UTC()
	if err := s.save(ctx, r, version); err != nil {
		return Settings{}, err
	}
	detail := map[string]string{"endsAt": "none"}
	if !endsAt.IsZero() {
		detail["endsAt"] = r.ContractEndsAt.Format(time.RFC3339)
	}
	if err := s.record(ctx, "workspace.contract_end", actor, detail); err != nil {
		return Settings{}, err
	}
	return r.settings(now), nil
}

// Terminate starts the termination lifecycle (RET-07): the workspace is
// retained RetainedDays (Reactivate undoes it), then archived ArchivedDays
// out of every user's reach, then purged, with the confirmation e-mailed
// to email. confirm must equal the organization ID. Terminating twice
// returns the first termination.
func (s *Service) Terminate(ctx context.Context, confirm, email, actor string) (Settings, error) {
	org, err := tenant.From(ctx)
	if err != nil {
		return Settings{}, err
	}
	if email, err = purge.Confirm(org, confirm, email, "the termination"); err != nil {
		return Settings{}, err
	}
	r, version, err := s.load(ctx)
	if err != nil {
		return Settings{}, err
	}
	now := s.now()
	if r.stage(now) != Active {
		return r.settings(now), nil
	}
	if r.Recipient, err = s.Keys.Seal(ctx, settingsKey.PK, "recipient", []byte(email)); err != nil {
		return Settings{}, fmt.Errorf("retention: seal recipient: %w", err)
	}
	r.TerminatedAt = now
	if err := s.save(ctx, r, version); err != nil {
		return Settings{}, err
	}
	set := r.settings(now)
	if err := s.record(ctx, "workspace.terminated", actor, map[string]string{
		"archiveAt": set.ArchiveAt.Format(time.RFC3339), "deleteAt": set.DeleteAt.Format(time.RFC3339)}); err != nil {
		return Settings{}, err
	}
	return set, nil
}

// Reactivate ends a termination while the workspace is still retained.
// Returns ErrStage once it is archived, or if it was never terminated.
func (s *Service) Reactivate(ctx context.Context, actor string) (Settings, error) {
	r, version, err := s.load(ctx)
	if err != nil {
		return Settings{}, err
	}
	now := s.now()
	if r.stage(now) != Terminated {
		return Settings{}, fmt.Errorf("%w: the workspace is %s", ErrStage, r.stage(now))
	}
	r.TerminatedAt, r.Recipient = time.Time{}, nil
	if err := s.save(ctx, r, version); err != nil {
		return Settings{}, err
	}
	if err := s.record(ctx, "workspace.reactivated", actor, nil); err != nil {
		return Settings{}, err
	}
	return r.settings(now), nil
}

func (s *Service) load(ctx context.Context) (record, int64, error) {
	it, err := s.Store.Get(ctx, settingsKey)
	if errors.Is(err, store.ErrNotFound) {
		return record{Policy: DefaultPolicy}, 0, nil
	}
	if err != nil {
		return record{}, 0, fmt.Errorf("retention: load: %w", err)
	}
	var r record
	if err := json.Unmarshal(it.Data, &r); err != nil {
		return record{}, 0, fmt.Errorf("retention: settings unreadable: %w", err)
	}
	return r, it.Version, nil
}

// save writes r over the version loaded (0: none yet); a concurrent change
// makes it fail with store.ErrConditionFailed (409), nothing half-applied.
func (s *Service) save(ctx context.Context, r record, version int64) error {
	r.UpdatedAt = s.now()
	data, _ := json.Marshal(r)
	it := store.Item{PK: settingsKey.PK, SK: settingsKey.SK, Data: data, Version: version}
	cond := store.IfVersion
	if version == 0 {
		cond = store.IfAbsent
	}
	if _, err := s.Store.Put(ctx, it, cond); err != nil {
		return fmt.Errorf("retention: save: %w", err)
	}
	return nil
}

func (s *Service) record(ctx context.Context, typ, actor string, detail map[string]string) error {
	_, err := s.Audit.Append(ctx, audit.Entry{Type: typ, Actor: actor, Detail: detail})
	return err
}

// limits are the values each policy field may take now: shorter only, the
// audit log from 1 to 7 years.
func (r record) limits() map[string]Range {
	return map[string]Range{
		"draftsDays":                   {minDays, r.Policy.DraftsDays},
		"contactsDaysAfterContractEnd": {minContactsDays, r.Policy.ContactsDays},
		"logsDaysAfterActivity":        {minDays, r.Policy.LogsDays},
		"auditDays":                    {AuditDays, AuditMaxDays},
	}
}

func (r record) settings(now time.Time) Settings {
	s := Settings{Policy: r.Policy, IngressHours: IngressHours, BackupsDays: BackupsDays,
		TerminationRetainedDays: RetainedDays, TerminationArchivedDays: ArchivedDays,
		Limits: r.limits(), Stage: r.stage(now), ContractEndsAt: r.ContractEndsAt,
		TerminatedAt: r.TerminatedAt, UpdatedAt: r.UpdatedAt}
	if !r.ContractEndsAt.IsZero() {
		s.ContactsEndAt = r.ContractEndsAt.Add(time.Duration(r.Policy.ContactsDays) * day)
	}
	if !r.TerminatedAt.IsZero() {
		s.ArchiveAt = r.TerminatedAt.Add(RetainedDays * day)
		s.DeleteAt = r.TerminatedAt.Add((RetainedDays + ArchivedDays) * day)
	}
	return s
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}
