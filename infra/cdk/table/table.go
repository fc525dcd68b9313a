// Package table defines Alto's single DynamoDB table: the shape of the store
// port (partition key, sort key, one blind-index GSI, TTL), encrypted with a
// customer-managed key (ENC-01), with point-in-time recovery over 14 days
// (RET-06) and deletion protection.
package table

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Attribute and index names the DynamoDB store adapter relies on.
const (
	PartitionKey = "pk"    // string: ORG#<org>#…
	SortKey      = "sk"    // string: <type>#<id>
	IndexName    = "blind" // the blind-index GSI
	IndexKey     = "ix"    // string: the item's blind index, tenant-prefixed
	TTLAttribute = "ttl"   // number: epoch seconds after which the item is gone
)

// RecoveryDays is the point-in-time recovery window (RET-06).
const RecoveryDays = 14

// Props configures the table.
type Props struct {
	Key awskms.IKey // encrypts the table; required
}

// Table holds the table.
type Table struct {
	constructs.Construct
	Table awsdynamodb.Table
}

// NewTable defines the table under scope/id. It is retained when the stack is
// deleted and cannot be deleted while deletion protection is on.
func NewTable(scope constructs.Construct, id string, props *Props) Table {
	c := constructs.NewConstruct(scope, jsii.String(id))
	t := awsdynamodb.NewTable(c, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String(PartitionKey), Type: awsdynamodb.AttributeType_STRING},
		SortKey:             &awsdynamodb.Attribute{Name: jsii.String(SortKey), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:          awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey:       props.Key,
		TimeToLiveAttribute: jsii.String(TTLAttribute),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
			RecoveryPeriodInDays:       jsii.Number(RecoveryDays),
		},
		DeletionProtection: jsii.Bool(true),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
	})
	t.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:      jsii.String(IndexName),
		PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(IndexKey), Type: awsdynamodb.AttributeType_STRING},
		SortKey:        &awsdynamodb.Attribute{Name: jsii.String(SortKey), Type: awsdynamodb.AttributeType_STRING},
		ProjectionType: awsdynamodb.ProjectionType_ALL,
	})
	return Table{Construct: c, Table: t}
}
