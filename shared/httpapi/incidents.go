package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/incident"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/valid"
)

// TenantRegistry learns the tenants that use Alto, for platform work that
// concerns all of them (package orgs' Registry).
type TenantRegistry interface {
	// Register records org; registering it again is not an error.
	Register(ctx context.Context, org tenant.ID) error
}

// incidentRoutes serve incidents (INC-01..03) and the notification
// settings their notices go to. They are always routed; without
// Config.Incidents they answer 404.
func (a *API) incidentRoutes() []Route {
	return []Route{
		{"POST", "/v1/incidents", auth.ManageIncidents, a.openIncident},
		{"GET", "/v1/incidents", auth.ReadIncidents, a.listIncidents},
		{"GET", "/v1/incidents/{id}", auth.ReadIncidents, a.getIncident},
		{"POST", "/v1/incidents/{id}/updates", auth.ManageIncidents, a.postIncidentUpdate},
		{"POST", "/v1/incidents/{id}/hold", auth.ManageIncidents, a.holdIncident},
		{"POST", "/v1/incidents/{id}/rca", auth.ManageIncidents, a.publishRCA},
		{"GET", "/v1/settings/notifications", auth.ManageSettings, a.getNotificationSettings},
		{"PUT", "/v1/settings/notifications", auth.ManageSettings, a.putNotificationSettings},
	}
}

func (a *API) incidentService() (*incident.Service, error) {
	if a.cfg.Incidents == nil {
		return nil, errNotFound
	}
	return a.cfg.Incidents, nil
}

type holdRequest struct {
	Reason string `json:"reason"`
	Until  string `json:"until"`
}

type incidentRequest struct {
	Title        string          `json:"title"`
	Severity     string          `json:"severity"`
	DetectedAt   string          `json:"detectedAt"`
	AffectedOrgs json.RawMessage `json:"affectedOrgs"`
	Description  string          `json:"description"`
	// Hold opens the incident under a law-enforcement hold.
	Hold *holdRequest `json:"hold"`
}

// openIncident opens an incident (security role) and notifies the affected
// tenants at once.
func (a *API) openIncident(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.incidentService()
	if err != nil {
		return err
	}
	var req incidentRequest
	if err := decodeStrict(r, &req); err != nil {
		return err
	}
	var errs valid.Errors
	d := incident.Draft{Title: req.Title, Severity: incident.Severity(req.Severity), Description: req.Description}
	d.DetectedAt = parseTime(req.DetectedAt, "detectedAt", &errs)
	if len(req.AffectedOrgs) > 0 && string(req.AffectedOrgs) != "null" {
		if err := json.Unmarshal(req.AffectedOrgs, &d.Affected); err != nil {
			errs.Add("affectedOrgs", `must be "all" or an array of org IDs`)
		}
	}
	if req.Hold != nil {
		d.HoldReason = req.Hold.Reason
		d.HoldUntil = parseTime(req.Hold.Until, "hold.until", &errs)
		if d.HoldReason == "" && d.HoldUntil.IsZero() {
			errs.Add("hold", "needs a reason and an until time")
		}
	}
	if err := errs.Err(); err != nil {
		return err
	}
	p, _ := auth.PrincipalFrom(r.Context())
	v, err := svc.Open(r.Context(), p.Sub, d)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

type incidentPage[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}

// listIncidents lists every incident for the security role, and for owners
// and admins the incidents their tenant was notified of.
func (a *API) listIncidents(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.incidentService()
	if err != nil {
		return err
	}
	cursor, limit, err := pageQuery(r)
	if err != nil {
		return err
	}
	p, _ := auth.PrincipalFrom(r.Context())
	if p.Role == auth.Security {
		items, next, err := svc.List(r.Context(), cursor, limit)
		if err != nil {
			return cursorError(err)
		}
		writeJSON(w, http.StatusOK, incidentPage[incident.View]{Items: items, NextCursor: next})
		return nil
	}
	items, next, err := svc.TenantList(r.Context(), cursor, limit)
	if err != nil {
		return cursorError(err)
	}
	writeJSON(w, http.StatusOK, incidentPage[incident.TenantView]{Items: items, NextCursor: next})
	return nil
}

// getIncident returns one incident: any for the security role; for owners
// and admins only one their tenant was notified of, else 404 (ACC-03).
func (a *API) getIncident(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.incidentService()
	if err != nil {
		return err
	}
	p, _ := auth.PrincipalFrom(r.Context())
	if p.Role == auth.Security {
		v, err := svc.Get(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}
	v, err := svc.TenantGet(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) postIncidentUpdate(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.incidentService()
	if err != nil {
		return err
	}
	var req struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	}
	if err := decodeStrict(r, &req); err != nil {
		return err
	}
	p, _ := auth.PrincipalFrom(r.Context())
	v, err := svc.PostUpdate(r.Context(), p.Sub, r.PathValue("id"), incident.Status(req.Status), req.Message)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (a *API) holdIncident(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.incidentService()
	if err != nil {
		return err
	}
	var req holdRequest
	if err := decodeStrict(r, &req); err != nil {
		return err
	}
	var errs valid.Errors
	until := parseTime(req.Until, "until", &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	p, _ := auth.PrincipalFrom(r.Context())
	v, err := svc.PlaceHold(r.Context(), p.Sub, r.PathValue("id"), req.Reason, until)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (a *API) publishRCA(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.incidentService()
	if err != nil {
		return err
	}
	var req struct {
		Document string `json:"document"`
	}
	if err := decodeStrict(r, &req); err != nil {
		return err
	}
	p, _ := auth.PrincipalFrom(r.Context())
	v, err := svc.PublishRCA(r.Context(), p.Sub, r.PathValue("id"), req.Document)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (a *API) getNotificationSettings(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.incidentService()
	if err != nil {
		return err
	}
	s, err := svc.NotificationSettings(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s)
	return nil
}

// settingsAnswer is the settings with the webhook secret when one was just
// made: the only time it is shown.
type settingsAnswer struct {
	incident.Settings
	WebhookSecret string `json:"webhookSecret,omitempty"`
}

func (a *API) putNotificationSettings(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.incidentService()
	if err != nil {
		return err
	}
	var req struct {
		Emails       []string `json:"emails"`
		WebhookURL   string   `json:"webhookUrl"`
		RotateSecret bool     `json:"rotateSecret"`
	}
	if err := decodeStrict(r, &req); err != nil {
		return err
	}
	p, _ := auth.PrincipalFrom(r.Context())
	s, secret, err := svc.SetNotificationSettings(r.Context(), p.Sub,
		incident.SettingsInput{Emails: req.Emails, WebhookURL: req.WebhookURL, RotateSecret: req.RotateSecret})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, settingsAnswer{Settings: s, WebhookSecret: secret})
	return nil
}

// pageQuery reads ?cursor= and ?limit= (1 to 100) of a listing.
func pageQuery(r *http.Request) (cursor string, limit int, err error) {
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 100 {
			return "", 0, valid.Errors{{Field: "limit", Reason: "must be a whole number from 1 to 100"}}
		}
	}
	return q.Get("cursor"), limit, nil
}

// cursorError turns a store's refusal of a cursor into a field error.
func cursorError(err error) error {
	if errors.Is(err, store.ErrInvalid) {
		return valid.Errors{{Field: "cursor", Reason: "is not a cursor of this listing"}}
	}
	return err
}
