// Package dynamo provides the DynamoDB adapters: a store.Store and a
// seal.KeysetStore kept together in one table.
//
// The table has a string partition key "pk" and a string sort key "sk", a
// global secondary index "blind" on "ix" (partition) and "sk" (sort) holding
// the blind index, and a number attribute "ttl" (Unix seconds) for
// DynamoDB's time to live. CreateTable makes one for tests and for the
// one-machine AWS runtime; the CDK stack creates the real one.
//
// Every key carries the tenant from the context, as in the embedded adapter:
// an item of tenant t with partition key P is stored under pk "t#P", and its
// blind index I under ix "t#I". Tenant IDs hold no "#", so no key of one
// tenant can reach another's (ACC-03). The keysets live under pk
// "~keyset#<org>": "~" starts no tenant ID, so no store key reaches them.
package dynamo

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// Attribute and index names of the table.
const (
	attrPK      = "pk"
	attrSK      = "sk"
	attrIndex   = "ix"
	attrData    = "d"
	attrVersion = "v"
	attrTTL     = "ttl"
	// attrWrite holds a random token of the conditional put that wrote the
	// item, so that a put the SDK sent twice (its answer lost on the way
	// back) recognizes its own first write instead of failing its condition.
	attrWrite = "wid"
	// IndexName is the global secondary index on the blind index.
	IndexName = "blind"
)

// Limits of DynamoDB that shape the adapter.
const (
	// batchSize is the most items one BatchWriteItem takes.
	batchSize = 25
	// batchAttempts bounds the tries of one batch while DynamoDB returns
	// unprocessed items.
	batchAttempts = 8
	// queryRounds bounds the requests one Query makes to fill a page when
	// expired items are filtered out.
	queryRounds = 8
	// putAttempts bounds the retries of an unconditional Put that races
	// with writers over an expired item.
	putAttempts = 5
)

// Client is the part of *dynamodb.Client the adapters use. A
// *dynamodb.Client satisfies it; tests wrap one to inject throttling.
type Client interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Options configure a Store.
type Options struct {
	// Now is the clock that decides which items have expired; nil means
	// time.Now. DynamoDB deletes expired items itself, up to days later:
	// until then reads filter them out with this clock.
	Now func() time.Time
	// Backoff is the first pause before retrying unprocessed items of a
	// batch; it doubles with each retry, with jitter, up to two seconds.
	// Zero means 50ms.
	Backoff time.Duration
}

// Store is the store.Store on one DynamoDB table. ExpiresAt is kept to the
// second (DynamoDB's TTL has no finer grain). Reads of the table are
// strongly consistent; queries by Index read a global secondary index,
// which DynamoDB updates asynchronously, so an item may show there a moment
// after its Put returns. A Store may be used concurrently.
type Store struct {
	client  Client
	table   string
	now     func() time.Time
	backoff time.Duration
	sleep   func(ctx context.Context, d time.Duration) error
	// scans holds where DeleteTenant stopped scanning, per tenant
	// (tenant.ID → map[string]types.AttributeValue).
	scans sync.Map
}

var _ store.Store = (*Store)(nil)

// New returns the store on the named table.
func New(client Client, table string, opts Options) *Store {
	s := &Store{client: client, table: table, now: opts.Now, backoff: opts.Backoff, sleep: sleep}
	if s.now == nil {
		s.now = time.Now
	}
	if s.backoff <= 0 {
		s.backoff = 50 * time.Millisecond
	}
	return s
}

// Get returns the live item at k of the context's tenant. Returns
// store.ErrNotFound if there is none, tenant.ErrNoTenant without a tenant and
// store.ErrInvalid for a malformed key.
func (s *Store) Get(ctx context.Context, k store.Key) (store.Item, error) {
	t, err := tenant.From(ctx)
	if err == nil {
		err = store.CheckKey(k)
	}
	if err != nil {
		return store.Item{}, fmt.Errorf("dynamo: get: %w", err)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            itemKey(t, k),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return store.Item{}, fmt.Errorf("dynamo: get: %w", mapError(err))
	}
	if out.Item == nil {
		return store.Item{}, fmt.Errorf("dynamo: get: %w", store.ErrNotFound)
	}
	it, err := decodeItem(t, out.Item)
	if err != nil {
		return store.Item{}, fmt.Errorf("dynamo: get: %w", err)
	}
	if !s.live(it) {
		return store.Item{}, fmt.Errorf("dynamo: get: %w", store.ErrNotFound)
	}
	return it, nil
}

// Put writes it for the context's tenant under cond and returns the stored
// item. Returns store.ErrConditionFailed if cond does not hold,
// tenant.ErrNoTenant without a tenant and store.ErrInvalid for a malformed
// item.
func (s *Store) Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error) {
	t, err := tenant.From(ctx)
	if err == nil {
		err = store.CheckPut(it, cond)
	}
	if err != nil {
		return store.Item{}, fmt.Errorf("dynamo: put: %w", err)
	}
	if !it.ExpiresAt.IsZero() {
		it.ExpiresAt = time.Unix(it.ExpiresAt.Unix(), 0)
	}
	switch cond {
	case store.IfAbsent:
		it.Version = 1
		err = s.putIf(ctx, t, it, "attribute_not_exists(#pk) OR #ttl <= :now")
	case store.IfVersion:
		it.Version++
		err = s.putIf(ctx, t, it, "#v = :old AND (attribute_not_exists(#ttl) OR #ttl > :now)")
	default:
		it, err = s.putAlways(ctx, t, it)
	}
	if err != nil {
		return store.Item{}, fmt.Errorf("dynamo: put: %w", err)
	}
	return it, nil
}

// putIf writes it (with its final Version) if condition holds. The
// condition may use #pk, #v, #ttl, :now and :old (the previous version).
func (s *Store) putIf(ctx context.Context, t tenant.ID, it store.Item, condition string) error {
	// DynamoDB refuses names and values that the expression does not use.
	names := map[string]string{"#ttl": attrTTL}
	values := map[string]types.AttributeValue{":now": number(s.now().Unix())}
	if strings.Contains(condition, "#pk") {
		names["#pk"] = attrPK
	}
	if strings.Contains(condition, "#v") {
		names["#v"] = attrVersion
		values[":old"] = number(it.Version - 1)
	}
	item := encodeItem(t, it)
	token := crand.Text()
	item[attrWrite] = str(token)
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           &s.table,
		Item:                                item,
		ConditionExpression:                 &condition,
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if w, _ := stringOf(ccf.Item[attrWrite]); w == token {
			return nil // a retry of this very put found its own first write
		}
	}
	return mapError(err)
}

// putAlways writes it unconditionally: one more than the live item's
// Version, or 1 if there is none. An expired item counts as absent, which
// DynamoDB cannot express in one update: if the item is expired, it is
// replaced by a conditional put, and the whole tried again if a writer
// got in between.
func (s *Store) putAlways(ctx context.Context, t tenant.ID, it store.Item) (store.Item, error) {
	set := []string{"#v = if_not_exists(#v, :zero) + :one"}
	var remove []string
	names := map[string]string{"#v": attrVersion, "#ttl": attrTTL}
	values := map[string]types.AttributeValue{":zero": number(0), ":one": number(1)}
	field := func(name, attr string, v types.AttributeValue) {
		names[name] = attr
		if v == nil {
			remove = append(remove, name)
			return
		}
		set = append(set, name+" = :"+name[1:])
		values[":"+name[1:]] = v
	}
	item := encodeItem(t, it)
	field("#d", attrData, item[attrData])
	field("#ix", attrIndex, item[attrIndex])
	field("#ttl", attrTTL, item[attrTTL])
	update := "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		update += " REMOVE " + strings.Join(remove, ", ")
	}
	for range putAttempts {
		values[":now"] = number(s.now().Unix())
		out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 &s.table,
			Key:                       itemKey(t, store.Key{PK: it.PK, SK: it.SK}),
			UpdateExpression:          &update,
			ConditionExpression:       aws.String("attribute_not_exists(#ttl) OR #ttl > :now"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
			ReturnValues:              types.ReturnValueUpdatedNew,
		})
		if err == nil {
			v, err := numberOf(out.Attributes[attrVersion])
			if err != nil {
				return store.Item{}, err
			}
			it.Version = v
			return it, nil
		}
		if err = mapError(err); !errors.Is(err, store.ErrConditionFailed) {
			return store.Item{}, err
		}
		// The stored item has expired: replace it while it still is.
		fresh := it
		fresh.Version = 1
		err = s.putIf(ctx, t, fresh, "#ttl <= :now")
		if err == nil {
			return fresh, nil
		}
		if !errors.Is(err, store.ErrConditionFailed) {
			return store.Item{}, err
		}
	}
	return store.Item{}, fmt.Errorf("%d attempts raced with other writers over an expired item", putAttempts)
}

// Delete removes the item at k of the context's tenant; deleting a missing
// item is not an error. Returns tenant.ErrNoTenant without a tenant and
// store.ErrInvalid for a malformed key.
func (s *Store) Delete(ctx context.Context, k store.Key) error {
	t, err := tenant.From(ctx)
	if err == nil {
		err = store.CheckKey(k)
	}
	if err == nil {
		_, err = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: itemKey(t, k)})
		err = mapError(err)
	}
	if err != nil {
		return fmt.Errorf("dynamo: delete: %w", err)
	}
	return nil
}

// cursor is what a Page.Next holds: the kind of query ('p' partition, 'x'
// index) and DynamoDB's LastEvaluatedKey.
type cursor struct {
	Kind  string `json:"k"`
	PK    string `json:"p"`
	SK    string `json:"s"`
	Index string `json:"x,omitempty"`
}

// Query returns one page of the context's tenant's items that q selects.
// A page is filled with up to eight requests when expired items are
// filtered out; it may come back short with Next set. Returns
// store.ErrInvalid for a malformed query or a cursor that another query
// returned, and tenant.ErrNoTenant without a tenant.
func (s *Store) Query(ctx context.Context, q store.Query) (store.Page, error) {
	t, err := tenant.From(ctx)
	if err == nil {
		err = store.CheckQuery(q)
	}
	if err != nil {
		return store.Page{}, fmt.Errorf("dynamo: query: %w", err)
	}
	limit := q.Limit
	if limit == 0 {
		limit = store.DefaultLimit
	}
	in := &dynamodb.QueryInput{
		TableName:                &s.table,
		KeyConditionExpression:   aws.String("#p = :p"),
		FilterExpression:         aws.String("attribute_not_exists(#ttl) OR #ttl > :now"),
		ExpressionAttributeNames: map[string]string{"#p": attrPK, "#ttl": attrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p":   str(string(t) + "#" + q.PK),
			":now": number(s.now().Unix()),
		},
		ScanIndexForward: aws.Bool(!q.Reverse),
	}
	kind, partition := "p", string(t)+"#"+q.PK
	if q.Index != "" {
		kind, partition = "x", string(t)+"#"+q.Index
		in.IndexName = aws.String(IndexName)
		in.ExpressionAttributeNames["#p"] = attrIndex
		in.ExpressionAttributeValues[":p"] = str(partition)
	} else {
		in.ConsistentRead = aws.Bool(true)
	}
	if q.Prefix != "" {
		*in.KeyConditionExpression += " AND begins_with(#s, :prefix)"
		in.ExpressionAttributeNames["#s"] = attrSK
		in.ExpressionAttributeValues[":prefix"] = str(q.Prefix)
	}
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil || c.Kind != kind || !strings.HasPrefix(c.SK, q.Prefix) ||
			(kind == "p" && c.PK != partition) ||
			(kind == "x" && (c.Index != partition || !strings.HasPrefix(c.PK, string(t)+"#"))) {
			return store.Page{}, fmt.Errorf("dynamo: query: cursor does not belong to this query: %w", store.ErrInvalid)
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{attrPK: str(c.PK), attrSK: str(c.SK)}
		if kind == "x" {
			in.ExclusiveStartKey[attrIndex] = str(c.Index)
		}
	}

	var page store.Page
	for round := 0; round < queryRounds && len(page.Items) < limit; round++ {
		in.Limit = aws.Int32(int32(limit - len(page.Items)))
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return store.Page{}, fmt.Errorf("dynamo: query: %w", mapError(err))
		}
		for _, av := range out.Items {
			it, err := decodeItem(t, av)
			if err != nil {
				return store.Page{}, fmt.Errorf("dynamo: query: %w", err)
			}
			page.Items = append(page.Items, it)
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
		if out.LastEvaluatedKey == nil {
			return page, nil
		}
	}
	next, err := encodeCursor(kind, in.ExclusiveStartKey)
	if err != nil {
		return store.Page{}, fmt.Errorf("dynamo: query: %w", err)
	}
	page.Next = next
	return page, nil
}

func encodeCursor(kind string, lek map[string]types.AttributeValue) (string, error) {
	c := cursor{Kind: kind}
	var err error
	if c.PK, err = stringOf(lek[attrPK]); err == nil {
		c.SK, err = stringOf(lek[attrSK])
	}
	if err == nil && kind == "x" {
		c.Index, err = stringOf(lek[attrIndex])
	}
	if err != nil {
		return "", fmt.Errorf("last evaluated key: %w", err)
	}
	data, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(data), nil
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(data, &c)
	}
	return c, err
}

// BatchPut writes all items for the context's tenant unconditionally, 25 to
// a request, retrying unprocessed items with exponential backoff. When one
// key appears more than once, the last item wins, as if they were written
// in order. The batch is not atomic: an error after the first request may
// leave part of it written, and says so; retrying the whole batch is safe.
// Returns store.ErrInvalid naming the first malformed item (before writing
// anything) and tenant.ErrNoTenant without a tenant.
func (s *Store) BatchPut(ctx context.Context, items []store.Item) error {
	t, err := tenant.From(ctx)
	if err != nil {
		return fmt.Errorf("dynamo: batch put: %w", err)
	}
	keys := make([]store.Key, len(items))
	for i, it := range items {
		if err := store.CheckItem(it); err != nil {
			return fmt.Errorf("dynamo: batch put: item %d: %w", i, err)
		}
		keys[i] = store.Key{PK: it.PK, SK: it.SK}
	}
	var reqs []types.WriteRequest
	for _, i := range lastOfEachKey(keys) {
		it := items[i]
		it.Version++
		if !it.ExpiresAt.IsZero() {
			it.ExpiresAt = time.Unix(it.ExpiresAt.Unix(), 0)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: encodeItem(t, it)}})
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return fmt.Errorf("dynamo: batch put: %w", err)
	}
	return nil
}

// BatchDelete removes the items at keys of the context's tenant, 25 to a
// request, retrying unprocessed ones with backoff; missing items are not an
// error. Like BatchPut it is not atomic. Returns store.ErrInvalid naming the
// first malformed key (before deleting anything) and tenant.ErrNoTenant
// without a tenant.
func (s *Store) BatchDelete(ctx context.Context, keys []store.Key) error {
	t, err := tenant.From(ctx)
	if err != nil {
		return fmt.Errorf("dynamo: batch delete: %w", err)
	}
	if err := store.CheckKeys(keys); err != nil {
		return fmt.Errorf("dynamo: batch delete: %w", err)
	}
	var reqs []types.WriteRequest
	for _, i := range lastOfEachKey(keys) {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: itemKey(t, keys[i])}})
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return fmt.Errorf("dynamo: batch delete: %w", err)
	}
	return nil
}

// lastOfEachKey returns the indexes of keys, in order, keeping only the last
// occurrence of each key: DynamoDB refuses a batch that names a key twice.
func lastOfEachKey(keys []store.Key) []int {
	last := make(map[store.Key]int, len(keys))
	for i, k := range keys {
		last[k] = i
	}
	idx := make([]int, 0, len(last))
	for i, k := range keys {
		if last[k] == i {
			idx = append(idx, i)
		}
	}
	return idx
}

// batchWrite sends reqs in requests of batchSize, retrying the unprocessed
// ones of each with backoff.
func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	written := 0
	for start := 0; start < len(reqs); start += batchSize {
		chunk := reqs[start:min(start+batchSize, len(reqs))]
		pause := s.backoff
		for attempt := 1; len(chunk) > 0; attempt++ {
			if attempt > batchAttempts {
				return fmt.Errorf("%d of %d requests still unprocessed after %d attempts (%d written; the batch is partly written, retrying it whole is safe)",
					len(chunk), len(reqs), batchAttempts, written)
			}
			if attempt > 1 {
				if err := s.sleep(ctx, pause/2+rand.N(pause/2+1)); err != nil {
					return fmt.Errorf("%w (%d of %d written; the batch is partly written, retrying it whole is safe)", err, written, len(reqs))
				}
				pause = min(2*pause, 2*time.Second)
			}
			out, err := s.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{s.table: chunk},
			})
			if err != nil {
				err = mapError(err)
				if written > 0 {
					return fmt.Errorf("%w (%d of %d written; the batch is partly written, retrying it whole is safe)", err, written, len(reqs))
				}
				return err
			}
			unprocessed := out.UnprocessedItems[s.table]
			written += len(chunk) - len(unprocessed)
			chunk = unprocessed
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) live(it store.Item) bool {
	return it.ExpiresAt.IsZero() || it.ExpiresAt.Unix() > s.now().Unix()
}

func itemKey(t tenant.ID, k store.Key) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(string(t) + "#" + k.PK), attrSK: str(k.SK)}
}

// encodeItem returns the attributes of it (with its final Version) for
// tenant t. Empty Data, Index and ExpiresAt are left out: the index stays
// sparse and the item never expires.
func encodeItem(t tenant.ID, it store.Item) map[string]types.AttributeValue {
	av := itemKey(t, store.Key{PK: it.PK, SK: it.SK})
	av[attrVersion] = number(it.Version)
	if len(it.Data) > 0 {
		av[attrData] = &types.AttributeValueMemberB{Value: it.Data}
	}
	if it.Index != "" {
		av[attrIndex] = str(string(t) + "#" + it.Index)
	}
	if !it.ExpiresAt.IsZero() {
		av[attrTTL] = number(it.ExpiresAt.Unix())
	}
	return av
}

var errCorrupt = errors.New("dynamo: corrupt item")

// decodeItem returns the item of tenant t stored as av.
func decodeItem(t tenant.ID, av map[string]types.AttributeValue) (store.Item, error) {
	prefix := string(t) + "#"
	pk, err1 := stringOf(av[attrPK])
	sk, err2 := stringOf(av[attrSK])
	v, err3 := numberOf(av[attrVersion])
	if err := errors.Join(err1, err2, err3); err != nil || !strings.HasPrefix(pk, prefix) {
		return store.Item{}, fmt.Errorf("%w: keys or version", errCorrupt)
	}
	it := store.Item{PK: pk[len(prefix):], SK: sk, Version: v}
	if x, ok := av[attrIndex]; ok {
		ix, err := stringOf(x)
		if err != nil || !strings.HasPrefix(ix, prefix) {
			return store.Item{}, fmt.Errorf("%w: index", errCorrupt)
		}
		it.Index = ix[len(prefix):]
	}
	if d, ok := av[attrData]; ok {
		b, ok := d.(*types.AttributeValueMemberB)
		if !ok {
			return store.Item{}, fmt.Errorf("%w: data", errCorrupt)
		}
		it.Data = b.Value
	}
	if x, ok := av[attrTTL]; ok {
		sec, err := numberOf(x)
		if err != nil {
			return store.Item{}, fmt.Errorf("%w: ttl", errCorrupt)
		}
		it.ExpiresAt = time.Unix(sec, 0)
	}
	return it, nil
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func number(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func stringOf(av types.AttributeValue) (string, error) {
	s, ok := av.(*types.AttributeValueMemberS)
	if !ok {
		return "", errCorrupt
	}
	return s.Value, nil
}

func numberOf(av types.AttributeValue) (int64, error) {
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		return 0, errCorrupt
	}
	return strconv.ParseInt(n.Value, 10, 64)
}

// mapError maps DynamoDB's errors to the store's: a failed condition to
// store.ErrConditionFailed and a refused request to store.ErrInvalid. Other
// errors pass unchanged.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return store.ErrConditionFailed
	}
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "ValidationException" {
		return fmt.Errorf("%w: %s", store.ErrInvalid, api.ErrorMessage())
	}
	return err
}
