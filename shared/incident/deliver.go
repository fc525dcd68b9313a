package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// Delivery tuning.
const (
	// claimLease is how long a run owns a delivery it started; a crashed
	// run's claim expires and the next Tick retries.
	claimLease = 5 * time.Minute
	// giveUpAfter is how long a failing channel is retried before its
	// delivery is recorded as failed and an alarm raised. It is longer
	// than the notice deadline, so a notice that cannot go out is overdue
	// (and alarmed as such) while it is still being retried.
	giveUpAfter = 72 * time.Hour
)

// message is one thing each affected tenant is told, in order: the notice,
// then each update, then the RCA.
type message struct {
	key  string // "notice", "update-<n>", "rca"
	kind string // webhook type: incident.notice, incident.update, incident.rca
	at   time.Time
	n    int // index among the messages
}

func messagesOf(inc *Incident) []message {
	out := []message{{key: "notice", kind: "incident.notice", at: inc.OpenedAt}}
	for i, u := range inc.Updates {
		out = append(out, message{key: "update-" + strconv.Itoa(i+1), kind: "incident.update", at: u.At})
	}
	if inc.RCA != nil {
		out = append(out, message{key: "rca", kind: "incident.rca", at: inc.RCA.At})
	}
	for i := range out {
		out[i].n = i
	}
	return out
}

// StatusUpdate is an update as tenants read it.
type StatusUpdate struct {
	Status  Status    `json:"status"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// PublishedRCA is the root-cause analysis as tenants read it.
type PublishedRCA struct {
	Document string    `json:"document"`
	At       time.Time `json:"at"`
}

// TenantView is an incident as an affected tenant's owners and admins read
// it: what they were told so far, naming no tenant but their own.
type TenantView struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Severity    Severity  `json:"severity"`
	Status      Status    `json:"status"`
	Description string    `json:"description"`
	DetectedAt  time.Time `json:"detectedAt"`
	// Affected is "all" or the reader's own org.
	Affected   Affected       `json:"affectedOrgs"`
	Updates    []StatusUpdate `json:"updates"`
	ResolvedAt time.Time      `json:"resolvedAt,omitzero"`
	RCADueAt   time.Time      `json:"rcaDueAt,omitzero"`
	RCA        *PublishedRCA  `json:"rca,omitempty"`
	// NotifiedAt is when the latest message reached the tenant.
	NotifiedAt time.Time `json:"notifiedAt"`
}

// tenantView is what org is told with message m of inc.
func tenantView(inc *Incident, org tenant.ID, m message, now time.Time) TenantView {
	v := TenantView{ID: inc.ID, Title: inc.Title, Severity: inc.Severity, Status: Investigating,
		Description: inc.Description, DetectedAt: inc.DetectedAt, Updates: []StatusUpdate{}, NotifiedAt: now}
	if inc.Affected.All {
		v.Affected = Affected{All: true}
	} else {
		v.Affected = Affected{Orgs: []tenant.ID{org}}
	}
	for i := 0; i < m.n && i < len(inc.Updates); i++ {
		u := inc.Updates[i]
		v.Updates = append(v.Updates, StatusUpdate{Status: u.Status, Message: u.Message, At: u.At})
		v.Status = u.Status
		if u.Status == Resolved {
			v.ResolvedAt, v.RCADueAt = inc.ResolvedAt, inc.RCADueAt
		}
	}
	if m.key == "rca" && inc.RCA != nil {
		v.RCA = &PublishedRCA{Document: inc.RCA.Document, At: inc.RCA.At}
	}
	return v
}

// recipients of one tenant's notices.
type recipients struct {
	emails []string
	hook   string // webhook URL, "" for none
	secret []byte
}

// recipientsOf returns the recipients of the tenant in ctx: the addresses
// and webhook of its notification settings, plus its owners and admins
// from the Directory.
func (s *Service) recipientsOf(ctx context.Context) (recipients, error) {
	st, err := s.loadSettings(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return recipients{}, err
	}
	r := recipients{emails: st.Emails, hook: st.WebhookURL, secret: []byte(st.Secret)}
	if s.cfg.Directory != nil {
		more, err := s.cfg.Directory.OwnersAndAdmins(ctx)
		if err != nil {
			return recipients{}, fmt.Errorf("incident: directory: %w", err)
		}
		r.emails = normalizeEmails(append(r.emails, more...))
	}
	return r, nil
}

// deliver sends the messages of inc that are not yet delivered everywhere
// to every affected tenant, unless a hold is in force. It returns how many
// messages (a prefix) have now reached every affected tenant.
func (s *Service) deliver(ctx context.Context, inc *Incident, now time.Time) (int, error) {
	msgs := messagesOf(inc)
	switch {
	case inc.Delivered >= len(msgs):
		return inc.Delivered, nil
	case inc.Affected.Internal():
		return len(msgs), nil
	}
	if _, held := inc.HoldAt(now); held {
		return inc.Delivered, nil
	}
	complete := true
	var errs []error
	each := func(org tenant.ID) error {
		done, err := s.deliverTo(ctx, inc, org, msgs[inc.Delivered:], now)
		if err != nil {
			errs = append(errs, err)
		}
		complete = complete && done
		return ctx.Err()
	}
	if inc.Affected.All {
		if err := s.cfg.Orgs.All(ctx, each); err != nil {
			errs = append(errs, err)
			complete = false
		}
	} else {
		for _, org := range inc.Affected.Orgs {
			if err := each(org); err != nil {
				break
			}
		}
	}
	if complete {
		return len(msgs), errors.Join(errs...)
	}
	return inc.Delivered, errors.Join(errs...)
}

// deliverTo sends msgs, in order, to org; it stops at the first message
// that is not delivered yet and reports whether all were.
func (s *Service) deliverTo(ctx context.Context, inc *Incident, org tenant.ID, msgs []message, now time.Time) (bool, error) {
	octx := tenant.With(ctx, org)
	to, err := s.recipientsOf(octx)
	if errors.Is(err, seal.ErrShredded) {
		// A purged tenant: its keys are gone, nobody is left to tell and
		// nothing can be stored for it.
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("incident: recipients of %s for %s: %w", org, inc.ID, err)
	}
	for _, m := range msgs {
		view := tenantView(inc, org, m, now)
		if err := s.project(octx, view, m.n); err != nil {
			return false, err
		}
		mail, err1 := s.channel(octx, inc.ID, org, m, "email", now, len(to.emails), func(ctx context.Context) error {
			subject, text := compose(view, org, m)
			return s.cfg.Mailer.Send(ctx, notify.Email{To: to.emails, Subject: subject, Text: text,
				ID: "incident/" + inc.ID + "/" + string(org) + "/" + m.key})
		})
		hooks := 0
		if to.hook != "" && len(to.secret) > 0 {
			hooks = 1
		}
		hook, err2 := s.channel(octx, inc.ID, org, m, "webhook", now, hooks, func(ctx context.Context) error {
			id := inc.ID + "." + string(org) + "." + m.key
			body, err := json.Marshal(webhookBody{ID: id, Type: m.kind, CreatedAt: m.at, Incident: view})
			if err != nil {
				return err
			}
			return s.cfg.Webhooks.Send(ctx, to.hook, to.secret, id, body)
		})
		if !mail || !hook {
			return false, errors.Join(err1, err2)
		}
	}
	return true, nil
}

// webhookBody is the JSON a webhook receives.
type webhookBody struct {
	ID        string     `json:"id"`
	Type      string     `json:"type"`
	CreatedAt time.Time  `json:"createdAt"`
	Incident  TenantView `json:"incident"`
}

// projection is the stored form of a tenant's view.
type projection struct {
	Message int    `json:"message"` // index of the latest message it shows
	Sealed  []byte `json:"sealed"`
}

// project stores v as the tenant's view of the incident, unless the
// stored one already shows message n or a later one.
func (s *Service) project(ctx context.Context, v TenantView, n int) error {
	k := store.Key{PK: pkIncident, SK: v.ID}
	if it, err := s.cfg.Store.Get(ctx, k); err == nil {
		var p projection
		if json.Unmarshal(it.Data, &p) == nil && p.Message >= n {
			return nil
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("incident: get projection %s: %w", v.ID, err)
	}
	plain, _ := json.Marshal(v)
	sealed, err := s.cfg.Keys.Seal(ctx, recordOf(v.ID), "projection", plain)
	if err != nil {
		return fmt.Errorf("incident: seal projection %s: %w", v.ID, err)
	}
	data, _ := json.Marshal(projection{Message: n, Sealed: sealed})
	if _, err := s.cfg.Store.Put(ctx, store.Item{PK: pkIncident, SK: v.ID, Data: data}, store.Always); err != nil {
		return fmt.Errorf("incident: put projection %s: %w", v.ID, err)
	}
	return nil
}

// Delivery states.
const (
	stateClaimed = "claimed" // a run is sending it
	stateSent    = "sent"
	stateSkipped = "skipped" // no recipient on this channel
	stateFailed  = "failed"  // retried for giveUpAfter, then given up
)

type deliveryRecord struct {
	State      string    `json:"state"`
	At         time.Time `json:"at"`
	Recipients int       `json:"recipients"`
}

// channel delivers message m of an incident to org over one channel
// exactly once: it claims the delivery with a conditional put that expires
// (so a crashed run's claim lapses), sends, then records the outcome and
// audits it in the tenant's log. It reports whether the delivery is
// settled (sent, skipped for lack of recipients, or failed for good).
func (s *Service) channel(octx context.Context, id string, org tenant.ID, m message, channel string,
	now time.Time, recipientCount int, send func(context.Context) error) (bool, error) {
	pctx := platform(octx)
	k := store.Key{PK: pkNotice + id, SK: string(org) + "#" + m.key + "#" + channel}
	if it, err := s.cfg.Store.Get(pctx, k); err == nil {
		var r deliveryRecord
		if err := json.Unmarshal(it.Data, &r); err != nil {
			return false, fmt.Errorf("incident: delivery record %s: %w", id, err)
		}
		return r.State != stateClaimed, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("incident: get delivery record %s: %w", id, err)
	}
	data, _ := json.Marshal(deliveryRecord{State: stateClaimed, At: now})
	claim, err := s.cfg.Store.Put(pctx, store.Item{PK: k.PK, SK: k.SK, Data: data, ExpiresAt: now.Add(claimLease)}, store.IfAbsent)
	if errors.Is(err, store.ErrConditionFailed) {
		return false, nil // another run holds it
	}
	if err != nil {
		return false, fmt.Errorf("incident: claim delivery %s: %w", id, err)
	}
	state, typ := stateSkipped, "incident.notice_skipped"
	var sendErr error
	if recipientCount > 0 {
		state, typ = stateSent, "incident.notified"
		if sendErr = send(octx); sendErr != nil {
			// A recipient's failure is not the schedule's: it is logged,
			// retried, alarmed when the notice is overdue, and given up
			// (with an alarm) after giveUpAfter.
			s.cfg.Logger.WarnContext(octx, "incident: delivery failed", "incident", id, "org", string(org),
				"message", m.key, "channel", channel, "err", sendErr.Error())
			if now.Before(m.at.Add(giveUpAfter)) {
				// Let the next Tick try again at once.
				if err := s.cfg.Store.Delete(pctx, k); err != nil {
					return false, fmt.Errorf("incident: release delivery claim %s: %w", id, err)
				}
				return false, nil
			}
			state, typ = stateFailed, "incident.notice_failed"
		}
	}
	data, _ = json.Marshal(deliveryRecord{State: state, At: now, Recipients: recipientCount})
	if _, err := s.cfg.Store.Put(pctx, store.Item{PK: k.PK, SK: k.SK, Data: data, Version: claim.Version}, store.IfVersion); err != nil &&
		!errors.Is(err, store.ErrConditionFailed) {
		return false, fmt.Errorf("incident: record delivery %s: %w", id, err)
	}
	if recipientCount == 0 && channel == "webhook" {
		return true, nil // no webhook configured: nothing worth an audit entry
	}
	if _, err := s.cfg.Audit.Append(octx, audit.Entry{Type: typ, Actor: "system", Target: id,
		Detail: map[string]string{"message": m.key, "channel": channel, "recipients": strconv.Itoa(recipientCount)}}); err != nil {
		return true, fmt.Errorf("incident: audit delivery %s: %w", id, err)
	}
	if sendErr != nil {
		a := notify.Alarm{Name: "incident.delivery_failed", Detail: map[string]string{"incident": id, "org": string(org),
			"message": m.key, "channel": channel}}
		text := fmt.Sprintf("Alto gave up delivering the %s of incident %s to org %s by %s after %s of retries.\n"+
			"Reach the tenant another way, and check its notification settings.\n", m.key, id, org, channel, giveUpAfter)
		err := s.raise(octx, id, "failed-"+string(org)+"-"+m.key+"-"+channel, a,
			"[Alto security] Delivery failed for incident "+id, text, now)
		return true, err
	}
	return true, nil
}

// compose writes the e-mail of message m as org reads it.
func compose(v TenantView, org tenant.ID, m message) (subject, text string) {
	title := v.Title
	if utf8.RuneCountInString(title) > 120 {
		title = string([]rune(title)[:119]) + "…"
	}
	var b strings.Builder
	footer := func() {
		fmt.Fprintf(&b, "\n\nOwners and admins can follow this incident with GET /v1/incidents/%s.\n", v.ID)
	}
	switch m.kind {
	case "incident.notice":
		subject = "[Alto] Security incident notice: " + title
		fmt.Fprintf(&b, "Alto is notifying your organization (%s) of a security incident that affects it.\n\n", org)
		fmt.Fprintf(&b, "Incident:  %s\nTitle:     %s\nSeverity:  %s\nDetected:  %s\nStatus:    %s\n",
			v.ID, v.Title, v.Severity, v.DetectedAt.Format(time.RFC3339), v.Status)
		if v.Description != "" {
			b.WriteString("\n" + v.Description + "\n")
		}
		fmt.Fprintf(&b, "\nWe will send a status update at least every %d hours until the incident is resolved, "+
			"and a root-cause analysis within %d business days of its resolution.", int(UpdateEvery.Hours()), RCABusinessDays)
	case "incident.update":
		u := v.Updates[len(v.Updates)-1]
		subject = fmt.Sprintf("[Alto] Incident update (%s): %s", u.Status, title)
		fmt.Fprintf(&b, "Incident:  %s\nStatus:    %s\nAt:        %s\n\n%s", v.ID, u.Status, u.At.Format(time.RFC3339), u.Message)
		if u.Status == Resolved {
			fmt.Fprintf(&b, "\n\nThe root-cause analysis is due by %s.", v.RCADueAt.Format(time.RFC3339))
		}
	default:
		subject = "[Alto] Root-cause analysis: " + title
		fmt.Fprintf(&b, "Incident:  %s\nResolved:  %s\n\n%s", v.ID, v.ResolvedAt.Format(time.RFC3339), v.RCA.Document)
	}
	footer()
	return subject, b.String()
}

// TenantGet returns the incident as the tenant in ctx was told it. Returns
// store.ErrNotFound, wrapped, if it does not exist or has not been
// delivered to this tenant (another tenant's incident, one under a hold).
func (s *Service) TenantGet(ctx context.Context, id string) (TenantView, error) {
	if err := checkID(id); err != nil {
		return TenantView{}, err
	}
	it, err := s.cfg.Store.Get(ctx, store.Key{PK: pkIncident, SK: id})
	if err != nil {
		return TenantView{}, fmt.Errorf("incident: get %s: %w", id, err)
	}
	return s.openProjection(ctx, it)
}

// TenantList returns up to limit incidents of the tenant in ctx (store.DefaultLimit if
// 0), newest first, after cursor, and the next page's cursor.
func (s *Service) TenantList(ctx context.Context, cursor string, limit int) ([]TenantView, string, error) {
	page, err := s.cfg.Store.Query(ctx, store.Query{PK: pkIncident, Cursor: cursor, Limit: limit, Reverse: true})
	if err != nil {
		return nil, "", fmt.Errorf("incident: list: %w", err)
	}
	out := make([]TenantView, 0, len(page.Items))
	for _, it := range page.Items {
		v, err := s.openProjection(ctx, it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	return out, page.Next, nil
}

func (s *Service) openProjection(ctx context.Context, it store.Item) (TenantView, error) {
	var p projection
	if err := json.Unmarshal(it.Data, &p); err != nil {
		return TenantView{}, fmt.Errorf("incident: decode projection %s: %w", it.SK, err)
	}
	plain, err := s.cfg.Keys.Open(ctx, recordOf(it.SK), "projection", p.Sealed)
	if err != nil {
		return TenantView{}, fmt.Errorf("incident: open projection %s: %w", it.SK, err)
	}
	var v TenantView
	if err := json.Unmarshal(plain, &v); err != nil {
		return TenantView{}, fmt.Errorf("incident: decode projection %s: %w", it.SK, err)
	}
	return v, nil
}
