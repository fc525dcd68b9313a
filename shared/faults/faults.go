// Package faults injects failures at Alto's ports, for tests that prove
// at-least-once delivery is absorbed: nothing lost, nothing applied twice
// (ING-05, PER-05, RET-09, DSR-02, PRG-02).
//
// An Injector wraps the ports of a stack (the store, the queues, the blob
// store, the keysets and the mailer: stack.Ports) and counts every call
// made through them. Armed with a call number and a Mode, it fails that
// call: before it takes effect (a failed step), after it took effect (a
// crash right after the step, whose answer is lost), or from that call on
// until Recover (the process died mid-flow and is restarted). A test runs
// a flow once clean to count its calls, then once per call and mode, and
// re-delivers or re-runs what failed, as SQS, EventBridge or a client
// would.
package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/queue"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/stack"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// ErrInjected is wrapped by every injected failure.
var ErrInjected = errors.New("faults: injected failure")

// Mode says how the armed call fails.
type Mode int

// The modes of a fault.
const (
	// Before fails the call without its effect: a step that failed.
	Before Mode = iota + 1
	// After lets the call take effect, then fails it: the process crashed
	// right after the step and its answer is lost.
	After
	// Crash fails the call and every later one, without effect, until
	// Recover: the process died at that step and is restarted.
	Crash
)

// Modes lists every mode, for tests that loop over them.
var Modes = []Mode{Before, After, Crash}

func (m Mode) String() string {
	switch m {
	case Before:
		return "fail-before"
	case After:
		return "fail-after"
	case Crash:
		return "crash"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Injector counts the calls through the ports it wrapped and fails the
// armed one. It may be used concurrently.
type Injector struct {
	mu      sync.Mutex
	calls   int
	armed   int // the call to fail, 1-based; 0 when disarmed
	mode    Mode
	fired   string // the call that failed, once it did
	crashed bool
	trace   []string
}

// Arm makes call n (counting from the last Reset, 1-based) fail in mode m.
func (in *Injector) Arm(n int, m Mode) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.armed, in.mode, in.fired = n, m, ""
}

// Reset disarms the injector, recovers it and starts counting again.
func (in *Injector) Reset() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.calls, in.armed, in.mode, in.fired, in.crashed, in.trace = 0, 0, 0, "", false, nil
}

// Recover ends a crash: later calls go through again (the restarted
// process). The armed fault stays spent.
func (in *Injector) Recover() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.crashed = false
}

// Calls returns how many calls went through the ports since Reset.
func (in *Injector) Calls() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.calls
}

// Fired returns the name and number of the call that failed ("" if none
// has yet).
func (in *Injector) Fired() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.fired
}

// Trace returns the names of the calls since Reset, in order.
func (in *Injector) Trace() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.trace...)
}

// step counts a call named name and says whether it fails, and if so
// whether only after taking effect.
func (in *Injector) step(name string) (fail, after bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.calls++
	in.trace = append(in.trace, name)
	if in.crashed {
		return true, false
	}
	if in.armed == 0 || in.calls != in.armed {
		return false, false
	}
	in.fired = fmt.Sprintf("call %d (%s), %s", in.calls, name, in.mode)
	switch in.mode {
	case After:
		return true, true
	case Crash:
		in.crashed = true
	}
	return true, false
}

// do runs f as the call name, failing it as armed.
func do[T any](in *Injector, name string, f func() (T, error)) (T, error) {
	var zero T
	fail, after := in.step(name)
	if fail && !after {
		return zero, fmt.Errorf("%s: %w", name, ErrInjected)
	}
	v, err := f()
	if fail {
		return zero, fmt.Errorf("%s (after it took effect): %w", name, ErrInjected)
	}
	return v, err
}

func do0(in *Injector, name string, f func() error) error {
	_, err := do(in, name, func() (struct{}, error) { return struct{}{}, f() })
	return err
}

// Ports returns p with its store, queues, blobs, keysets and mailer
// wrapped by in. The other ports (the master key, the sweep's expiry, the
// alarms) are left as they are. Use it as stack.Config.Ports.
func (in *Injector) Ports(p stack.Ports) stack.Ports {
	p.Store = &Store{Next: p.Store, In: in}
	p.Queues = &Queues{Next: p.Queues, In: in}
	if p.Blobs != nil {
		p.Blobs = &Blobs{Next: p.Blobs, In: in}
	}
	if p.Keysets != nil {
		p.Keysets = &Keysets{Next: p.Keysets, In: in}
	}
	if p.Mailer != nil {
		p.Mailer = &Mailer{Next: p.Mailer, In: in}
	}
	return p
}

// Store is the storage port with injected failures.
type Store struct {
	Next stack.Store
	In   *Injector
}

var _ stack.Store = (*Store)(nil)

// Get calls Next.Get unless it is the failing call.
func (s *Store) Get(ctx context.Context, k store.Key) (store.Item, error) {
	return do(s.In, "store.Get", func() (store.Item, error) { return s.Next.Get(ctx, k) })
}

// Put calls Next.Put unless it is the failing call.
func (s *Store) Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error) {
	return do(s.In, "store.Put", func() (store.Item, error) { return s.Next.Put(ctx, it, cond) })
}

// Delete calls Next.Delete unless it is the failing call.
func (s *Store) Delete(ctx context.Context, k store.Key) error {
	return do0(s.In, "store.Delete", func() error { return s.Next.Delete(ctx, k) })
}

// Query calls Next.Query unless it is the failing call.
func (s *Store) Query(ctx context.Context, q store.Query) (store.Page, error) {
	return do(s.In, "store.Query", func() (store.Page, error) { return s.Next.Query(ctx, q) })
}

// BatchPut calls Next.BatchPut unless it is the failing call.
func (s *Store) BatchPut(ctx context.Context, items []store.Item) error {
	return do0(s.In, "store.BatchPut", func() error { return s.Next.BatchPut(ctx, items) })
}

// BatchDelete calls Next.BatchDelete unless it is the failing call.
func (s *Store) BatchDelete(ctx context.Context, keys []store.Key) error {
	return do0(s.In, "store.BatchDelete", func() error { return s.Next.BatchDelete(ctx, keys) })
}

// DeleteTenant calls Next.DeleteTenant unless it is the failing call.
func (s *Store) DeleteTenant(ctx context.Context, limit int) (int, error) {
	return do(s.In, "store.DeleteTenant", func() (int, error) { return s.Next.DeleteTenant(ctx, limit) })
}

// Queues is the queue port, both ways, with injected failures.
type Queues struct {
	Next stack.Queues
	In   *Injector
}

var _ stack.Queues = (*Queues)(nil)

// Send calls Next.Send unless it is the failing call.
func (q *Queues) Send(ctx context.Context, name string, msgs []queue.Message, delay time.Duration) ([]string, error) {
	return do(q.In, "queue.Send", func() ([]string, error) { return q.Next.Send(ctx, name, msgs, delay) })
}

// Receive calls Next.Receive unless it is the failing call. Failing after
// it took effect leaves the messages received and hidden, as a lost answer
// does: they come back after their visibility timeout.
func (q *Queues) Receive(ctx context.Context, name string, max int, visibility time.Duration) ([]queue.Delivery, error) {
	return do(q.In, "queue.Receive", func() ([]queue.Delivery, error) { return q.Next.Receive(ctx, name, max, visibility) })
}

// Delete calls Next.Delete unless it is the failing call.
func (q *Queues) Delete(ctx context.Context, name, receipt string) error {
	return do0(q.In, "queue.Delete", func() error { return q.Next.Delete(ctx, name, receipt) })
}

// ChangeVisibility calls Next.ChangeVisibility unless it is the failing
// call.
func (q *Queues) ChangeVisibility(ctx context.Context, name, receipt string, d time.Duration) error {
	return do0(q.In, "queue.ChangeVisibility", func() error { return q.Next.ChangeVisibility(ctx, name, receipt, d) })
}

// Blobs is the object-storage port with injected failures.
type Blobs struct {
	Next blob.Store
	In   *Injector
}

var _ blob.Store = (*Blobs)(nil)

// Put calls Next.Put unless it is the failing call; a failure before it
// takes effect reads nothing of r.
func (b *Blobs) Put(ctx context.Context, key string, r io.Reader) (blob.Object, error) {
	return do(b.In, "blob.Put", func() (blob.Object, error) { return b.Next.Put(ctx, key, r) })
}

// Get calls Next.Get unless it is the failing call.
func (b *Blobs) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	return do(b.In, "blob.Get", func() (io.ReadCloser, error) { return b.Next.Get(ctx, key) })
}

// Delete calls Next.Delete unless it is the failing call.
func (b *Blobs) Delete(ctx context.Context, key string) error {
	return do0(b.In, "blob.Delete", func() error { return b.Next.Delete(ctx, key) })
}

// List calls Next.List unless it is the failing call.
func (b *Blobs) List(ctx context.Context, prefix, cursor string, limit int) (blob.Page, error) {
	return do(b.In, "blob.List", func() (blob.Page, error) { return b.Next.List(ctx, prefix, cursor, limit) })
}

// SignURL calls Next.SignURL unless it is the failing call.
func (b *Blobs) SignURL(ctx context.Context, method, key string, ttl time.Duration) (string, error) {
	return do(b.In, "blob.SignURL", func() (string, error) { return b.Next.SignURL(ctx, method, key, ttl) })
}

// Keysets is the store of the tenants' wrapped keysets with injected
// failures.
type Keysets struct {
	Next seal.KeysetStore
	In   *Injector
}

var _ seal.KeysetStore = (*Keysets)(nil)

// Get calls Next.Get unless it is the failing call.
func (k *Keysets) Get(ctx context.Context, org tenant.ID) ([]byte, error) {
	return do(k.In, "keysets.Get", func() ([]byte, error) { return k.Next.Get(ctx, org) })
}

// Create calls Next.Create unless it is the failing call.
func (k *Keysets) Create(ctx context.Context, org tenant.ID, wrapped []byte) error {
	return do0(k.In, "keysets.Create", func() error { return k.Next.Create(ctx, org, wrapped) })
}

// Destroy calls Next.Destroy unless it is the failing call.
func (k *Keysets) Destroy(ctx context.Context, org tenant.ID) error {
	return do0(k.In, "keysets.Destroy", func() error { return k.Next.Destroy(ctx, org) })
}

// Mailer is the mail port with injected failures.
type Mailer struct {
	Next notify.Mailer
	In   *Injector
}

var _ notify.Mailer = (*Mailer)(nil)

// Send calls Next.Send unless it is the failing call.
func (m *Mailer) Send(ctx context.Context, e notify.Email) error {
	return do0(m.In, "mail.Send", func() error { return m.Next.Send(ctx, e) })
}
