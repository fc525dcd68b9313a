// Package incident handles security incidents (INC-01..04): the security
// role opens them, tenants affected are notified by e-mail and signed
// webhook at once and at the latest 24 hours after detection, status
// updates go out at least every 4 hours until resolution, a root-cause
// analysis is due 5 business days after it, and detectors reading the
// audit stream open incidents by themselves. Every deadline is checked by
// Tick, which the `sla` schedule runs every 15 minutes, against an injected
// clock; an overdue one raises an alarm (OPS-04) and e-mails the security
// team.
//
// Incidents are platform data (tenant.WithPlatform). A tenant sees an
// incident only once its notice has been delivered to it, as a projection
// kept in its own scope that names no other tenant. Every document is
// sealed: incidents with the platform's keys, projections and
// notification settings with the tenant's (ENC-02), so shredding a tenant
// also makes its copies unreadable (ENC-04).
//
// Notices, alarms and detections are idempotent: each is recorded with a
// conditional put, e-mails carry a stable notify.Email ID and webhooks a
// stable delivery ID, so a re-run of Tick sends nothing twice.
//
// Recipients of a tenant's notices are the addresses of its notification
// settings plus, through the Directory port, its owners and admins once
// the user directory (SCIM) exists.
package incident

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/valid"
)

// Deadlines of the promises (INC-01..03).
const (
	NoticeWithin      = 24 * time.Hour
	UpdateEvery       = 4 * time.Hour
	RCABusinessDays   = 5
	MaxHold           = 90 * 24 * time.Hour
	MaxAffectedOrgs   = 1000
	MaxTitleLen       = 200
	MaxTextLen        = 20_000  // description, update message, hold reason
	MaxRCALen         = 200_000 // the root-cause analysis document
	detectedSkew      = 5 * time.Minute
	maxDetectedInPast = 366 * 24 * time.Hour
)

// Errors of the package. Not found is store.ErrNotFound, wrapped.
var (
	// ErrConflict is returned for a change the incident's state does not
	// allow: an update or hold after resolution, an RCA before it or a
	// second RCA. It wraps store.ErrConditionFailed, so the API answers 409.
	ErrConflict = fmt.Errorf("incident: not allowed in the incident's state: %w", store.ErrConditionFailed)
)

// Severity grades an incident.
type Severity string

// Severities, least severe first.
const (
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Status is where an incident stands.
type Status string

// Statuses of an incident.
const (
	Investigating Status = "investigating"
	Contained     Status = "contained"
	Resolved      Status = "resolved"
)

// Affected names the tenants an incident affects: all of them, or a list
// (possibly empty for an internal incident that no tenant is told about,
// such as one a detector opened on the platform's own log). In JSON it is
// the string "all" or an array of org IDs.
type Affected struct {
	All  bool
	Orgs []tenant.ID
}

// MarshalJSON encodes a as "all" or an array.
func (a Affected) MarshalJSON() ([]byte, error) {
	if a.All {
		return []byte(`"all"`), nil
	}
	if a.Orgs == nil {
		return []byte(`[]`), nil
	}
	return json.Marshal(a.Orgs)
}

// UnmarshalJSON decodes "all" or an array of strings; it checks the shape
// only (Draft.Validate checks the IDs).
func (a *Affected) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte(`"all"`)) {
		*a = Affected{All: true}
		return nil
	}
	var orgs []tenant.ID
	if err := json.Unmarshal(b, &orgs); err != nil {
		return errors.New(`incident: affectedOrgs must be "all" or an array of org IDs`)
	}
	*a = Affected{Orgs: orgs}
	return nil
}

// Includes reports whether org is affected.
func (a Affected) Includes(org tenant.ID) bool {
	if a.All {
		return true
	}
	for _, o := range a.Orgs {
		if o == org {
			return true
		}
	}
	return false
}

// Internal reports whether no tenant is affected.
func (a Affected) Internal() bool { return !a.All && len(a.Orgs) == 0 }

// Update is one status update.
type Update struct {
	Status  Status    `json:"status"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
	By      string    `json:"by"`
}

// Hold is a law-enforcement hold: notices wait until Until, with Reason
// recorded. The last hold posted is the one in force.
type Hold struct {
	Reason string    `json:"reason"`
	Until  time.Time `json:"until"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
}

// RCA is the root-cause analysis.
type RCA struct {
	Document string    `json:"document"`
	At       time.Time `json:"at"`
	By       string    `json:"by"`
}

// Incident is an incident as stored and as the security team reads it.
type Incident struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Severity    Severity  `json:"severity"`
	Status      Status    `json:"status"`
	Description string    `json:"description"`
	DetectedAt  time.Time `json:"detectedAt"`
	OpenedAt    time.Time `json:"openedAt"`
	OpenedBy    string    `json:"openedBy"`
	// Source is "manual" or "detector:<name>".
	Source     string    `json:"source"`
	Affected   Affected  `json:"affectedOrgs"`
	Updates    []Update  `json:"updates"`
	Holds      []Hold    `json:"holds"`
	ResolvedAt time.Time `json:"resolvedAt,omitzero"`
	RCADueAt   time.Time `json:"rcaDueAt,omitzero"`
	RCA        *RCA      `json:"rca,omitempty"`
	// Delivered counts the messages (notice, updates, RCA, in order)
	// delivered to every affected tenant.
	Delivered int `json:"deliveredMessages"`
}

// lastStatusAt is when the incident last told its status: the latest of
// detection, opening and the last update. The next update is due
// UpdateEvery after it.
func (inc *Incident) lastStatusAt() time.Time {
	t := inc.DetectedAt
	if inc.OpenedAt.After(t) {
		t = inc.OpenedAt
	}
	if n := len(inc.Updates); n > 0 && inc.Updates[n-1].At.After(t) {
		t = inc.Updates[n-1].At
	}
	return t
}

// HoldAt returns the hold in force at now, if any.
func (inc *Incident) HoldAt(now time.Time) (Hold, bool) {
	if n := len(inc.Holds); n > 0 && now.Before(inc.Holds[n-1].Until) {
		return inc.Holds[n-1], true
	}
	return Hold{}, false
}

// Deadlines are an incident's timers.
type Deadlines struct {
	// Notice is when the first notice must have reached every affected
	// tenant (INC-01); zero for an internal incident.
	Notice time.Time `json:"notice,omitzero"`
	// NextUpdate is when the next status update is due (INC-02); zero once
	// resolved.
	NextUpdate time.Time `json:"nextUpdate,omitzero"`
	// RCA is when the root-cause analysis is due (INC-03); zero until
	// resolved.
	RCA time.Time `json:"rca,omitzero"`
}

// Deadlines returns the incident's timers.
func (inc *Incident) Deadlines() Deadlines {
	var d Deadlines
	if !inc.Affected.Internal() {
		d.Notice = inc.DetectedAt.Add(NoticeWithin)
	}
	if inc.Status != Resolved {
		d.NextUpdate = inc.lastStatusAt().Add(UpdateEvery)
	}
	d.RCA = inc.RCADueAt
	return d
}

// Overdue kinds.
const (
	OverdueNotice = "notice"
	OverdueUpdate = "update"
	OverdueRCA    = "rca"
)

// Overdue lists the timers of the incident that have passed at now without
// being met: OverdueNotice (the first notice has not reached every
// affected tenant on each of its channels 24 hours after detection, and no
// hold is in force),
// OverdueUpdate (no update for more than 4 hours before resolution),
// OverdueRCA (no RCA 5 business days after resolution).
func (inc *Incident) Overdue(now time.Time) []string {
	d := inc.Deadlines()
	out := []string{}
	if _, held := inc.HoldAt(now); !d.Notice.IsZero() && inc.Delivered == 0 && !held && now.After(d.Notice) {
		out = append(out, OverdueNotice)
	}
	if !d.NextUpdate.IsZero() && now.After(d.NextUpdate) {
		out = append(out, OverdueUpdate)
	}
	if inc.RCA == nil && !d.RCA.IsZero() && now.After(d.RCA) {
		out = append(out, OverdueRCA)
	}
	return out
}

// View is an incident as the security team reads it: the stored incident
// with its timers and what is overdue now.
type View struct {
	Incident
	Hold      *Hold     `json:"hold,omitempty"` // the hold in force, if any
	Deadlines Deadlines `json:"deadlines"`
	Overdue   []string  `json:"overdue"`
}

// ViewAt returns the security team's view of inc at now.
func ViewAt(inc Incident, now time.Time) View {
	v := View{Incident: inc, Deadlines: inc.Deadlines(), Overdue: inc.Overdue(now)}
	if h, ok := inc.HoldAt(now); ok {
		v.Hold = &h
	}
	if v.Updates == nil {
		v.Updates = []Update{}
	}
	if v.Holds == nil {
		v.Holds = []Hold{}
	}
	if v.Affected.Orgs == nil && !v.Affected.All {
		v.Affected.Orgs = []tenant.ID{}
	}
	return v
}

// Draft is what opening an incident takes.
type Draft struct {
	Title       string
	Severity    Severity
	Description string
	DetectedAt  time.Time
	Affected    Affected
	// HoldReason and HoldUntil, when set, open the incident under a
	// law-enforcement hold, so that not even the first notice goes out
	// before HoldUntil.
	HoldReason string
	HoldUntil  time.Time
}

// Validate returns the draft's field errors at now: a title of 1 to 200
// characters, a known severity, a detection time not in the future and
// within the last year, a description of at most 20,000 characters, and
// affected orgs that are "all" or distinct valid org IDs (at most 1000;
// none is allowed only when allowInternal), and a valid hold if one is
// given (see ValidateHold).
func (d Draft) Validate(now time.Time, allowInternal bool) valid.Errors {
	var errs valid.Errors
	checkText(&errs, "title", d.Title, MaxTitleLen, true, true)
	checkText(&errs, "description", d.Description, MaxTextLen, false, false)
	switch d.Severity {
	case Low, Medium, High, Critical:
	default:
		errs.Add("severity", "must be low, medium, high or critical")
	}
	switch {
	case d.DetectedAt.IsZero():
		errs.Add("detectedAt", "is required")
	case d.DetectedAt.After(now.Add(detectedSkew)):
		errs.Add("detectedAt", "must not be in the future")
	case d.DetectedAt.Before(now.Add(-maxDetectedInPast)):
		errs.Add("detectedAt", "must be within the last year")
	}
	if !d.Affected.All {
		switch n := len(d.Affected.Orgs); {
		case n == 0 && !allowInternal:
			errs.Add("affectedOrgs", `must be "all" or name at least one org`)
		case n > MaxAffectedOrgs:
			errs.Add("affectedOrgs", fmt.Sprintf("must name at most %d orgs", MaxAffectedOrgs))
		}
		seen := map[tenant.ID]bool{}
		for i, o := range d.Affected.Orgs {
			field := fmt.Sprintf("affectedOrgs[%d]", i)
			if tenant.Valid(string(o)) != nil {
				errs.Add(field, "must be an org ID: 1-63 of [a-z0-9-], starting with a letter or digit")
			} else if seen[o] {
				errs.Add(field, "is listed twice")
			}
			seen[o] = true
		}
	}
	if d.HoldReason != "" || !d.HoldUntil.IsZero() {
		for _, e := range ValidateHold(d.HoldReason, d.HoldUntil, now) {
			errs.Add("hold."+e.Field, e.Reason)
		}
	}
	return errs
}

// ValidateUpdate returns the field errors of a status update.
func ValidateUpdate(s Status, message string) valid.Errors {
	var errs valid.Errors
	switch s {
	case Investigating, Contained, Resolved:
	default:
		errs.Add("status", "must be investigating, contained or resolved")
	}
	checkText(&errs, "message", message, MaxTextLen, true, false)
	return errs
}

// ValidateHold returns the field errors of a hold posted at now: a reason
// and an end after now, at most 90 days ahead.
func ValidateHold(reason string, until, now time.Time) valid.Errors {
	var errs valid.Errors
	checkText(&errs, "reason", reason, MaxTextLen, true, false)
	switch {
	case until.IsZero():
		errs.Add("until", "is required")
	case !until.After(now):
		errs.Add("until", "must be in the future")
	case until.After(now.Add(MaxHold)):
		errs.Add("until", "must be at most 90 days ahead; post a new hold to extend it")
	}
	return errs
}

// ValidateRCA returns the field errors of a root-cause analysis document.
func ValidateRCA(document string) valid.Errors {
	var errs valid.Errors
	checkText(&errs, "document", document, MaxRCALen, true, false)
	return errs
}

// checkText adds an error for a text field that is missing (when
// required), too long, not UTF-8, or holds control characters (line breaks
// and tabs are allowed unless oneLine).
func checkText(errs *valid.Errors, field, s string, max int, required, oneLine bool) {
	switch {
	case required && strings.TrimSpace(s) == "":
		errs.Add(field, "is required")
	case utf8.RuneCountInString(s) > max:
		errs.Add(field, fmt.Sprintf("must be at most %d characters", max))
	case !utf8.ValidString(s):
		errs.Add(field, "must be UTF-8 text")
	case strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) && (oneLine || (r != '\n' && r != '\t' && r != '\r'))
	}):
		errs.Add(field, "must not hold control characters")
	}
}
