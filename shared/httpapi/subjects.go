package httpapi

import (
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/subject"
	"github.com/alto/alto/shared/valid"
)

// subjectRoutes are the data subject requests (DSR-01), the workspace
// export (DSR-03) and the download links of both (DSR-04).
func (a *API) subjectRoutes() []Route {
	if a.cfg.Subjects == nil {
		return nil
	}
	return []Route{
		{"POST", "/v1/subject-requests", auth.SubjectRequests, a.createSubjectRequest},
		{"GET", "/v1/subject-requests", auth.SubjectRequests, a.listSubjectRequests},
		{"GET", "/v1/subject-requests/{id}", auth.SubjectRequests, a.getSubjectRequest},
		{"POST", "/v1/exports", auth.ExportWorkspace, a.createExport},
		{"GET", "/v1/exports/{id}", auth.ExportWorkspace, a.getExport},
		{"GET", subject.DownloadPath + "{token}", "", a.download}, // public: the link is the capability
	}
}

func (a *API) createSubjectRequest(w http.ResponseWriter, r *http.Request) error {
	var in subject.Input
	if err := decodeStrict(r, &in); err != nil {
		return err
	}
	p, _ := auth.PrincipalFrom(r.Context())
	req, err := a.cfg.Subjects.Create(r.Context(), in, p.Sub)
	if err != nil {
		return a.notFound(r, err)
	}
	writeJSON(w, http.StatusAccepted, req)
	return nil
}

type subjectRequestPage struct {
	Items      []subject.Request `json:"items"`
	NextCursor string            `json:"nextCursor,omitempty"`
}

func (a *API) listSubjectRequests(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := subject.Filter{Type: q.Get("type"), Status: q.Get("status"), Cursor: q.Get("cursor")}
	var errs valid.Errors
	if f.Type != "" && !slices.Contains(subject.Kinds, f.Type) {
		errs.Add("type", "must be one of access, portability, rectification, erasure, restriction, objection")
	}
	if f.Status != "" && !slices.Contains([]string{subject.Received, subject.Running, subject.Done, subject.Failed}, f.Status) {
		errs.Add("status", "must be one of received, running, done, failed")
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			errs.Add("limit", "must be a whole number from 1 to 1000")
		}
		f.Limit = n
	}
	if err := errs.Err(); err != nil {
		return err
	}
	items, next, err := a.cfg.Subjects.List(r.Context(), f)
	if errors.Is(err, store.ErrInvalid) {
		return valid.Errors{{Field: "cursor", Reason: "is not a cursor of this listing"}}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, subjectRequestPage{Items: items, NextCursor: next})
	return nil
}

func (a *API) getSubjectRequest(w http.ResponseWriter, r *http.Request) error {
	req, err := a.cfg.Subjects.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, req)
	return nil
}

func (a *API) createExport(w http.ResponseWriter, r *http.Request) error {
	var in subject.ExportInput
	if r.ContentLength != 0 { // an empty body asks for an unencrypted export
		if err := decodeStrict(r, &in); err != nil {
			return err
		}
	}
	p, _ := auth.PrincipalFrom(r.Context())
	req, err := a.cfg.Subjects.CreateExport(r.Context(), in, p.Sub)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, req)
	return nil
}

func (a *API) getExport(w http.ResponseWriter, r *http.Request) error {
	req, err := a.cfg.Subjects.GetExport(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, req)
	return nil
}

// download serves a download link (DSR-04): the download is audited with a
// digest of the client's address, then redirected (302) to a blob URL that
// lives subject.BlobURLTTL. An expired link answers 410, a tampered or
// foreign one 404.
func (a *API) download(w http.ResponseWriter, r *http.Request) error {
	url, err := a.cfg.Subjects.Download(r.Context(), r.PathValue("token"), a.addrDigest(clientAddr(r)))
	if err != nil {
		return err
	}
	w.Header().Set("Location", url)
	w.WriteHeader(http.StatusFound)
	return nil
}
