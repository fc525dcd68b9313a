package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/tenant"
)

// AlarmType is the audit entry type of a raised alarm.
const AlarmType = "alarm.raised"

// AuditLog is the part of the audit log Alarms needs.
type AuditLog interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
}

// Alarms is the one-machine notify.Alarms: each alarm becomes an entry of
// type AlarmType in the platform's audit log (its name in Target, its
// detail as the entry's detail) and an error-level log line. It may be used
// concurrently.
type Alarms struct {
	audit AuditLog
	log   *slog.Logger
}

var _ notify.Alarms = (*Alarms)(nil)

// NewAlarms returns Alarms recording into log and logging to logger (nil
// discards log lines).
func NewAlarms(log AuditLog, logger *slog.Logger) *Alarms {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Alarms{audit: log, log: logger}
}

// Raise records a. Returns an error wrapping notify.ErrInvalid if a has no
// name, a name with spaces or control characters, or an empty detail key;
// otherwise the audit log's error, if any.
func (a *Alarms) Raise(ctx context.Context, al notify.Alarm) error {
	if al.Name == "" || len(al.Name) > 128 || strings.IndexFunc(al.Name, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return fmt.Errorf("outbox: raise alarm: %w: name must be 1-128 characters without spaces", notify.ErrInvalid)
	}
	for k := range al.Detail {
		if k == "" {
			return fmt.Errorf("outbox: raise alarm %s: %w: empty detail key", al.Name, notify.ErrInvalid)
		}
	}
	_, err := a.audit.Append(tenant.WithPlatform(ctx), audit.Entry{Type: AlarmType, Actor: "system",
		Target: al.Name, Detail: maps.Clone(al.Detail)})
	if err != nil {
		return fmt.Errorf("outbox: raise alarm %s: %w", al.Name, err)
	}
	args := []any{"alarm", al.Name}
	for k, v := range al.Detail {
		args = append(args, "detail."+k, v)
	}
	a.log.ErrorContext(ctx, "alarm raised", args...)
	return nil
}
