package subject

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/store"
)

// The records of an archive, as JSON and as CSV rows.

type contactRow contact.Contact

var contactHeader = []string{"id", "email", "phone", "firstName", "lastName", "company", "title", "country",
	"timeZone", "source", "sourceId", "ownerId", "branch", "dept", "attributes", "consentEmail", "consentCall",
	"consentBasis", "consentCapturedAt", "optedOut", "restricted", "objected", "createdAt", "updatedAt"}

func (c contactRow) csv() []string {
	attrs := ""
	if len(c.Attributes) > 0 {
		b, _ := json.Marshal(c.Attributes) // keys sorted
		attrs = string(b)
	}
	return []string{c.ID, c.Email, c.Phone, c.FirstName, c.LastName, c.Company, c.Title, c.Country,
		c.TimeZone, c.Source, c.SourceID, c.OwnerID, c.Branch, c.Dept, attrs, c.Consent.Email, c.Consent.Call,
		c.Consent.Basis, stamp(c.Consent.CapturedAt), strconv.FormatBool(c.OptedOut),
		strconv.FormatBool(c.Restricted), strconv.FormatBool(c.Objected), stamp(c.CreatedAt), stamp(c.UpdatedAt)}
}

type consentRow struct {
	ContactID string `json:"contactId"`
	contact.Consent
}

var consentHeader = []string{"contactId", "email", "call", "basis", "capturedAt", "textVersion", "ipDigest"}

func (c consentRow) csv() []string {
	return []string{c.ContactID, c.Email, c.Call, c.Basis, stamp(c.CapturedAt), c.TextVersion, c.IPDigest}
}

// stateRow is the subject's own choices and the suppression list: for a
// contact, or (with no contact ID) for the identifier the request named.
type stateRow struct {
	ContactID  string `json:"contactId,omitempty"`
	OptedOut   bool   `json:"optedOut"`
	Restricted bool   `json:"restricted"`
	Objected   bool   `json:"objected"`
	Suppressed bool   `json:"suppressed"`
}

var stateHeader = []string{"contactId", "optedOut", "restricted", "objected", "suppressed"}

func (s stateRow) csv() []string {
	return []string{s.ContactID, strconv.FormatBool(s.OptedOut), strconv.FormatBool(s.Restricted),
		strconv.FormatBool(s.Objected), strconv.FormatBool(s.Suppressed)}
}

type draftRow campaign.Draft

var draftHeader = []string{"campaignId", "contactId", "channel", "body", "footer", "listUnsubscribe",
	"listUnsubscribePost", "notBefore", "createdAt"}

func (d draftRow) csv() []string {
	return []string{d.Campaign, d.Contact, d.Channel, d.Body, d.Footer, d.ListUnsubscribe, d.ListUnsubscribePost,
		stamp(d.NotBefore), stamp(d.CreatedAt)}
}

type campaignRow campaign.Campaign

var campaignHeader = []string{"id", "name", "channel", "template", "reason", "senderName", "senderEmail",
	"senderPostalAddress", "createdBy", "createdAt"}

func (c campaignRow) csv() []string {
	return []string{c.ID, c.Name, c.Channel, c.Template, c.Reason, c.Sender.Name, c.Sender.Email,
		c.Sender.PostalAddress, c.CreatedBy, stamp(c.CreatedAt)}
}

type auditRow audit.Entry

var auditHeader = []string{"seq", "time", "type", "actor", "target", "detail", "prev", "hash"}

func (e auditRow) csv() []string {
	detail := ""
	if len(e.Detail) > 0 {
		b, _ := json.Marshal(e.Detail)
		detail = string(b)
	}
	return []string{strconv.FormatInt(e.Seq, 10), stamp(e.Time), e.Type, e.Actor, e.Target, detail, e.Prev, e.Hash}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// pageSize is how many records a collection holds in memory at a time.
const pageSize = store.MaxLimit

// subjectCollections are the collections of a subject's archive: the
// matching contacts, their consent, their state (with the suppression of
// the identifier the request named), their drafts in every campaign and
// the audit entries about them.
func (s *Service) subjectCollections(ref Ref, contacts []contact.Contact) []collection {
	ids := map[string]bool{}
	for _, c := range contacts {
		ids[c.ID] = true
	}
	return []collection{
		{"contacts", contactHeader, func(_ context.Context, emit func(row) error) error {
			for _, c := range contacts {
				if err := emit(contactRow(c)); err != nil {
					return err
				}
			}
			return nil
		}},
		{"consent", consentHeader, func(_ context.Context, emit func(row) error) error {
			for _, c := range contacts {
				if err := emit(consentRow{ContactID: c.ID, Consent: c.Consent}); err != nil {
					return err
				}
			}
			return nil
		}},
		{"state", stateHeader, func(ctx context.Context, emit func(row) error) error {
			if ref.ContactID == "" {
				sup, err := s.Contacts.Suppressed(ctx, contact.Contact{Email: ref.Email, Phone: ref.Phone})
				if err != nil {
					return err
				}
				if err := emit(stateRow{Suppressed: sup}); err != nil {
					return err
				}
			}
			for _, c := range contacts {
				sup, err := s.Contacts.Suppressed(ctx, c)
				if err != nil {
					return err
				}
				if err := emit(stateRow{ContactID: c.ID, OptedOut: c.OptedOut, Restricted: c.Restricted,
					Objected: c.Objected, Suppressed: sup}); err != nil {
					return err
				}
			}
			return nil
		}},
		{"drafts", draftHeader, func(ctx context.Context, emit func(row) error) error {
			if len(contacts) == 0 {
				return nil
			}
			return s.eachCampaign(ctx, func(camp campaign.Campaign) error {
				for _, c := range contacts {
					d, err := s.Campaigns.DraftOf(ctx, camp.ID, c.ID)
					if errors.Is(err, store.ErrNotFound) {
						continue
					}
					if err != nil {
						return err
					}
					if err := emit(draftRow(d)); err != nil {
						return err
					}
				}
				return nil
			})
		}},
		{"audit", auditHeader, func(ctx context.Context, emit func(row) error) error {
			if len(ids) == 0 {
				return nil
			}
			return s.eachAudit(ctx, func(e audit.Entry) error {
				if !ids[e.Target] {
					return nil
				}
				return emit(auditRow(e))
			})
		}},
	}
}

// workspaceCollections are the collections of a workspace archive: every
// contact, campaign, draft and audit entry of the tenant.
func (s *Service) workspaceCollections() []collection {
	all := auth.Scope{All: true}
	return []collection{
		{"contacts", contactHeader, func(ctx context.Context, emit func(row) error) error {
			cursor := ""
			for {
				page, next, err := s.Contacts.List(ctx, all, cursor, pageSize)
				if err != nil {
					return err
				}
				for _, c := range page {
					if err := emit(contactRow(c)); err != nil {
						return err
					}
				}
				if cursor = next; cursor == "" {
					return nil
				}
			}
		}},
		{"campaigns", campaignHeader, func(ctx context.Context, emit func(row) error) error {
			return s.eachCampaign(ctx, func(c campaign.Campaign) error { return emit(campaignRow(c)) })
		}},
		{"drafts", draftHeader, func(ctx context.Context, emit func(row) error) error {
			return s.eachCampaign(ctx, func(c campaign.Campaign) error {
				cursor := ""
				for {
					page, next, err := s.Campaigns.Drafts(ctx, all, c.ID, cursor, pageSize)
					if err != nil {
						return err
					}
					for _, d := range page {
						if err := emit(draftRow(d)); err != nil {
							return err
						}
					}
					if cursor = next; cursor == "" {
						return nil
					}
				}
			})
		}},
		{"audit", auditHeader, func(ctx context.Context, emit func(row) error) error {
			return s.eachAudit(ctx, func(e audit.Entry) error { return emit(auditRow(e)) })
		}},
	}
}

// eachCampaign calls fn for every campaign of the tenant, a page at a time.
func (s *Service) eachCampaign(ctx context.Context, fn func(campaign.Campaign) error) error {
	cursor := ""
	for {
		page, next, err := s.Campaigns.List(ctx, cursor, pageSize)
		if err != nil {
			return err
		}
		for _, c := range page {
			if err := fn(c); err != nil {
				return err
			}
		}
		if cursor = next; cursor == "" {
			return nil
		}
	}
}

// eachAudit calls fn for every audit entry of the tenant, oldest first, a
// page at a time.
func (s *Service) eachAudit(ctx context.Context, fn func(audit.Entry) error) error {
	cursor := ""
	for {
		page, next, err := s.Audit.List(ctx, audit.Filter{Cursor: cursor, Limit: pageSize})
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if cursor = next; cursor == "" {
			return nil
		}
	}
}
