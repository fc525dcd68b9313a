package subject

import (
	"context"
	"strings"
	"time"
)

// link mints a download link for r's archive, or returns nil when there is
// none to give (not finished, or the archive is gone). A link lives
// LinkTTL, never past the archive. Failing to mint one is logged, not
// fatal: the request itself is still worth showing.
func (s *Service) link(ctx context.Context, r record) *Download {
	now := s.now()
	if r.Status != Done || r.Archive == "" || !now.Before(r.ArchiveExpiresAt) {
		return nil
	}
	ttl := min(s.linkTTL(), r.ArchiveExpiresAt.Sub(now))
	url, err := s.Blobs.SignURL(ctx, "GET", r.Archive, ttl)
	if err != nil {
		s.log().WarnContext(ctx, "no download link for an export", "request", r.ID, "err", err.Error())
		return nil
	}
	// Signed URLs expire on a whole second, rounded down.
	return &Download{URL: url, ExpiresAt: time.Unix(now.Add(ttl).Unix(), 0).UTC()}
}

// Downloaded records in the audit log that the archive at key was fetched
// through a signed link (DSR-04). The blob server calls it before it sends
// the first byte, for every GET of a signed URL, and refuses the download
// if it fails; keys outside ExportPrefix are none of its business. ctx
// carries the archive's tenant.
func (s *Service) Downloaded(ctx context.Context, key string) error {
	rest, ok := strings.CutPrefix(key, ExportPrefix)
	if !ok {
		return nil
	}
	id, file, _ := strings.Cut(rest, "/")
	typ := "subject"
	if strings.HasPrefix(id, "exp_") {
		typ = "workspace"
	}
	return s.audit(ctx, "export.downloaded", "signed-url", id, map[string]string{"export": typ, "file": file})
}
