package table_test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"

	"github.com/alto/alto/infra/cdk/cdktest"
	"github.com/alto/alto/infra/cdk/table"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

func build(t *testing.T) assertions.Template {
	t.Helper()
	stack := cdktest.Stack(t)
	key := awskms.NewKey(stack, jsii.String("Key"), nil)
	table.NewTable(stack, "Data", &table.Props{Key: key})
	return cdktest.Template(t, stack)
}

func TestTable_Shape(t *testing.T) {
	tmpl := build(t)
	cdktest.Has(t, tmpl, "AWS::DynamoDB::Table", map[string]interface{}{
		"KeySchema": []interface{}{
			map[string]interface{}{"AttributeName": "pk", "KeyType": "HASH"},
			map[string]interface{}{"AttributeName": "sk", "KeyType": "RANGE"},
		},
		"BillingMode": "PAY_PER_REQUEST",
		"GlobalSecondaryIndexes": []interface{}{map[string]interface{}{
			"IndexName": "blind",
			"KeySchema": []interface{}{
				map[string]interface{}{"AttributeName": "ix", "KeyType": "HASH"},
				map[string]interface{}{"AttributeName": "sk", "KeyType": "RANGE"},
			},
			"Projection": map[string]interface{}{"ProjectionType": "ALL"},
		}},
		"TimeToLiveSpecification":   map[string]interface{}{"AttributeName": "ttl", "Enabled": true},
		"DeletionProtectionEnabled": true,
	})
	for id, r := range cdktest.OfType(t, tmpl, "AWS::DynamoDB::Table") {
		if r.DeletionPolicy != "Retain" {
			t.Errorf("%s DeletionPolicy: got %q, want Retain", id, r.DeletionPolicy)
		}
	}
}

func TestENC01_TableUsesTheCustomerManagedKey(t *testing.T) {
	tmpl := build(t)
	cdktest.Has(t, tmpl, "AWS::DynamoDB::Table", map[string]interface{}{
		"SSESpecification": map[string]interface{}{
			"SSEEnabled":     true,
			"SSEType":        "KMS",
			"KMSMasterKeyId": map[string]interface{}{"Fn::GetAtt": []interface{}{cdktest.LogicalID(t, tmpl, "AWS::KMS::Key"), "Arn"}},
		},
	})
}

func TestRET06_PointInTimeRecoveryOver14Days(t *testing.T) {
	tmpl := build(t)
	cdktest.Has(t, tmpl, "AWS::DynamoDB::Table", map[string]interface{}{
		"PointInTimeRecoverySpecification": map[string]interface{}{
			"PointInTimeRecoveryEnabled": true,
			"RecoveryPeriodInDays":       14,
		},
	})
}
