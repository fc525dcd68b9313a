package subject

import (
	"context"
	"errors"
	"fmt"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/valid"
)

// ExportInput is a new workspace export.
type ExportInput struct {
	// RecipientKey is an OpenPGP armored public key or an age recipient
	// ("age1..."): the archive is encrypted to it.
	RecipientKey string `json:"recipientKey,omitempty"`
}

// CreateExport records a whole-workspace export (DSR-03) and queues its
// job. actor is who asked. Returns valid.Errors for an unusable recipient
// key (nothing is written then), and storage, key or queue errors.
func (s *Service) CreateExport(ctx context.Context, in ExportInput, actor string) (Request, error) {
	var errs valid.Errors
	var rcpt recipient
	switch {
	case len(in.RecipientKey) > MaxRecipientKey:
		errs.Add("recipientKey", "is larger than 64 KiB")
	case in.RecipientKey != "":
		var err error
		if rcpt, err = parseRecipient(in.RecipientKey, s.now()); err != nil {
			errs.Add("recipientKey", err.Error())
		}
	}
	if err := errs.Err(); err != nil {
		return Request{}, err
	}
	now := s.now()
	r := record{Request: Request{ID: newID("exp", now), Type: Workspace, Status: Received, CreatedAt: now,
		CreatedBy: audit.Actor(actor), Encryption: rcpt.kind(), History: []Event{{Status: Received, At: now}}}}
	if rcpt.kind() != "none" {
		var err error
		if r.SealedRecipient, err = s.seal(ctx, r.ID, "recipient", in.RecipientKey); err != nil {
			return Request{}, err
		}
	}
	if err := s.put(ctx, exportsPK, r, 0, store.IfAbsent); err != nil {
		return Request{}, err
	}
	if err := s.audit(ctx, "export.requested", actor, r.ID, map[string]string{"encryption": r.Encryption}); err != nil {
		return Request{}, err
	}
	if err := s.Jobs.Send(ctx, JobWorkspaceExport, r.ID); err != nil {
		_, aerr := s.Advance(ctx, r.ID, Failed, nil, "the export could not be queued")
		return Request{}, fmt.Errorf("subject: queue export: %w", errors.Join(err, aerr))
	}
	return r.Request, nil
}
