package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/alto/alto/shared/clocktest"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/alto/alto/shared/awstest"
	"github.com/alto/alto/shared/dynamo"
	"github.com/alto/alto/shared/keysettest"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/storetest"
	"github.com/alto/alto/shared/tenant"
)

func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }

// newTable creates a fresh table on the test server and returns a client
// of it and its name.
func newTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	client := dynamodb.NewFromConfig(awstest.Config(t))
	name := awstest.Name(t)
	if err := dynamo.CreateTable(t.Context(), client, name, dynamo.TableOptions{}); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	return client, name
}

// storeLimitations are the store contract's subtests that moto cannot pass.
var storeLimitations = awstest.Limitations{
	"ConcurrentIfVersion": "moto 5.2.1 evaluates DynamoDB condition expressions without locking the item, " +
		"so two concurrent IfVersion puts of the same version can both succeed on its threaded server; " +
		"DynamoDB serializes writes to an item (IfVersion's refusal of a stale version is checked by the IfVersion subtest)",
}

// TestStore runs the store contract on DynamoDB. The store decides expiry
// with its own clock (DynamoDB's TTL deletion is late by design and moto
// has none), so the suite's clock drives it and no subtest is skipped for
// time.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		storeLimitations.Skip(t)
		client, table := newTable(t)
		clk := clocktest.At(time.Now())
		return storetest.Harness{Store: dynamo.New(client, table, dynamo.Options{Now: clk.Now}), Now: clk.Now, Advance: clk.Advance}
	})
}

func TestKeysets(t *testing.T) {
	keysettest.TestKeysetStore(t, func(t *testing.T) seal.KeysetStore {
		client, table := newTable(t)
		return dynamo.NewKeysets(client, table)
	})
}

// TestENC04_KeysetsUnreachableFromStore checks that no store key, of any
// tenant or of the platform, reaches the keyset items in the same table.
func TestENC04_KeysetsUnreachableFromStore(t *testing.T) {
	client, table := newTable(t)
	keysets := dynamo.NewKeysets(client, table)
	s := dynamo.New(client, table, dynamo.Options{})
	if err := keysets.Create(t.Context(), "acme", []byte("wrapped")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	for _, ctx := range []context.Context{tenant.With(t.Context(), "acme"), tenant.WithPlatform(t.Context())} {
		for _, pk := range []string{"~keyset#acme", "keyset#acme", "#acme", "acme"} {
			if it, err := s.Get(ctx, store.Key{PK: pk, SK: "KEYSET"}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get(%q, KEYSET) = %q, %v; want ErrNotFound", pk, it.Data, err)
			}
			page, err := s.Query(ctx, store.Query{PK: pk})
			if err != nil || len(page.Items) != 0 {
				t.Errorf("Query(%q) = %d items, %v; want none", pk, len(page.Items), err)
			}
		}
	}
}

// TestBlindIndexKeyCarriesTenant checks the stored attributes themselves:
// the partition and index keys start with the tenant, and an item without
// an index stays out of the sparse index.
func TestBlindIndexKeyCarriesTenant(t *testing.T) {
	client, table := newTable(t)
	s := dynamo.New(client, table, dynamo.Options{})
	ctx := tenant.With(t.Context(), "acme")
	if _, err := s.Put(ctx, store.Item{PK: "CONTACT#1", SK: "PROFILE", Index: "h1"}, store.Always); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if _, err := s.Put(ctx, store.Item{PK: "CONTACT#2", SK: "PROFILE"}, store.Always); err != nil {
		t.Fatalf("Put: %v", err)
	}
	out, err := client.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table), IndexName: aws.String(dynamo.IndexName)})
	if err != nil {
		t.Fatalf("Scan index: %v", err)
	}
	if len(out.Items) != 1 {
		t.Fatalf("index holds %d items, want 1", len(out.Items))
	}
	for attr, want := range map[string]string{"pk": "acme#CONTACT#1", "ix": "acme#h1", "sk": "PROFILE"} {
		if got, ok := out.Items[0][attr].(*types.AttributeValueMemberS); !ok || got.Value != want {
			t.Errorf("attribute %s = %v, want %q", attr, out.Items[0][attr], want)
		}
	}
}

// TestAlwaysOverExpiredItemRestartsVersion checks that an unconditional put
// over an expired item starts again at version 1, as over a missing one.
func TestAlwaysOverExpiredItemRestartsVersion(t *testing.T) {
	client, table := newTable(t)
	s := dynamo.New(client, table, dynamo.Options{})
	ctx := tenant.With(t.Context(), "acme")
	old := store.Item{PK: "P", SK: "s", Index: "h", ExpiresAt: time.Now().Add(-time.Minute)}
	for range 3 {
		if _, err := s.Put(ctx, old, store.Always); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	got, err := s.Put(ctx, store.Item{PK: "P", SK: "s", Data: []byte("new")}, store.Always)
	if err != nil {
		t.Fatalf("Put over an expired item: %v", err)
	}
	if got.Version != 1 {
		t.Errorf("Put over an expired item: Version = %d, want 1", got.Version)
	}
	it, err := s.Get(ctx, store.Key{PK: "P", SK: "s"})
	if err != nil || it.Index != "" || !it.ExpiresAt.IsZero() || string(it.Data) != "new" {
		t.Errorf("Get = %+v, %v; want the new item without index or expiry", it, err)
	}
}

// throttling wraps a real client and leaves part of each BatchWriteItem
// unprocessed, as DynamoDB does under throttling: the first request of each
// batch writes only its first few items.
type throttling struct {
	dynamo.Client
	mu       sync.Mutex
	keep     int // requests processed per call while throttled
	throttle int // calls left to throttle
	calls    int
}

func (c *throttling) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.mu.Lock()
	c.calls++
	throttled := c.throttle > 0
	if throttled {
		c.throttle--
	}
	c.mu.Unlock()
	if !throttled {
		return c.Client.BatchWriteItem(ctx, in, opts...)
	}
	out := &dynamodb.BatchWriteItemOutput{UnprocessedItems: map[string][]types.WriteRequest{}}
	for table, reqs := range in.RequestItems {
		n := min(c.keep, len(reqs))
		if _, err := c.Client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{table: reqs[:n]},
		}, opts...); err != nil {
			return nil, err
		}
		if n < len(reqs) {
			out.UnprocessedItems[table] = reqs[n:]
		}
	}
	return out, nil
}

func TestBatchRetriesUnprocessedItems(t *testing.T) {
	client, table := newTable(t)
	ctx := tenant.With(t.Context(), "acme")
	var items []store.Item
	for i := range 60 {
		items = append(items, store.Item{PK: "P", SK: fmt.Sprintf("%03d", i), Data: []byte("x")})
	}
	tests := []struct {
		name      string
		throttle  int
		wantError bool
	}{
		{"a few throttled requests", 5, false},
		{"throttled past the attempts", 1000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &throttling{Client: client, keep: 3, throttle: tt.throttle}
			s := dynamo.New(c, table, dynamo.Options{Backoff: time.Millisecond})
			err := s.BatchPut(ctx, items)
			if tt.wantError {
				if err == nil {
					t.Fatal("BatchPut under endless throttling: nil error, want one")
				}
				return
			}
			if err != nil {
				t.Fatalf("BatchPut: %v", err)
			}
			if c.calls <= 3 {
				t.Errorf("BatchWriteItem calls = %d, want more than the 3 chunks (retries)", c.calls)
			}
			var n int
			for cursor := ""; ; {
				page, err := s.Query(ctx, store.Query{PK: "P", Cursor: cursor, Limit: store.MaxLimit})
				if err != nil {
					t.Fatalf("Query: %v", err)
				}
				n += len(page.Items)
				if cursor = page.Next; cursor == "" {
					break
				}
			}
			if n != len(items) {
				t.Errorf("items after BatchPut = %d, want %d", n, len(items))
			}
			c.throttle = 5
			keys := make([]store.Key, len(items))
			for i, it := range items {
				keys[i] = store.Key{PK: it.PK, SK: it.SK}
			}
			if err := s.BatchDelete(ctx, keys); err != nil {
				t.Fatalf("BatchDelete: %v", err)
			}
			if page, err := s.Query(ctx, store.Query{PK: "P"}); err != nil || len(page.Items) != 0 {
				t.Errorf("Query after BatchDelete = %d items, %v; want none", len(page.Items), err)
			}
		})
	}
}

func TestBatchDuplicateKeysLastWins(t *testing.T) {
	client, table := newTable(t)
	s := dynamo.New(client, table, dynamo.Options{})
	ctx := tenant.With(t.Context(), "acme")
	items := []store.Item{
		{PK: "P", SK: "s", Data: []byte("first")},
		{PK: "P", SK: "t", Data: []byte("other")},
		{PK: "P", SK: "s", Data: []byte("last")},
	}
	if err := s.BatchPut(ctx, items); err != nil {
		t.Fatalf("BatchPut: %v", err)
	}
	if it, err := s.Get(ctx, store.Key{PK: "P", SK: "s"}); err != nil || string(it.Data) != "last" {
		t.Errorf("Get = %q, %v; want %q", it.Data, err, "last")
	}
	if err := s.BatchDelete(ctx, []store.Key{{PK: "P", SK: "s"}, {PK: "P", SK: "s"}}); err != nil {
		t.Errorf("BatchDelete with a key twice: %v", err)
	}
}

func TestCreateTableTwiceFails(t *testing.T) {
	client, table := newTable(t)
	if err := dynamo.CreateTable(t.Context(), client, table, dynamo.TableOptions{}); err == nil {
		t.Error("CreateTable of an existing table: nil error, want one")
	}
}

func TestENC01_TableEncryptedWithKMSKey(t *testing.T) {
	client := dynamodb.NewFromConfig(awstest.Config(t))
	key, name := awstest.KMSKey(t), awstest.Name(t)
	if err := dynamo.CreateTable(t.Context(), client, name, dynamo.TableOptions{KMSKeyID: key}); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	out, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeTable: %v", err)
	}
	sse := out.Table.SSEDescription
	if sse == nil || sse.SSEType != types.SSETypeKms || sse.KMSMasterKeyArn == nil {
		t.Fatalf("SSEDescription = %+v, want KMS with the key", sse)
	}
	ttl, err := client.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeTimeToLive: %v", err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != "ttl" || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Errorf("TimeToLiveDescription = %+v, want enabled on ttl", d)
	}
}

// losingFirstAnswer forwards every request, but replaces the answer to the
// first PutItem with a connection reset: the server applied the write, the
// SDK does not know it and sends the same request again.
type losingFirstAnswer struct {
	next http.RoundTripper
	lost atomic.Bool
}

func (l *losingFirstAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := l.next.RoundTrip(r)
	if err == nil && strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutItem") && l.lost.CompareAndSwap(false, true) {
		res.Body.Close()
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	}
	return res, err
}

func TestIfAbsentRetriedAfterLostAnswerSucceeds(t *testing.T) {
	_, table := newTable(t)
	cfg := awstest.Config(t)
	lossy := &losingFirstAnswer{next: http.DefaultTransport}
	cfg.HTTPClient = &http.Client{Transport: lossy}
	s := dynamo.New(dynamodb.NewFromConfig(cfg), table, dynamo.Options{})
	ctx := tenant.With(t.Context(), "acme")

	it, err := s.Put(ctx, store.Item{PK: "P", SK: "s", Data: []byte("first")}, store.IfAbsent)
	if err != nil {
		t.Fatalf("IfAbsent put whose first answer was lost: %v", err)
	}
	if !lossy.lost.Load() {
		t.Fatal("no answer was lost: the test did not exercise a retry")
	}
	if it.Version != 1 {
		t.Errorf("Version = %d, want 1", it.Version)
	}
	// A different writer's IfAbsent still fails: the token is per put.
	if _, err := s.Put(ctx, store.Item{PK: "P", SK: "s", Data: []byte("second")}, store.IfAbsent); !errors.Is(err, store.ErrConditionFailed) {
		t.Errorf("second IfAbsent put: error = %v, want ErrConditionFailed", err)
	}
	got, err := s.Get(ctx, store.Key{PK: "P", SK: "s"})
	if err != nil || string(got.Data) != "first" {
		t.Errorf("Get = %q, %v; want the first write", got.Data, err)
	}
}
