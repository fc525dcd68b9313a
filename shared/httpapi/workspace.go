package httpapi

import (
	"net/http"

	"github.com/alto/alto/shared/auth"
)

func (a *API) workspaceRoutes() []Route {
	if a.cfg.Purges == nil {
		return nil
	}
	return []Route{
		{"POST", "/v1/workspace/purge", auth.PurgeWorkspace, a.purgeWorkspace},
		{"GET", "/v1/workspace/purge/{id}", auth.PurgeWorkspace, a.getPurge},
	}
}

// purgeWorkspace shreds the caller's workspace at once and schedules its
// deletion (PRG-02). The body must confirm the organization ID.
func (a *API) purgeWorkspace(w http.ResponseWriter, r *http.Request) error {
	req, p, err := decodeConfirmation(r)
	if err != nil {
		return err
	}
	res, err := a.cfg.Purges.Request(r.Context(), req.Confirm, req.Email, p.Sub)
	if err != nil {
		return err
	}
	res.Log = ""
	res.Recipient = nil
	writeJSON(w, http.StatusAccepted, res)
	return nil
}

func (a *API) getPurge(w http.ResponseWriter, r *http.Request) error {
	res, err := a.cfg.Purges.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// confirmation is the body of a request that ends the workspace: the
// organization ID typed again, and where the confirmation log goes.
type confirmation struct {
	Confirm string `json:"confirm"`
	Email   string `json:"email"`
}

// decodeConfirmation decodes r's confirmation and returns it with the caller.
func decodeConfirmation(r *http.Request) (confirmation, auth.Principal, error) {
	var req confirmation
	err := decodeStrict(r, &req)
	p, _ := auth.PrincipalFrom(r.Context())
	return req, p, err
}
