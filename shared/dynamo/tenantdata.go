package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// DeleteTenant removes up to limit items of the context's tenant, whatever
// their partition, expired or not, and returns how many it removed; 0
// means none are left. It is the physical deletion step of a workspace
// purge (purge.TenantData), after the tenant's keys are shredded. The
// tenant's keyset tombstone is not a store item and stays.
//
// DynamoDB keeps no order across partitions, so DeleteTenant scans the
// table for the tenant's key prefix, reading until it has found limit items
// or reached the end, and deletes what it found in batches. It remembers
// per tenant where it stopped, so the next call in the same process reads
// on from there instead of from the start; a call that reaches the end
// without finding anything after starting part-way scans once more from
// the start, so 0 is reported only by a scan of the whole table. The number
// of deletions per call is bounded by limit; the reads are not (at worst
// one pass over the table, which ctx bounds: on ctx's error the position is
// kept and the error returned). Returns store.ErrInvalid if limit is less
// than 1 and tenant.ErrNoTenant without a tenant. It may be called
// concurrently; concurrent calls for one tenant may delete an item twice,
// which is harmless.
func (s *Store) DeleteTenant(ctx context.Context, limit int) (int, error) {
	t, err := tenant.From(ctx)
	if err == nil && limit < 1 {
		err = fmt.Errorf("limit %d, want at least 1: %w", limit, store.ErrInvalid)
	}
	if err != nil {
		return 0, fmt.Errorf("dynamo: delete tenant: %w", err)
	}
	var start map[string]types.AttributeValue
	if v, ok := s.scans.LoadAndDelete(t); ok {
		start = v.(map[string]types.AttributeValue)
	}
	fromStart := start == nil
	var reqs []types.WriteRequest
	for len(reqs) < limit {
		out, err := s.client.Scan(ctx, &dynamodb.ScanInput{
			TableName:                 &s.table,
			FilterExpression:          aws.String("begins_with(#pk, :p)"),
			ProjectionExpression:      aws.String("#pk, #sk"),
			ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(string(t) + "#")},
			ExclusiveStartKey:         start,
			ConsistentRead:            aws.Bool(true),
			// Items read, not found: no page finds more than what is left
			// of limit, so no item is skipped past.
			Limit: aws.Int32(int32(min(limit-len(reqs), 1000))),
		})
		if err != nil {
			if start != nil {
				s.scans.Store(t, start)
			}
			return 0, fmt.Errorf("dynamo: delete tenant %s: scan: %w", t, mapError(err))
		}
		for _, it := range out.Items {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{
				Key: map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]}}})
		}
		start = out.LastEvaluatedKey
		if start != nil {
			continue
		}
		if len(reqs) > 0 || fromStart {
			break
		}
		fromStart = true // reached the end from part-way: look at the beginning
	}
	if start != nil {
		s.scans.Store(t, start)
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return 0, fmt.Errorf("dynamo: delete tenant %s: %w", t, err)
	}
	return len(reqs), nil
}
