package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// Attributes of a keyset item, stored under pk "~keyset#<org>" and sk
// "KEYSET".
const (
	keysetPrefix = "~keyset#"
	keysetSK     = "KEYSET"
	attrWrapped  = "w"
	attrShredded = "shredded"
)

// Keysets is the seal.KeysetStore on the store's table: one item per
// tenant holding its wrapped keyset, replaced by a tombstone when the
// tenant is shredded. Create is a conditional write, so it is exclusive
// across processes. Its methods may be called concurrently.
//
// Destroy reaches the table only: DynamoDB's point-in-time backups keep the
// wrapped keyset for their retention, readable only with the KMS key.
type Keysets struct {
	client Client
	table  string
}

var _ seal.KeysetStore = (*Keysets)(nil)

// NewKeysets returns the keyset store on the named table.
func NewKeysets(client Client, table string) *Keysets {
	return &Keysets{client: client, table: table}
}

// Get returns the tenant's wrapped keyset. Returns seal.ErrNoKeyset if none
// was created and seal.ErrShredded if it was destroyed.
func (k *Keysets) Get(ctx context.Context, org tenant.ID) ([]byte, error) {
	key, err := keysetKey(org)
	if err != nil {
		return nil, fmt.Errorf("dynamo: get keyset: %w", err)
	}
	out, err := k.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &k.table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("dynamo: get keyset of tenant %s: %w", org, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("dynamo: get keyset: tenant %s: %w", org, seal.ErrNoKeyset)
	}
	if _, ok := out.Item[attrShredded]; ok {
		return nil, fmt.Errorf("dynamo: get keyset: tenant %s: %w", org, seal.ErrShredded)
	}
	w, ok := out.Item[attrWrapped].(*types.AttributeValueMemberB)
	if !ok {
		return nil, fmt.Errorf("dynamo: get keyset of tenant %s: %w", org, errCorrupt)
	}
	return w.Value, nil
}

// Create stores the tenant's wrapped keyset if the tenant has neither a
// keyset nor a tombstone. Returns seal.ErrExists otherwise.
func (k *Keysets) Create(ctx context.Context, org tenant.ID, wrapped []byte) error {
	key, err := keysetKey(org)
	if err != nil {
		return fmt.Errorf("dynamo: create keyset: %w", err)
	}
	if len(wrapped) == 0 {
		return fmt.Errorf("dynamo: create keyset of tenant %s: empty keyset", org)
	}
	key[attrWrapped] = &types.AttributeValueMemberB{Value: wrapped}
	_, err = k.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                &k.table,
		Item:                     key,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	if errors.Is(mapError(err), store.ErrConditionFailed) {
		return fmt.Errorf("dynamo: create keyset: tenant %s: %w", org, seal.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("dynamo: create keyset of tenant %s: %w", org, err)
	}
	return nil
}

// Destroy replaces the tenant's keyset, if any, with a tombstone.
// Destroying twice, or a tenant without a keyset, is not an error.
func (k *Keysets) Destroy(ctx context.Context, org tenant.ID) error {
	key, err := keysetKey(org)
	if err != nil {
		return fmt.Errorf("dynamo: destroy keyset: %w", err)
	}
	key[attrShredded] = &types.AttributeValueMemberBOOL{Value: true}
	if _, err := k.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &k.table, Item: key}); err != nil {
		return fmt.Errorf("dynamo: destroy keyset of tenant %s: %w", org, err)
	}
	return nil
}

// keysetKey returns the key of org's keyset item, refusing an org that is
// neither valid nor the platform.
func keysetKey(org tenant.ID) (map[string]types.AttributeValue, error) {
	if org != tenant.Platform {
		if err := tenant.Valid(string(org)); err != nil {
			return nil, err
		}
	}
	return map[string]types.AttributeValue{attrPK: str(keysetPrefix + string(org)), attrSK: str(keysetSK)}, nil
}
