package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/retention"
	"github.com/alto/alto/shared/valid"
)

func (a *API) retentionRoutes() []Route {
	if a.cfg.Retention == nil {
		return nil
	}
	return []Route{
		{"GET", "/v1/settings/retention", auth.ManageRetention, a.getRetention},
		{"PUT", "/v1/settings/retention", auth.ManageRetention, a.putRetention},
		{"PUT", "/v1/workspace/contract", auth.ManageContract, a.putContract},
		{"POST", "/v1/workspace/terminate", auth.ManageContract, a.terminate},
		{"POST", "/v1/workspace/reactivate", auth.ManageContract, a.reactivate},
	}
}

func (a *API) getRetention(w http.ResponseWriter, r *http.Request) error {
	set, err := a.cfg.Retention.Get(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, set)
	return nil
}

// putRetention shortens retention classes; fields left out stay.
func (a *API) putRetention(w http.ResponseWriter, r *http.Request) error {
	var c retention.Change
	if err := decodeStrict(r, &c); err != nil {
		return err
	}
	p, _ := auth.PrincipalFrom(r.Context())
	set, err := a.cfg.Retention.Update(r.Context(), c, p.Sub)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, set)
	return nil
}

// putContract sets when the contract ends (RET-03); null clears it.
func (a *API) putContract(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		EndsAt json.RawMessage `json:"endsAt"`
	}
	if err := decodeStrict(r, &req); err != nil {
		return err
	}
	var ends time.Time
	switch string(req.EndsAt) {
	case "":
		return valid.Errors{{Field: "endsAt", Reason: "is required: an RFC 3339 time, or null to clear it"}}
	case "null":
	default:
		if err := json.Unmarshal(req.EndsAt, &ends); err != nil {
			return valid.Errors{{Field: "endsAt", Reason: "must be an RFC 3339 time, or null to clear it"}}
		}
	}
	p, _ := auth.PrincipalFrom(r.Context())
	set, err := a.cfg.Retention.SetContractEnd(r.Context(), ends, p.Sub)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, set)
	return nil
}

// terminate starts the termination lifecycle (RET-07); the body confirms
// the organization ID and names where the final purge's log goes.
func (a *API) terminate(w http.ResponseWriter, r *http.Request) error {
	req, p, err := decodeConfirmation(r)
	if err != nil {
		return err
	}
	set, err := a.cfg.Retention.Terminate(r.Context(), req.Confirm, req.Email, p.Sub)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, set)
	return nil
}

func (a *API) reactivate(w http.ResponseWriter, r *http.Request) error {
	p, _ := auth.PrincipalFrom(r.Context())
	set, err := a.cfg.Retention.Reactivate(r.Context(), p.Sub)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, set)
	return nil
}
