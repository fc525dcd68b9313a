package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strconv"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/valid"
)

func (a *API) campaignRoutes() []Route {
	if a.cfg.Campaigns == nil {
		return nil
	}
	return []Route{
		{"POST", "/v1/campaigns", auth.ManageCampaigns, a.createCampaign},
		{"GET", "/v1/campaigns/{id}", auth.ManageCampaigns, a.getCampaign},
		{"POST", "/v1/campaigns/{id}/enqueue", auth.ManageCampaigns, a.enqueueCampaign},
		{"GET", "/v1/campaigns/{id}/drafts", auth.ReadDrafts, a.listDrafts},
		{"GET", "/v1/optout/{token}", "", a.optOutPage},
		{"POST", "/v1/optout/{token}", "", a.optOut},
	}
}

// decodeStrict decodes a JSON body into v, refusing unknown fields.
func decodeStrict(r *http.Request, v any) error {
	body, err := readJSON(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return valid.Errors{jsonFieldError(err)}
	}
	return nil
}

func (a *API) createCampaign(w http.ResponseWriter, r *http.Request) error {
	var c campaign.Campaign
	if err := decodeStrict(r, &c); err != nil {
		return err
	}
	p, _ := auth.PrincipalFrom(r.Context())
	c, err := a.cfg.Campaigns.Create(r.Context(), c, p.Sub)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (a *API) getCampaign(w http.ResponseWriter, r *http.Request) error {
	c, err := a.cfg.Campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *API) enqueueCampaign(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ContactIDs []string `json:"contactIds"`
		All        bool     `json:"all"`
	}
	if err := decodeStrict(r, &req); err != nil {
		return err
	}
	switch {
	case req.All == (len(req.ContactIDs) > 0):
		return valid.Errors{{Field: "contactIds", Reason: "give either contactIds or all: true"}}
	case len(req.ContactIDs) > 10_000:
		return valid.Errors{{Field: "contactIds", Reason: "at most 10000 per call; use all: true for more"}}
	}
	p, _ := auth.PrincipalFrom(r.Context())
	res, err := a.cfg.Campaigns.Enqueue(r.Context(), auth.RecordScope(p), r.PathValue("id"), req.ContactIDs, req.All, p.Sub)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, res)
	return nil
}

type draftPage struct {
	Items      []campaign.Draft `json:"items"`
	NextCursor string           `json:"nextCursor,omitempty"`
}

func (a *API) listDrafts(w http.ResponseWriter, r *http.Request) error {
	p, _ := auth.PrincipalFrom(r.Context())
	limit := 0
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return valid.Errors{{Field: "limit", Reason: "must be a whole number from 1 to 1000"}}
		}
		limit = n
	}
	drafts, next, err := a.cfg.Campaigns.Drafts(r.Context(), auth.RecordScope(p), r.PathValue("id"), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	if err := a.record(r, "draft.read", map[string]string{"campaign": r.PathValue("id"), "count": strconv.Itoa(len(drafts))}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, draftPage{Items: drafts, NextCursor: next})
	return nil
}

var optOutPage = template.Must(template.New("optout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Unsubscribe</title></head>
<body><h1>Unsubscribe</h1>
<p>Stop every message from this sender to you.</p>
<form method="post" action="/v1/optout/{{.}}"><button type="submit">Unsubscribe</button></form>
</body></html>
`))

// optOutPage shows a one-button page; following a link must not opt out
// by itself (mail scanners follow links), the POST does.
func (a *API) optOutPage(w http.ResponseWriter, r *http.Request) error {
	tok := r.PathValue("token")
	if _, _, _, err := a.cfg.Campaigns.ParseToken(r.Context(), tok); err != nil {
		return errNotFound
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return optOutPage.Execute(w, tok)
}

// optOut is the RFC 8058 one-click opt-out: one POST, no login, effective
// at once and idempotent. A tampered or foreign token changes nothing.
func (a *API) optOut(w http.ResponseWriter, r *http.Request) error {
	err := a.cfg.Campaigns.OptOut(r.Context(), a.cfg.OptOuts, r.PathValue("token"))
	if errors.Is(err, campaign.ErrBadToken) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Unsubscribed</title></head>\n<body><p>You will get no more messages from this sender.</p></body></html>\n"))
	return nil
}
