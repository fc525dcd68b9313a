package stack

import (
	"context"
	"net/http"

	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/purge"
	"github.com/alto/alto/shared/queue"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/store"
)

// Ports are the adapters a stack is assembled over. Open makes the
// embedded ones over a data folder, OpenAWS the AWS ones; Assemble builds
// the same services, API, schedules and pollers over either.
type Ports struct {
	// Store keeps every record; Keysets keeps the tenants' wrapped
	// keysets, which Master wraps and unwraps.
	Store   Store
	Keysets seal.KeysetStore
	Master  tink.AEAD
	// Blobs keeps uploaded import files and finished exports.
	Blobs blob.Store
	// AuditVault keeps the audit chains' periodic digests in write-once
	// storage (AUD-02); nil writes none.
	AuditVault audit.Vault
	// Queues carries the stack's queues (ingest.Queues, campaign.Queues,
	// jobs.Queues): the services send, the local runtime's pollers
	// receive.
	Queues Queues
	// Mailer sends e-mail. Alarms raises operational alarms; nil records
	// them in the platform's audit log and the log, as on one machine.
	Mailer notify.Mailer
	Alarms notify.Alarms
	// Expired and ExpiredMessages remove expired items and messages for
	// the hourly sweep; nil where the service forgets by itself
	// (DynamoDB's time to live, SQS's retention period).
	Expired         ItemExpiry
	ExpiredMessages MessageExpiry
	// Extra are handlers the API serves beside its routes, by path prefix
	// (the embedded blob store's signed URLs under /blob/).
	Extra map[string]http.Handler
	// Close releases what the ports hold; Stack.Close calls it. Nil if
	// there is nothing to release.
	Close func() error
}

// Store is what the services need of storage: the store port, and the
// deletion of a whole tenant's items for a workspace purge.
type Store interface {
	store.Store
	purge.TenantData
}

// Queues is the queue port both ways: producers send, the local runtime
// receives (in AWS, Lambda's event source mappings receive instead).
type Queues interface {
	queue.Sender
	queue.Consumer
}

// ItemExpiry removes up to limit expired items and returns how many it
// removed: the embedded store's stand-in for DynamoDB's TTL deletion.
type ItemExpiry interface {
	DeleteExpired(ctx context.Context, limit int) (int, error)
}

// MessageExpiry removes the messages older than their queue's retention
// and returns how many it removed: the embedded queue's stand-in for SQS's
// retention period.
type MessageExpiry interface {
	DeleteExpired(ctx context.Context) (int, error)
}

// itemsExpireThemselves is the ItemExpiry of a store whose service deletes
// expired items by itself: the sweep has nothing to do.
type itemsExpireThemselves struct{}

func (itemsExpireThemselves) DeleteExpired(context.Context, int) (int, error) { return 0, nil }

// messagesExpireThemselves is the MessageExpiry of queues whose service
// drops old messages by itself.
type messagesExpireThemselves struct{}

func (messagesExpireThemselves) DeleteExpired(context.Context) (int, error) { return 0, nil }
