package incident

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// Store is the part of the storage port incidents need.
type Store interface {
	Get(ctx context.Context, k store.Key) (store.Item, error)
	Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error)
	Delete(ctx context.Context, k store.Key) error
	Query(ctx context.Context, q store.Query) (store.Page, error)
}

// AuditLog is the part of the audit log incidents need: they record every
// action and the detectors read the stream.
type AuditLog interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
	// Head returns the last entry; store.ErrNotFound if the log is empty.
	Head(ctx context.Context) (audit.Entry, error)
	List(ctx context.Context, f audit.Filter) ([]audit.Entry, string, error)
}

// Sealer seals and opens documents with the keys of the tenant in the
// context (package seal's Keyring).
type Sealer interface {
	Seal(ctx context.Context, record, field string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, record, field string, ciphertext []byte) ([]byte, error)
}

// Webhooks posts signed deliveries (package webhook's Sender).
type Webhooks interface {
	// Check returns an error if the sender will not post to rawURL.
	Check(rawURL string) error
	// Send posts body to rawURL signed with secret; id is the delivery ID
	// receivers deduplicate on. It retries transient failures itself.
	Send(ctx context.Context, rawURL string, secret []byte, id string, body []byte) error
}

// Orgs lists every tenant, for incidents that affect all of them (package
// orgs' Registry).
type Orgs interface {
	// All calls fn for every tenant and stops at the first error.
	All(ctx context.Context, fn func(tenant.ID) error) error
}

// Directory adds people to a tenant's recipients: the user directory
// (SCIM) will return the e-mail addresses of the tenant's owners and
// admins.
type Directory interface {
	// OwnersAndAdmins returns the addresses of the owners and admins of
	// the tenant in ctx.
	OwnersAndAdmins(ctx context.Context) ([]string, error)
}

// Config is what a Service needs. Store, Audit, Keys, Mailer, Webhooks,
// Alarms and Orgs are required.
type Config struct {
	Store    Store
	Audit    AuditLog
	Keys     Sealer
	Mailer   notify.Mailer
	Webhooks Webhooks
	Alarms   notify.Alarms
	Orgs     Orgs
	// Directory, when set, adds each tenant's owners and admins to the
	// recipients of its notices. Until the user directory exists, the
	// addresses of the notification settings are the recipients.
	Directory Directory
	// Calendar counts the business days of the RCA deadline; the zero
	// Calendar is UTC without holidays.
	Calendar Calendar
	// SecurityTeam are the addresses that overdue timers and detections
	// are e-mailed to, beside the alarm.
	SecurityTeam []string
	// Thresholds of the detectors; zero fields take the defaults.
	Thresholds Thresholds
	Now        func() time.Time
	Logger     *slog.Logger
}

// Service runs incidents. Its methods may be called concurrently, also by
// several processes sharing the store: every change is a conditional put.
type Service struct {
	cfg Config
}

// New returns the Service for cfg. Returns an error if a required port is
// missing or an address of SecurityTeam is not a plain e-mail address.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Audit == nil || cfg.Keys == nil || cfg.Mailer == nil || cfg.Webhooks == nil ||
		cfg.Alarms == nil || cfg.Orgs == nil {
		return nil, errors.New("incident: new: store, audit, keys, mailer, webhooks, alarms and orgs are required")
	}
	for i, a := range cfg.SecurityTeam {
		if !plainAddress(a) {
			return nil, fmt.Errorf("incident: new: security team address %d is not a plain e-mail address", i)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Thresholds = cfg.Thresholds.withDefaults()
	return &Service{cfg: cfg}, nil
}

// Storage layout. Platform scope: the incidents, the index of those Tick
// still has work on, delivery and alarm records, detector checkpoints.
// Tenant scope: the tenant's projections and its notification settings.
const (
	pkIncident   = "INCIDENT"
	pkOpen       = "INCIDENT-OPEN"
	pkNotice     = "INCIDENT-NOTICE#" // + incident ID
	pkAlarm      = "INCIDENT-ALARM#"  // + incident ID
	pkDetect     = "INCIDENT-DETECT"
	fieldDoc     = "document"
	maxRetries   = 20
	indexOrphans = 10 * time.Minute
)

var idPattern = regexp.MustCompile(`^inc-[0-9]{8}t[0-9]{6}-[0-9a-f]{8,16}$`)

func platform(ctx context.Context) context.Context { return tenant.WithPlatform(ctx) }

func recordOf(id string) string { return "incident/" + id }

// checkID returns store.ErrNotFound, wrapped, for what cannot be an
// incident ID, so junk never reaches the store.
func checkID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("incident: get %.40q: %w", id, store.ErrNotFound)
	}
	return nil
}

// newID returns a fresh incident ID that sorts by time: inc-<UTC time>-<random>.
func newID(t time.Time) string {
	b := make([]byte, 4)
	rand.Read(b)
	return "inc-" + t.UTC().Format("20060102t150405") + "-" + hex.EncodeToString(b)
}

// load returns the stored incident and its version.
func (s *Service) load(ctx context.Context, id string) (Incident, int64, error) {
	if err := checkID(id); err != nil {
		return Incident{}, 0, err
	}
	pctx := platform(ctx)
	it, err := s.cfg.Store.Get(pctx, store.Key{PK: pkIncident, SK: id})
	if err != nil {
		return Incident{}, 0, fmt.Errorf("incident: get %s: %w", id, err)
	}
	plain, err := s.cfg.Keys.Open(pctx, recordOf(id), fieldDoc, it.Data)
	if err != nil {
		return Incident{}, 0, fmt.Errorf("incident: open %s: %w", id, err)
	}
	var inc Incident
	if err := json.Unmarshal(plain, &inc); err != nil {
		return Incident{}, 0, fmt.Errorf("incident: decode %s: %w", id, err)
	}
	return inc, it.Version, nil
}

// save stores inc under cond (IfAbsent to create, IfVersion with version).
func (s *Service) save(ctx context.Context, inc Incident, version int64, cond store.Cond) error {
	pctx := platform(ctx)
	plain, err := json.Marshal(inc)
	if err != nil {
		return fmt.Errorf("incident: encode %s: %w", inc.ID, err)
	}
	sealed, err := s.cfg.Keys.Seal(pctx, recordOf(inc.ID), fieldDoc, plain)
	if err != nil {
		return fmt.Errorf("incident: seal %s: %w", inc.ID, err)
	}
	_, err = s.cfg.Store.Put(pctx, store.Item{PK: pkIncident, SK: inc.ID, Data: sealed, Version: version}, cond)
	if err != nil {
		return fmt.Errorf("incident: put %s: %w", inc.ID, err)
	}
	return nil
}

// modify applies fn to the stored incident and stores the result, retrying
// when another writer changed it in between. fn may be called more than
// once; an error from it is returned as is, and nothing is stored.
func (s *Service) modify(ctx context.Context, id string, fn func(*Incident) error) (Incident, error) {
	for range maxRetries {
		inc, version, err := s.load(ctx, id)
		if err != nil {
			return Incident{}, err
		}
		if err := fn(&inc); err != nil {
			return Incident{}, err
		}
		err = s.save(ctx, inc, version, store.IfVersion)
		if errors.Is(err, store.ErrConditionFailed) {
			continue
		}
		return inc, err
	}
	return Incident{}, fmt.Errorf("incident: modify %s: too much contention: %w", id, store.ErrConditionFailed)
}

// Open opens an incident from d on behalf of actor (the security role's
// subject), records it in the platform's audit log and notifies the
// affected tenants at once unless that fails (Tick then retries). Returns
// valid.Errors for an invalid draft.
func (s *Service) Open(ctx context.Context, actor string, d Draft) (View, error) {
	now := s.cfg.Now().UTC()
	if errs := d.Validate(now, false); errs != nil {
		return View{}, errs
	}
	inc := newIncident(newID(now), d, now, audit.Actor(actor), "manual")
	if _, err := s.create(ctx, inc); err != nil {
		return View{}, err
	}
	return ViewAt(s.settle(ctx, inc.ID, now, inc), now), nil
}

func newIncident(id string, d Draft, now time.Time, by, source string) Incident {
	affected := d.Affected
	if affected.All {
		affected.Orgs = nil
	}
	inc := Incident{
		ID: id, Title: d.Title, Severity: d.Severity, Status: Investigating, Description: d.Description,
		DetectedAt: d.DetectedAt.UTC(), OpenedAt: now, OpenedBy: by, Source: source, Affected: affected,
		Updates: []Update{}, Holds: []Hold{},
	}
	if d.HoldReason != "" {
		inc.Holds = append(inc.Holds, Hold{Reason: d.HoldReason, Until: d.HoldUntil.UTC(), At: now, By: by})
	}
	return inc
}

// create stores a new incident and its index entry and audits it. It
// returns false, without error, if an incident with the ID exists.
func (s *Service) create(ctx context.Context, inc Incident) (bool, error) {
	pctx := platform(ctx)
	// The index entry first: a crash before the incident is stored leaves
	// an entry Tick removes, never an incident Tick does not see.
	idx, _ := json.Marshal(indexEntry{At: inc.OpenedAt})
	if _, err := s.cfg.Store.Put(pctx, store.Item{PK: pkOpen, SK: inc.ID, Data: idx}, store.Always); err != nil {
		return false, fmt.Errorf("incident: index %s: %w", inc.ID, err)
	}
	err := s.save(ctx, inc, 0, store.IfAbsent)
	if errors.Is(err, store.ErrConditionFailed) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	affected := strconv.Itoa(len(inc.Affected.Orgs))
	if inc.Affected.All {
		affected = "all"
	}
	detail := map[string]string{"severity": string(inc.Severity), "affectedOrgs": affected, "source": inc.Source,
		"detectedAt": inc.DetectedAt.Format(time.RFC3339)}
	if len(inc.Holds) > 0 {
		detail["holdUntil"] = inc.Holds[0].Until.Format(time.RFC3339)
	}
	_, err = s.cfg.Audit.Append(pctx, audit.Entry{Type: "incident.opened", Actor: inc.OpenedBy, Target: inc.ID, Detail: detail})
	if err != nil {
		return true, fmt.Errorf("incident: audit opening of %s: %w", inc.ID, err)
	}
	return true, nil
}

type indexEntry struct {
	At time.Time `json:"at"`
}

// settle delivers what is due for the incident and checks its timers right
// away, logging (not returning) failures: Tick retries them. It returns the
// incident as stored afterwards, or fallback if it cannot be read.
func (s *Service) settle(ctx context.Context, id string, now time.Time, fallback Incident) Incident {
	inc, err := s.process(ctx, id, now)
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "incident: deliver at once failed; the sla schedule retries", "incident", id, "err", err.Error())
	}
	if inc.ID == "" {
		return fallback
	}
	return inc
}

// Get returns the security team's view of the incident. Returns
// store.ErrNotFound, wrapped, if there is none.
func (s *Service) Get(ctx context.Context, id string) (View, error) {
	inc, _, err := s.load(ctx, id)
	if err != nil {
		return View{}, err
	}
	return ViewAt(inc, s.cfg.Now()), nil
}

// List returns up to limit incidents (store.DefaultLimit if 0), newest
// first, after cursor, and the next page's cursor ("" after the last).
func (s *Service) List(ctx context.Context, cursor string, limit int) ([]View, string, error) {
	page, err := s.cfg.Store.Query(platform(ctx), store.Query{PK: pkIncident, Cursor: cursor, Limit: limit, Reverse: true})
	if err != nil {
		return nil, "", fmt.Errorf("incident: list: %w", err)
	}
	now := s.cfg.Now()
	out := make([]View, 0, len(page.Items))
	for _, it := range page.Items {
		plain, err := s.cfg.Keys.Open(platform(ctx), recordOf(it.SK), fieldDoc, it.Data)
		if err != nil {
			return nil, "", fmt.Errorf("incident: list: open %s: %w", it.SK, err)
		}
		var inc Incident
		if err := json.Unmarshal(plain, &inc); err != nil {
			return nil, "", fmt.Errorf("incident: list: decode %s: %w", it.SK, err)
		}
		out = append(out, ViewAt(inc, now))
	}
	return out, page.Next, nil
}

// PostUpdate adds a status update by actor and sends it to the affected
// tenants (at once, or on the next Tick if that fails or a hold is in
// force). Resolving sets the RCA deadline. Returns valid.Errors for an
// invalid update, ErrConflict once the incident is resolved, and
// store.ErrNotFound, wrapped, for no such incident.
func (s *Service) PostUpdate(ctx context.Context, actor, id string, status Status, message string) (View, error) {
	if errs := ValidateUpdate(status, message); errs != nil {
		return View{}, errs
	}
	now := s.cfg.Now().UTC()
	inc, err := s.modify(ctx, id, func(inc *Incident) error {
		if inc.Status == Resolved {
			return fmt.Errorf("incident %s is resolved and takes no more updates: %w", id, ErrConflict)
		}
		inc.Updates = append(inc.Updates, Update{Status: status, Message: message, At: now, By: audit.Actor(actor)})
		inc.Status = status
		if status == Resolved {
			inc.ResolvedAt = now
			inc.RCADueAt = s.cfg.Calendar.AddBusinessDays(now, RCABusinessDays)
		}
		return nil
	})
	if err != nil {
		return View{}, err
	}
	if err := s.record(ctx, actor, "incident.updated", id, map[string]string{"status": string(status),
		"update": strconv.Itoa(len(inc.Updates))}); err != nil {
		return View{}, err
	}
	return ViewAt(s.settle(ctx, id, now, inc), now), nil
}

// PlaceHold records a law-enforcement hold by actor: no notice goes out
// until until; the next Tick after it sends what waited. The last hold
// posted is the one in force, so a new one extends or shortens it. Returns
// valid.Errors for a missing reason or an end not within 90 days ahead,
// ErrConflict once the incident's RCA was published, and store.ErrNotFound,
// wrapped, for no such incident.
func (s *Service) PlaceHold(ctx context.Context, actor, id, reason string, until time.Time) (View, error) {
	now := s.cfg.Now().UTC()
	if errs := ValidateHold(reason, until, now); errs != nil {
		return View{}, errs
	}
	inc, err := s.modify(ctx, id, func(inc *Incident) error {
		if inc.RCA != nil {
			return fmt.Errorf("incident %s is closed: %w", id, ErrConflict)
		}
		inc.Holds = append(inc.Holds, Hold{Reason: reason, Until: until.UTC(), At: now, By: audit.Actor(actor)})
		return nil
	})
	if err != nil {
		return View{}, err
	}
	if err := s.record(ctx, actor, "incident.hold", id, map[string]string{"until": until.UTC().Format(time.RFC3339)}); err != nil {
		return View{}, err
	}
	return ViewAt(inc, now), nil
}

// PublishRCA records the root-cause analysis by actor and sends it to the
// affected tenants. Returns valid.Errors for an empty or oversize document,
// ErrConflict before resolution or for a second RCA, and
// store.ErrNotFound, wrapped, for no such incident.
func (s *Service) PublishRCA(ctx context.Context, actor, id, document string) (View, error) {
	if errs := ValidateRCA(document); errs != nil {
		return View{}, errs
	}
	now := s.cfg.Now().UTC()
	inc, err := s.modify(ctx, id, func(inc *Incident) error {
		switch {
		case inc.Status != Resolved:
			return fmt.Errorf("incident %s is not resolved yet: %w", id, ErrConflict)
		case inc.RCA != nil:
			return fmt.Errorf("incident %s has its RCA: %w", id, ErrConflict)
		}
		inc.RCA = &RCA{Document: document, At: now, By: audit.Actor(actor)}
		return nil
	})
	if err != nil {
		return View{}, err
	}
	onTime := strconv.FormatBool(!now.After(inc.RCADueAt))
	if err := s.record(ctx, actor, "incident.rca", id, map[string]string{"onTime": onTime}); err != nil {
		return View{}, err
	}
	return ViewAt(s.settle(ctx, id, now, inc), now), nil
}

// record appends a platform audit entry for an action on an incident.
func (s *Service) record(ctx context.Context, actor, typ, id string, detail map[string]string) error {
	_, err := s.cfg.Audit.Append(platform(ctx), audit.Entry{Type: typ, Actor: actor, Target: id, Detail: detail})
	if err != nil {
		return fmt.Errorf("incident: audit %s of %s: %w", typ, id, err)
	}
	return nil
}
