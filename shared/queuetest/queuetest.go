// Package queuetest checks that a queue adapter honours the contract of
// package queue (queue.Sender and queue.Consumer). Every adapter's tests run
// it:
//
//	func TestQueue(t *testing.T) {
//		queuetest.Run(t, func(t *testing.T, cfgs []queue.Config) queuetest.Harness {
//			return queuetest.Harness{Queues: newQueues(t, cfgs), Now: clock.Now, Advance: clock.Advance}
//		})
//	}
package queuetest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alto/alto/shared/queue"
)

// Queues is what the suite checks: a sender and consumer over the same
// queues.
type Queues interface {
	queue.Sender
	queue.Consumer
}

// Harness is one set of empty queues under test and the clock they read.
type Harness struct {
	Queues Queues
	// Now returns the time the queues read; nil means time.Now.
	Now func() time.Time
	// Advance moves the queues' clock forward by d. Nil means the clock
	// cannot be controlled: subtests that wait for time to pass are skipped.
	Advance func(d time.Duration)
	// Reopen closes the storage under Queues, opens it again with the same
	// configs and clock, and returns the queues over it. Nil means there is
	// no storage to reopen: the restart subtest is skipped.
	Reopen func() Queues
}

// The queues of the suite, passed to every harness.
const (
	work       = "work"     // no dead-letter queue
	jobs       = "jobs"     // moves a message to deadJobs after 2 receives
	deadJobs   = "jobs-dlq" // the dead-letter queue of jobs
	visibility = 30 * time.Second
	retention  = time.Hour
)

var configs = []queue.Config{
	{Name: work, Retention: retention, Visibility: visibility},
	{Name: jobs, Retention: retention, Visibility: visibility, MaxReceives: 2, DeadLetter: deadJobs},
	{Name: deadJobs, Retention: 4 * 24 * time.Hour, Visibility: visibility},
}

// needs says what a subtest needs of the harness beyond Queues.
type needs int

const (
	clock  needs = 1 << iota // Advance
	reopen                   // Reopen
)

// Run runs the contract suite as subtests of t. newHarness is called once
// per subtest with the configs of the queues to create, which must be empty.
func Run(t *testing.T, newHarness func(t *testing.T, cfgs []queue.Config) Harness) {
	tests := []struct {
		name  string
		run   func(t *testing.T, h Harness)
		needs needs
	}{
		{name: "SendReceiveDelete", run: testSendReceiveDelete},
		{name: "Attributes", run: testAttributes},
		{name: "ReceiveMax", run: testReceiveMax},
		{name: "VisibilityTimeout", run: testVisibilityTimeout, needs: clock},
		{name: "StaleReceipt", run: testStaleReceipt},
		{name: "ChangeVisibilityZero", run: testChangeVisibilityZero},
		{name: "ChangeVisibilityLonger", run: testChangeVisibilityLonger, needs: clock},
		{name: "Delay", run: testDelay, needs: clock},
		{name: "DeadLetter", run: testDeadLetter},
		{name: "Retention", run: testRetention, needs: clock},
		{name: "Limits", run: testLimits},
		{name: "UnknownQueue", run: testUnknownQueue},
		{name: "Restart", run: testRestart, needs: clock | reopen},
		{name: "ConcurrentReceivers", run: testConcurrentReceivers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, slices.Clone(configs))
			if tt.needs&clock != 0 && h.Advance == nil {
				t.Skip("the queues' clock cannot be advanced")
			}
			if tt.needs&reopen != 0 && h.Reopen == nil {
				t.Skip("the queues cannot be reopened")
			}
			if h.Now == nil {
				h.Now = time.Now
			}
			tt.run(t, h)
		})
	}
}

func testSendReceiveDelete(t *testing.T, h Harness) {
	ids := send(t, h.Queues, work, 0, "a", "b", "c")
	if len(ids) != 3 || len(unique(ids)) != 3 || slices.Contains(ids, "") {
		t.Fatalf("Send returned IDs %q, want 3 distinct ones", ids)
	}
	ds := receive(t, h.Queues, work, 10, 0)
	checkBodies(t, "Receive", ds, "a", "b", "c")
	if len(ds) == 0 {
		t.FailNow()
	}
	now := h.Now()
	for _, d := range ds {
		if d.Receives != 1 {
			t.Errorf("message %s: Receives = %d, want 1", d.Body, d.Receives)
		}
		if d.Receipt == "" {
			t.Errorf("message %s: empty Receipt", d.Body)
		}
		if d.SentAt.Before(now.Add(-time.Minute)) || d.SentAt.After(now.Add(time.Minute)) {
			t.Errorf("message %s: SentAt = %v, want about %v", d.Body, d.SentAt, now)
		}
	}
	if !slices.Equal(unique(idsOf(ds)), unique(ids)) {
		t.Errorf("received IDs %q, want the sent IDs %q", idsOf(ds), ids)
	}
	for _, d := range ds {
		if err := h.Queues.Delete(t.Context(), work, d.Receipt); err != nil {
			t.Errorf("Delete(%s): %v", d.Body, err)
		}
	}
	if err := h.Queues.Delete(t.Context(), work, ds[0].Receipt); !errors.Is(err, queue.ErrReceiptNotFound) {
		t.Errorf("second Delete: error = %v, want ErrReceiptNotFound", err)
	}
	if h.Advance != nil {
		h.Advance(2 * visibility)
	}
	checkBodies(t, "Receive after Delete", receive(t, h.Queues, work, 10, 0))
}

func testAttributes(t *testing.T, h Harness) {
	msgs := []queue.Message{
		{Body: []byte("with"), Attributes: map[string]string{"tenant": "acme", "kind": "export", "ünï": "cödé", "empty": ""}},
		{Body: []byte("without")},
	}
	if _, err := h.Queues.Send(t.Context(), work, msgs, 0); err != nil {
		t.Fatalf("Send: %v", err)
	}
	for _, d := range receive(t, h.Queues, work, 10, 0) {
		for _, m := range msgs {
			if string(m.Body) == string(d.Body) && !maps.Equal(d.Attributes, m.Attributes) {
				t.Errorf("message %s: Attributes = %q, want %q", d.Body, d.Attributes, m.Attributes)
			}
		}
	}
}

func testReceiveMax(t *testing.T, h Harness) {
	var want []string
	for i := range 15 {
		want = append(want, fmt.Sprint(i))
	}
	send(t, h.Queues, work, 0, want[:10]...)
	send(t, h.Queues, work, 0, want[10:]...)
	var got []queue.Delivery
	for _, max := range []int{3, 10, 10} {
		ds := receive(t, h.Queues, work, max, 0)
		if len(ds) > max {
			t.Errorf("Receive(max %d) returned %d messages", max, len(ds))
		}
		got = append(got, ds...)
	}
	checkBodies(t, "all receives", got, want...)
}

func testVisibilityTimeout(t *testing.T, h Harness) {
	send(t, h.Queues, work, 0, "m")
	first := receiveOne(t, h.Queues, work, 0)
	checkBodies(t, "Receive while hidden", receive(t, h.Queues, work, 10, 0))
	h.Advance(visibility - time.Second)
	checkBodies(t, "Receive just before the timeout", receive(t, h.Queues, work, 10, 0))
	h.Advance(2 * time.Second)
	again := receiveOne(t, h.Queues, work, 0)
	if again.ID != first.ID || again.Receives != 2 || again.Receipt == first.Receipt {
		t.Errorf("redelivery = ID %s, Receives %d, Receipt %s; want ID %s, Receives 2, a new Receipt",
			again.ID, again.Receives, again.Receipt, first.ID)
	}

	// A visibility given to Receive overrides the queue's.
	h.Advance(visibility + time.Second)
	receiveOne(t, h.Queues, work, 3*visibility)
	h.Advance(2 * visibility)
	checkBodies(t, "Receive within a longer visibility", receive(t, h.Queues, work, 10, 0))
	h.Advance(visibility + time.Second)
	checkBodies(t, "Receive after a longer visibility", receive(t, h.Queues, work, 10, 0), "m")
}

func testStaleReceipt(t *testing.T, h Harness) {
	send(t, h.Queues, work, 0, "m")
	first := receiveOne(t, h.Queues, work, 0)
	changeVisibility(t, h.Queues, work, first.Receipt, 0)
	second := receiveOne(t, h.Queues, work, 0)
	ctx := t.Context()
	if err := h.Queues.Delete(ctx, work, first.Receipt); !errors.Is(err, queue.ErrReceiptNotFound) {
		t.Errorf("Delete with a stale receipt: error = %v, want ErrReceiptNotFound", err)
	}
	if err := h.Queues.ChangeVisibility(ctx, work, first.Receipt, 0); !errors.Is(err, queue.ErrReceiptNotFound) {
		t.Errorf("ChangeVisibility with a stale receipt: error = %v, want ErrReceiptNotFound", err)
	}
	for _, r := range []string{"", "nonsense", strings.Repeat("0", len(second.Receipt))} {
		if err := h.Queues.Delete(ctx, work, r); !errors.Is(err, queue.ErrReceiptNotFound) {
			t.Errorf("Delete with receipt %q: error = %v, want ErrReceiptNotFound", r, err)
		}
	}
	if err := h.Queues.Delete(ctx, work, second.Receipt); err != nil {
		t.Errorf("Delete with the current receipt: %v", err)
	}
}

func testChangeVisibilityZero(t *testing.T, h Harness) {
	send(t, h.Queues, work, 0, "m")
	d := receiveOne(t, h.Queues, work, 0)
	changeVisibility(t, h.Queues, work, d.Receipt, 0)
	if again := receiveOne(t, h.Queues, work, 0); again.Receives != 2 {
		t.Errorf("Receive after ChangeVisibility 0: Receives = %d, want 2", again.Receives)
	}
}

func testChangeVisibilityLonger(t *testing.T, h Harness) {
	send(t, h.Queues, work, 0, "m")
	d := receiveOne(t, h.Queues, work, 0)
	changeVisibility(t, h.Queues, work, d.Receipt, 10*time.Minute)
	h.Advance(visibility + time.Second)
	checkBodies(t, "Receive after the queue's visibility", receive(t, h.Queues, work, 10, 0))
	h.Advance(10*time.Minute - visibility)
	again := receiveOne(t, h.Queues, work, 0)
	changeVisibility(t, h.Queues, work, again.Receipt, 10*time.Minute)
	// The receipt stays valid after ChangeVisibility.
	if err := h.Queues.Delete(t.Context(), work, again.Receipt); err != nil {
		t.Errorf("Delete after ChangeVisibility: %v", err)
	}
}

func testDelay(t *testing.T, h Harness) {
	send(t, h.Queues, work, 10*time.Second, "late")
	send(t, h.Queues, work, 0, "now")
	checkBodies(t, "Receive at once", receive(t, h.Queues, work, 10, 0), "now")
	h.Advance(9 * time.Second)
	checkBodies(t, "Receive before the delay", receive(t, h.Queues, work, 10, 0))
	h.Advance(2 * time.Second)
	checkBodies(t, "Receive after the delay", receive(t, h.Queues, work, 10, 0), "late")
}

func testDeadLetter(t *testing.T, h Harness) {
	msg := queue.Message{Body: []byte("poison"), Attributes: map[string]string{"tenant": "acme"}}
	if _, err := h.Queues.Send(t.Context(), jobs, []queue.Message{msg}, 0); err != nil {
		t.Fatalf("Send: %v", err)
	}
	var last queue.Delivery
	for i := 1; i <= 2; i++ {
		last = receiveOne(t, h.Queues, jobs, 0)
		if last.Receives != i {
			t.Errorf("receive %d: Receives = %d", i, last.Receives)
		}
		changeVisibility(t, h.Queues, jobs, last.Receipt, 0)
	}
	checkBodies(t, "third Receive from the source", receive(t, h.Queues, jobs, 10, 0))
	dead := receiveOne(t, h.Queues, deadJobs, 0)
	if string(dead.Body) != "poison" || !maps.Equal(dead.Attributes, msg.Attributes) {
		t.Errorf("dead letter = body %q attributes %q, want %q and %q", dead.Body, dead.Attributes, msg.Body, msg.Attributes)
	}
	if h.Advance != nil {
		h.Advance(2 * visibility)
	}
	checkBodies(t, "Receive from the source after the move", receive(t, h.Queues, jobs, 10, 0))
	if err := h.Queues.Delete(t.Context(), jobs, last.Receipt); !errors.Is(err, queue.ErrReceiptNotFound) {
		t.Errorf("Delete from the source after the move: error = %v, want ErrReceiptNotFound", err)
	}
	if err := h.Queues.Delete(t.Context(), deadJobs, dead.Receipt); err != nil {
		t.Errorf("Delete from the dead-letter queue: %v", err)
	}
}

func testRetention(t *testing.T, h Harness) {
	send(t, h.Queues, work, 0, "waiting", "in flight")
	receive(t, h.Queues, work, 1, 0)
	h.Advance(retention / 2)
	send(t, h.Queues, work, 0, "younger")
	h.Advance(retention/2 + time.Second)
	checkBodies(t, "Receive after the retention", receive(t, h.Queues, work, 10, 0), "younger")
}

func testLimits(t *testing.T, h Harness) {
	ctx := t.Context()
	tooMany := make([]queue.Message, queue.MaxBatch+1)
	for i := range tooMany {
		tooMany[i].Body = []byte("m")
	}
	if _, err := h.Queues.Send(ctx, work, tooMany, 0); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("Send of %d messages: err = %v, want ErrInvalid", len(tooMany), err)
	}
	if _, err := h.Queues.Send(ctx, work, tooMany[:1], queue.MaxDelay+time.Second); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("Send with a delay over MaxDelay: err = %v, want ErrInvalid", err)
	}
	if _, err := h.Queues.Receive(ctx, work, queue.MaxBatch+1, 0); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("Receive of %d: err = %v, want ErrInvalid", queue.MaxBatch+1, err)
	}

	small := queue.Message{Body: []byte("small")}
	tests := []struct {
		name string
		big  queue.Message
	}{
		{"body", queue.Message{Body: text(queue.MaxMessageSize + 1)}},
		{"body and attributes", queue.Message{
			Body:       text(queue.MaxMessageSize - 100),
			Attributes: map[string]string{"a": strings.Repeat("v", 200)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := h.Queues.Send(ctx, work, []queue.Message{small, tt.big}, 0); !errors.Is(err, queue.ErrTooLarge) {
				t.Errorf("Send error = %v, want ErrTooLarge", err)
			}
		})
	}
	checkBodies(t, "Receive after rejected sends", receive(t, h.Queues, work, 10, 0))

	fits := queue.Message{Body: text(queue.MaxMessageSize / 2), Attributes: map[string]string{"a": "b"}}
	if _, err := h.Queues.Send(ctx, work, []queue.Message{fits}, 0); err != nil {
		t.Errorf("Send of a message of half the limit: %v", err)
	}
}

func testUnknownQueue(t *testing.T, h Harness) {
	ctx, q := t.Context(), "no-such-queue"
	tests := []struct {
		name string
		op   func() error
	}{
		{"Send", func() error {
			_, err := h.Queues.Send(ctx, q, []queue.Message{{Body: []byte("m")}}, 0)
			return err
		}},
		{"Receive", func() error { _, err := h.Queues.Receive(ctx, q, 1, 0); return err }},
		{"Delete", func() error { return h.Queues.Delete(ctx, q, "receipt") }},
		{"ChangeVisibility", func() error { return h.Queues.ChangeVisibility(ctx, q, "receipt", 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); !errors.Is(err, queue.ErrNoQueue) {
				t.Errorf("error = %v, want ErrNoQueue", err)
			}
		})
	}
}

// testRestart checks durability: after a restart, in-flight messages come
// back after their visibility timeout, receipts still work, and nothing is
// lost or delivered after its deletion.
func testRestart(t *testing.T, h Harness) {
	send(t, h.Queues, work, 0, "m0", "m1", "m2", "m3", "m4")
	inFlight := receive(t, h.Queues, work, 3, 0)
	if len(inFlight) != 3 {
		t.Fatalf("Receive(max 3) returned %d messages", len(inFlight))
	}
	deleteAll(t, h.Queues, work, inFlight[0])

	q := h.Reopen()
	fresh := receive(t, q, work, 10, 0)
	checkBodies(t, "Receive after the restart", fresh, missing(bodies(inFlight), "m0", "m1", "m2", "m3", "m4")...)
	deleteAll(t, q, work, fresh...)
	deleteAll(t, q, work, inFlight[1]) // a receipt from before the restart
	if err := q.Delete(t.Context(), work, inFlight[0].Receipt); !errors.Is(err, queue.ErrReceiptNotFound) {
		t.Errorf("Delete of a message deleted before the restart: error = %v, want ErrReceiptNotFound", err)
	}

	h.Advance(visibility + time.Second)
	back := receiveOne(t, q, work, 0)
	if back.ID != inFlight[2].ID || back.Receives != 2 {
		t.Errorf("after the timeout: message %s with Receives %d, want %s with 2", back.Body, back.Receives, inFlight[2].Body)
	}
	deleteAll(t, q, work, back)
	h.Advance(visibility + time.Second)
	checkBodies(t, "Receive at the end", receive(t, q, work, 10, 0))
}

// testConcurrentReceivers checks that a message goes to one receiver at a
// time: every message is delivered exactly once when each is deleted right
// after it is received.
func testConcurrentReceivers(t *testing.T, h Harness) {
	const n, receivers = 200, 4
	var want []string
	for i := range n {
		want = append(want, fmt.Sprint(i))
	}
	for batch := range slices.Chunk(want, queue.MaxBatch) {
		send(t, h.Queues, work, 0, batch...)
	}

	var mu sync.Mutex
	var got []queue.Delivery
	var wg sync.WaitGroup
	for range receivers {
		wg.Go(func() {
			// An empty receive may be a sampling artefact of a remote queue:
			// stop after a few in a row, or once all are in.
			for empty := 0; empty < 3; {
				ds, err := h.Queues.Receive(t.Context(), work, queue.MaxBatch, 10*time.Minute)
				if err != nil {
					t.Errorf("Receive: %v", err)
					return
				}
				for _, d := range ds {
					if err := h.Queues.Delete(t.Context(), work, d.Receipt); err != nil {
						t.Errorf("Delete(%s): %v", d.Body, err)
					}
				}
				mu.Lock()
				got = append(got, ds...)
				done := len(got) >= n
				mu.Unlock()
				if done {
					return
				}
				if len(ds) == 0 {
					empty++
				} else {
					empty = 0
				}
			}
		})
	}
	wg.Wait()
	checkBodies(t, "all receivers", got, want...)
}

func send(t *testing.T, q Queues, name string, delay time.Duration, bodies ...string) []string {
	t.Helper()
	msgs := make([]queue.Message, len(bodies))
	for i, b := range bodies {
		msgs[i].Body = []byte(b)
	}
	ids, err := q.Send(t.Context(), name, msgs, delay)
	if err != nil {
		t.Fatalf("Send to %s: %v", name, err)
	}
	return ids
}

func receive(t *testing.T, q Queues, name string, max int, visibility time.Duration) []queue.Delivery {
	t.Helper()
	ds, err := q.Receive(t.Context(), name, max, visibility)
	if err != nil {
		t.Fatalf("Receive from %s: %v", name, err)
	}
	return ds
}

// receiveOne receives from the named queue and requires exactly one message.
func receiveOne(t *testing.T, q Queues, name string, visibility time.Duration) queue.Delivery {
	t.Helper()
	ds := receive(t, q, name, 10, visibility)
	if len(ds) != 1 {
		t.Fatalf("Receive from %s returned %q, want one message", name, bodies(ds))
	}
	return ds[0]
}

func changeVisibility(t *testing.T, q Queues, name, receipt string, d time.Duration) {
	t.Helper()
	if err := q.ChangeVisibility(t.Context(), name, receipt, d); err != nil {
		t.Fatalf("ChangeVisibility in %s: %v", name, err)
	}
}

func deleteAll(t *testing.T, q Queues, name string, ds ...queue.Delivery) {
	t.Helper()
	for _, d := range ds {
		if err := q.Delete(t.Context(), name, d.Receipt); err != nil {
			t.Errorf("Delete(%s) from %s: %v", d.Body, name, err)
		}
	}
}

// text returns a body of n bytes of text (SQS takes no binary bodies).
func text(n int) []byte { return bytes.Repeat([]byte("x"), n) }

func bodies(ds []queue.Delivery) []string {
	var bs []string
	for _, d := range ds {
		bs = append(bs, string(d.Body))
	}
	return bs
}

func idsOf(ds []queue.Delivery) []string {
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

// unique returns the distinct strings of s, sorted.
func unique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// missing returns the strings of all that are not in some.
func missing(some []string, all ...string) []string {
	var out []string
	for _, s := range all {
		if !slices.Contains(some, s) {
			out = append(out, s)
		}
	}
	return out
}

// checkBodies checks that ds carry exactly the bodies of want, each once, in
// any order.
func checkBodies(t *testing.T, op string, ds []queue.Delivery, want ...string) {
	t.Helper()
	got := bodies(ds)
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: bodies %q, want %q", op, got, want)
	}
}
