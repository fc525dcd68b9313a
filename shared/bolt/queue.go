package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.etcd.io/bbolt"

	"github.com/alto/alto/shared/queue"
)

// Buckets of the queues: queuesBucket holds one bucket per queue, and each
// of those holds
//
//	body:    id → attributes and body, written once
//	state:   id → visible-at, receives, receipt nonce
//	visible: visible-at, id → nothing: the order of delivery
//
// An id is the send time in Unix nanoseconds and a sequence number shared by
// all queues, 8 bytes each: ids sort by send time, so retention is applied
// from the front of the state bucket, and a message keeps its id when it
// moves to its dead-letter queue.
var (
	queuesBucket  = []byte("queues")
	bodyBucket    = []byte("body")
	stateBucket   = []byte("state")
	visibleBucket = []byte("visible")
)

// Queue defaults and limits, as in SQS.
const (
	defaultRetention  = 4 * 24 * time.Hour
	defaultVisibility = 30 * time.Second
	maxVisibility     = queue.MaxVisibility
)

const idLen = 16

// Queue is the queue.Sender and queue.Consumer of a DB over the queues it
// was made with. Messages are durable: they survive Close and Open, in
// flight or not. A Queue may be used concurrently; Receive hands a message
// to one caller per visibility window.
type Queue struct {
	db   *bbolt.DB
	now  func() time.Time
	cfgs map[string]queue.Config
}

var (
	_ queue.Sender   = (*Queue)(nil)
	_ queue.Consumer = (*Queue)(nil)
)

// Queues returns the queues cfgs describe, creating their buckets if needed.
// A zero Retention means 4 days and a zero Visibility 30 seconds, as in SQS.
// Returns an error if a config is malformed or names a dead-letter queue
// that is not among cfgs.
func (db *DB) Queues(cfgs ...queue.Config) (*Queue, error) {
	q := &Queue{db: db.db, now: db.now, cfgs: make(map[string]queue.Config, len(cfgs))}
	for _, c := range cfgs {
		if c.Retention == 0 {
			c.Retention = defaultRetention
		}
		if c.Visibility == 0 {
			c.Visibility = defaultVisibility
		}
		if err := checkConfig(c); err != nil {
			return nil, fmt.Errorf("bolt: queues: %w", err)
		}
		if _, dup := q.cfgs[c.Name]; dup {
			return nil, fmt.Errorf("bolt: queues: queue %s configured twice", c.Name)
		}
		q.cfgs[c.Name] = c
	}
	for _, c := range q.cfgs {
		if _, ok := q.cfgs[c.DeadLetter]; c.DeadLetter != "" && (!ok || c.DeadLetter == c.Name) {
			return nil, fmt.Errorf("bolt: queues: queue %s: dead-letter queue %s is not another configured queue", c.Name, c.DeadLetter)
		}
	}
	err := db.db.Update(func(tx *bbolt.Tx) error {
		for name := range q.cfgs {
			b, err := tx.Bucket(queuesBucket).CreateBucketIfNotExists([]byte(name))
			if err != nil {
				return err
			}
			for _, sub := range [][]byte{bodyBucket, stateBucket, visibleBucket} {
				if _, err := b.CreateBucketIfNotExists(sub); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: queues: %w", err)
	}
	return q, nil
}

func checkConfig(c queue.Config) error {
	switch {
	case c.Name == "":
		return errors.New("a queue has no name")
	case c.Retention < 0:
		return fmt.Errorf("queue %s: negative retention", c.Name)
	case c.Visibility < 0 || c.Visibility > maxVisibility:
		return fmt.Errorf("queue %s: visibility %v, want 0 to %v", c.Name, c.Visibility, maxVisibility)
	case c.MaxReceives < 0:
		return fmt.Errorf("queue %s: negative max receives", c.Name)
	case c.MaxReceives > 0 && c.DeadLetter == "":
		return fmt.Errorf("queue %s: max receives without a dead-letter queue", c.Name)
	}
	return nil
}

// Send puts up to queue.MaxBatch messages on the named queue, each delivered
// no earlier than delay (0 to queue.MaxDelay) from now, and returns their
// IDs in order. Returns queue.ErrNoQueue for an unknown queue and
// queue.ErrTooLarge if a message exceeds queue.MaxMessageSize; it checks
// everything before sending anything.
func (q *Queue) Send(ctx context.Context, name string, msgs []queue.Message, delay time.Duration) ([]string, error) {
	if _, ok := q.cfgs[name]; !ok {
		return nil, fmt.Errorf("bolt: send to %s: %w", name, queue.ErrNoQueue)
	}
	if len(msgs) > queue.MaxBatch {
		return nil, fmt.Errorf("bolt: send to %s: %d messages, want at most %d: %w", name, len(msgs), queue.MaxBatch, queue.ErrInvalid)
	}
	for i, m := range msgs {
		if n := size(m); n > queue.MaxMessageSize {
			return nil, fmt.Errorf("bolt: send to %s: message %d is %d bytes, want at most %d: %w", name, i, n, queue.MaxMessageSize, queue.ErrTooLarge)
		}
	}
	if delay < 0 || delay > queue.MaxDelay {
		return nil, fmt.Errorf("bolt: send to %s: delay %v, want 0 to %v: %w", name, delay, queue.MaxDelay, queue.ErrInvalid)
	}
	ids := make([]string, len(msgs))
	err := q.db.Update(func(tx *bbolt.Tx) error {
		x, now := queueOf(tx, name), q.now()
		for i, m := range msgs {
			seq, err := tx.Bucket(queuesBucket).NextSequence()
			if err != nil {
				return err
			}
			id := newID(now, seq)
			if err := x.add(id, encodeMessage(m), state{visibleAt: now.Add(delay).UnixNano()}); err != nil {
				return err
			}
			ids[i] = hex.EncodeToString(id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: send to %s: %w", name, err)
	}
	return ids, nil
}

// Receive returns up to max (1 to queue.MaxBatch) visible messages of the
// named queue, oldest visible first, and hides each for visibility (the
// queue's default if zero, at most 12 hours). On the way it drops messages
// older than the queue's retention and moves to the dead-letter queue those
// already received MaxReceives times. It does not wait. Returns
// queue.ErrNoQueue for an unknown queue.
func (q *Queue) Receive(ctx context.Context, name string, max int, visibility time.Duration) ([]queue.Delivery, error) {
	cfg, ok := q.cfgs[name]
	if !ok {
		return nil, fmt.Errorf("bolt: receive from %s: %w", name, queue.ErrNoQueue)
	}
	if max < 1 || max > queue.MaxBatch {
		return nil, fmt.Errorf("bolt: receive from %s: max %d, want 1 to %d: %w", name, max, queue.MaxBatch, queue.ErrInvalid)
	}
	if visibility < 0 || visibility > maxVisibility {
		return nil, fmt.Errorf("bolt: receive from %s: visibility %v, want 0 to %v: %w", name, visibility, maxVisibility, queue.ErrInvalid)
	}
	if visibility == 0 {
		visibility = cfg.Visibility
	}
	// A manual transaction, so that polling an idle queue writes nothing.
	tx, err := q.db.Begin(true)
	if err != nil {
		return nil, fmt.Errorf("bolt: receive from %s: %w", name, err)
	}
	defer tx.Rollback()
	ds, changed, err := q.receive(tx, cfg, max, visibility)
	if err == nil && changed {
		err = tx.Commit()
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: receive from %s: %w", name, err)
	}
	return ds, nil
}

// pending is a message found visible by receive.
type pending struct {
	id []byte
	st state
}

// receive does the work of Receive in tx and reports whether it changed
// anything.
func (q *Queue) receive(tx *bbolt.Tx, cfg queue.Config, max int, visibility time.Duration) ([]queue.Delivery, bool, error) {
	x, now := queueOf(tx, cfg.Name), q.now()
	var deliver, expired, dead []pending
	c := x.visible.Cursor()
	for k, _ := c.First(); k != nil && len(deliver) < max && int64(binary.BigEndian.Uint64(k)) <= now.UnixNano(); k, _ = c.Next() {
		id := bytes.Clone(k[8:])
		st, err := x.state(id)
		if err != nil {
			return nil, false, err
		}
		m := pending{id, st}
		switch {
		case now.Sub(sentAt(id)) > cfg.Retention:
			expired = append(expired, m)
		case cfg.MaxReceives > 0 && int(st.receives) >= cfg.MaxReceives:
			dead = append(dead, m)
		default:
			deliver = append(deliver, m)
		}
	}
	for _, m := range expired {
		if err := x.remove(m.id, m.st); err != nil {
			return nil, false, err
		}
	}
	for _, m := range dead {
		body := bytes.Clone(x.bodies.Get(m.id))
		if err := x.remove(m.id, m.st); err != nil {
			return nil, false, err
		}
		if err := queueOf(tx, cfg.DeadLetter).add(m.id, body, state{visibleAt: now.UnixNano()}); err != nil {
			return nil, false, err
		}
	}
	ds := make([]queue.Delivery, 0, len(deliver))
	for _, m := range deliver {
		st := state{visibleAt: now.Add(visibility).UnixNano(), receives: m.st.receives + 1, nonce: rand.Uint64()}
		if err := x.update(m.id, m.st, st); err != nil {
			return nil, false, err
		}
		msg, err := decodeMessage(x.bodies.Get(m.id))
		if err != nil {
			return nil, false, err
		}
		ds = append(ds, queue.Delivery{
			ID:         hex.EncodeToString(m.id),
			Body:       msg.Body,
			Attributes: msg.Attributes,
			Receipt:    receiptOf(m.id, st),
			Receives:   int(st.receives),
			SentAt:     sentAt(m.id),
		})
	}
	return ds, len(deliver)+len(expired)+len(dead) > 0, nil
}

// Delete removes a received message from the named queue. Returns
// queue.ErrReceiptNotFound if the receipt is unknown or stale (the message
// was received again since, or deleted), and queue.ErrNoQueue for an unknown
// queue.
func (q *Queue) Delete(ctx context.Context, name, receipt string) error {
	if _, ok := q.cfgs[name]; !ok {
		return fmt.Errorf("bolt: delete from %s: %w", name, queue.ErrNoQueue)
	}
	err := q.db.Update(func(tx *bbolt.Tx) error {
		x := queueOf(tx, name)
		id, st, err := x.byReceipt(receipt)
		if err != nil {
			return err
		}
		return x.remove(id, st)
	})
	if err != nil {
		return fmt.Errorf("bolt: delete from %s: %w", name, err)
	}
	return nil
}

// ChangeVisibility hides a received message of the named queue for d (0 to
// 12 hours) from now; 0 makes it visible at once. The receipt stays valid
// until the next receive. Returns queue.ErrReceiptNotFound if the receipt is
// unknown or stale, and queue.ErrNoQueue for an unknown queue.
func (q *Queue) ChangeVisibility(ctx context.Context, name, receipt string, d time.Duration) error {
	if _, ok := q.cfgs[name]; !ok {
		return fmt.Errorf("bolt: change visibility in %s: %w", name, queue.ErrNoQueue)
	}
	if d < 0 || d > maxVisibility {
		return fmt.Errorf("bolt: change visibility in %s: %v, want 0 to %v: %w", name, d, maxVisibility, queue.ErrInvalid)
	}
	err := q.db.Update(func(tx *bbolt.Tx) error {
		x := queueOf(tx, name)
		id, st, err := x.byReceipt(receipt)
		if err != nil {
			return err
		}
		next := st
		next.visibleAt = q.now().Add(d).UnixNano()
		return x.update(id, st, next)
	})
	if err != nil {
		return fmt.Errorf("bolt: change visibility in %s: %w", name, err)
	}
	return nil
}

// DeleteExpired removes the messages older than their queue's retention from
// every queue of q, received or not, and returns how many it removed.
// Receive skips them anyway; this reclaims their space.
func (q *Queue) DeleteExpired(ctx context.Context) (int, error) {
	var n int
	err := q.db.Update(func(tx *bbolt.Tx) error {
		now := q.now()
		for name, cfg := range q.cfgs {
			x := queueOf(tx, name)
			var old [][]byte
			c := x.states.Cursor()
			for id, _ := c.First(); id != nil && now.Sub(sentAt(id)) > cfg.Retention; id, _ = c.Next() {
				old = append(old, bytes.Clone(id))
			}
			for _, id := range old {
				st, err := x.state(id)
				if err != nil {
					return err
				}
				if err := x.remove(id, st); err != nil {
					return err
				}
			}
			n += len(old)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: delete expired messages: %w", err)
	}
	return n, nil
}

// size is what counts against queue.MaxMessageSize: body plus attributes.
func size(m queue.Message) int {
	n := len(m.Body)
	for k, v := range m.Attributes {
		n += len(k) + len(v)
	}
	return n
}

// state is where a message is in its life: when it is visible next, how
// often it was received, and the random part of its current receipt.
type state struct {
	visibleAt int64 // Unix nanoseconds
	receives  uint32
	nonce     uint64
}

// encode returns visible-at (8 bytes), receives (4) and nonce (8). A receipt
// is the id followed by the last 12 bytes.
func (st state) encode() []byte {
	b := make([]byte, 0, 20)
	b = binary.BigEndian.AppendUint64(b, uint64(st.visibleAt))
	b = binary.BigEndian.AppendUint32(b, st.receives)
	return binary.BigEndian.AppendUint64(b, st.nonce)
}

func receiptOf(id []byte, st state) string {
	return hex.EncodeToString(append(bytes.Clone(id), st.encode()[8:]...))
}

func newID(now time.Time, seq uint64) []byte {
	id := binary.BigEndian.AppendUint64(make([]byte, 0, idLen), uint64(now.UnixNano()))
	return binary.BigEndian.AppendUint64(id, seq)
}

func sentAt(id []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(id)))
}

func visibleKey(at int64, id []byte) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+idLen), uint64(at)), id...)
}

// queueTx is the buckets of one queue in one transaction.
type queueTx struct{ bodies, states, visible *bbolt.Bucket }

func queueOf(tx *bbolt.Tx, name string) queueTx {
	b := tx.Bucket(queuesBucket).Bucket([]byte(name))
	return queueTx{b.Bucket(bodyBucket), b.Bucket(stateBucket), b.Bucket(visibleBucket)}
}

func (x queueTx) state(id []byte) (state, error) {
	v := x.states.Get(id)
	if len(v) != 20 {
		return state{}, errCorrupt
	}
	return state{
		visibleAt: int64(binary.BigEndian.Uint64(v)),
		receives:  binary.BigEndian.Uint32(v[8:]),
		nonce:     binary.BigEndian.Uint64(v[12:]),
	}, nil
}

// byReceipt returns the message a receipt names. Returns
// queue.ErrReceiptNotFound if the receipt is malformed, unknown or stale.
func (x queueTx) byReceipt(receipt string) ([]byte, state, error) {
	raw, err := hex.DecodeString(receipt)
	if err != nil || len(raw) != idLen+12 {
		return nil, state{}, queue.ErrReceiptNotFound
	}
	id := raw[:idLen]
	if x.states.Get(id) == nil {
		return nil, state{}, queue.ErrReceiptNotFound
	}
	st, err := x.state(id)
	if err != nil {
		return nil, state{}, err
	}
	if st.receives == 0 || receiptOf(id, st) != receipt {
		return nil, state{}, queue.ErrReceiptNotFound
	}
	return id, st, nil
}

func (x queueTx) add(id, body []byte, st state) error {
	if err := x.bodies.Put(id, body); err != nil {
		return err
	}
	if err := x.states.Put(id, st.encode()); err != nil {
		return err
	}
	return x.visible.Put(visibleKey(st.visibleAt, id), nil)
}

// update replaces the state of message id, old, with st.
func (x queueTx) update(id []byte, old, st state) error {
	if err := x.visible.Delete(visibleKey(old.visibleAt, id)); err != nil {
		return err
	}
	if err := x.states.Put(id, st.encode()); err != nil {
		return err
	}
	return x.visible.Put(visibleKey(st.visibleAt, id), nil)
}

func (x queueTx) remove(id []byte, st state) error {
	if err := x.visible.Delete(visibleKey(st.visibleAt, id)); err != nil {
		return err
	}
	if err := x.states.Delete(id); err != nil {
		return err
	}
	return x.bodies.Delete(id)
}

// encodeMessage returns the body record: the number of attributes, each
// name and value with its length, then the body.
func encodeMessage(m queue.Message) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64*(1+2*len(m.Attributes))+size(m))
	b = binary.AppendUvarint(b, uint64(len(m.Attributes)))
	for k, v := range m.Attributes {
		b = appendString(appendString(b, k), v)
	}
	return append(b, m.Body...)
}

// decodeMessage decodes a body record. The message does not alias v.
func decodeMessage(v []byte) (queue.Message, error) {
	n, k := binary.Uvarint(v)
	if k <= 0 || n > uint64(len(v)) {
		return queue.Message{}, errCorrupt
	}
	v = v[k:]
	var m queue.Message
	if n > 0 {
		m.Attributes = make(map[string]string, n)
	}
	for range n {
		name, rest, ok1 := cutString(v)
		value, rest, ok2 := cutString(rest)
		if !ok1 || !ok2 {
			return queue.Message{}, errCorrupt
		}
		m.Attributes[name], v = value, rest
	}
	m.Body = bytes.Clone(v)
	return m, nil
}
