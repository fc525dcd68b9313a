package httpapi

import (
	"context"
	"net/http"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/imports"
)

// Imports runs CSV imports (imports.Service).
type Imports interface {
	// Create starts an import and returns its upload URL.
	Create(ctx context.Context, p auth.Principal, fileName string) (imports.Created, error)
	// Get returns an import within p's scope; an error wrapping
	// store.ErrNotFound if there is none.
	Get(ctx context.Context, p auth.Principal, id string) (imports.Import, error)
}

func (a *API) importRoutes() []Route {
	if a.cfg.Imports == nil {
		return nil
	}
	return []Route{
		{"POST", "/v1/imports", auth.ManageImports, a.createImport},
		{"GET", "/v1/imports/{id}", auth.ManageImports, a.getImport},
	}
}

// createImport answers 201 with the URL to PUT the CSV file to (ING-02).
func (a *API) createImport(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		FileName string `json:"filename"`
	}
	if err := decodeStrict(r, &req); err != nil {
		return err
	}
	p, _ := auth.PrincipalFrom(r.Context())
	created, err := a.cfg.Imports.Create(r.Context(), p, req.FileName)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, created)
	return nil
}

// getImport shows an import's progress while it runs and its report after.
func (a *API) getImport(w http.ResponseWriter, r *http.Request) error {
	p, _ := auth.PrincipalFrom(r.Context())
	imp, err := a.cfg.Imports.Get(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, imp)
	return nil
}
