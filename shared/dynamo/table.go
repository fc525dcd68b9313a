package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableOptions configure CreateTable.
type TableOptions struct {
	// KMSKeyID, if set, encrypts the table with that customer-managed KMS
	// key (ENC-01); empty leaves DynamoDB's default encryption.
	KMSKeyID string
}

// CreateTable creates the table the adapters expect (see the package
// documentation), on demand, with time to live on "ttl", and waits until it
// is active. The CDK stack creates the production table the same way; this
// is for tests and for running the stack against an AWS-compatible server.
// Returns the service's error if the table exists.
func CreateTable(ctx context.Context, client *dynamodb.Client, name string, opts TableOptions) error {
	keys := func(hash, rng string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
		}
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrSK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrIndex), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: keys(attrPK, attrSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(IndexName),
			KeySchema:  keys(attrIndex, attrSK),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	}
	if opts.KMSKeyID != "" {
		in.SSESpecification = &types.SSESpecification{
			Enabled:        aws.Bool(true),
			SSEType:        types.SSETypeKms,
			KMSMasterKeyId: aws.String(opts.KMSKeyID),
		}
	}
	if _, err := client.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("dynamo: create table %s: %w", name, err)
	}
	// The SDK's waiter pauses 20s at least; a local server is ready at once.
	for pause := 100 * time.Millisecond; ; pause = min(2*pause, 5*time.Second) {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("dynamo: create table %s: describe: %w", name, err)
		}
		if out.Table.TableStatus == types.TableStatusActive {
			break
		}
		if err := sleep(ctx, pause); err != nil {
			return fmt.Errorf("dynamo: create table %s: wait until active: %w", name, err)
		}
	}
	_, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attrTTL),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("dynamo: create table %s: enable time to live: %w", name, err)
	}
	return nil
}
