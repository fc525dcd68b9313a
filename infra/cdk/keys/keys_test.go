package keys_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/alto/alto/infra/cdk/cdktest"
	"github.com/alto/alto/infra/cdk/keys"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

func TestENC01_KeysRotateEvery90Days(t *testing.T) {
	stack := cdktest.Stack(t)
	keys.NewKeys(stack, "Keys", nil)
	tmpl := cdktest.Template(t, stack)

	got := cdktest.OfType(t, tmpl, "AWS::KMS::Key")
	if len(got) != 3 {
		t.Fatalf("keys: got %d, want 3", len(got))
	}
	for id, k := range got {
		if k.Properties["EnableKeyRotation"] != true {
			t.Errorf("%s EnableKeyRotation: got %v, want true", id, k.Properties["EnableKeyRotation"])
		}
		if k.Properties["RotationPeriodInDays"] != float64(90) {
			t.Errorf("%s RotationPeriodInDays: got %v, want 90", id, k.Properties["RotationPeriodInDays"])
		}
		if k.DeletionPolicy != "Retain" {
			t.Errorf("%s DeletionPolicy: got %q, want Retain", id, k.DeletionPolicy)
		}
	}
}

func TestENC01_KeyPoliciesNameTheirActions(t *testing.T) {
	stack := cdktest.Stack(t)
	keys.NewKeys(stack, "Keys", nil)
	tmpl := cdktest.Template(t, stack)

	for id, k := range cdktest.OfType(t, tmpl, "AWS::KMS::Key") {
		policy, _ := k.Properties["KeyPolicy"].(map[string]interface{})
		stmts, _ := policy["Statement"].([]interface{})
		if len(stmts) == 0 {
			t.Fatalf("%s: no key policy statements", id)
		}
		for _, s := range stmts {
			for _, a := range actions(s.(map[string]interface{})["Action"]) {
				if strings.Contains(a, "*") {
					t.Errorf("%s: key policy action %q holds a wildcard", id, a)
				}
			}
		}
	}
}

func TestENC01_OnlyLogsAndAlarmsUseTheOpsKey(t *testing.T) {
	stack := cdktest.Stack(t)
	keys.NewKeys(stack, "Keys", nil)
	tmpl := cdktest.Template(t, stack)

	cdktest.Has(t, tmpl, "AWS::KMS::Key", map[string]interface{}{
		"Description": "Alto operations: CloudWatch Logs and the alarm topic",
		"KeyPolicy": assertions.Match_ObjectLike(&map[string]interface{}{
			"Statement": assertions.Match_ArrayWith(&[]interface{}{
				assertions.Match_ObjectLike(&map[string]interface{}{
					"Principal": map[string]interface{}{"Service": "logs.us-east-1.amazonaws.com"},
					"Condition": assertions.Match_ObjectLike(&map[string]interface{}{
						"ArnLike": assertions.Match_AnyValue(),
					}),
				}),
				assertions.Match_ObjectLike(&map[string]interface{}{
					"Principal": map[string]interface{}{"Service": "cloudwatch.amazonaws.com"},
				}),
			}),
		}),
	})
	for _, desc := range []string{"Alto data at rest: DynamoDB, S3, SQS", "Alto per-tenant keyset wrapping (ENC-02)"} {
		t.Run(desc, func(t *testing.T) {
			for id, k := range cdktest.OfType(t, tmpl, "AWS::KMS::Key") {
				if k.Properties["Description"] != desc {
					continue
				}
				stmts := k.Properties["KeyPolicy"].(map[string]interface{})["Statement"].([]interface{})
				if len(stmts) != 1 {
					t.Errorf("%s: got %d statements, want 1 (the account's)", id, len(stmts))
				}
			}
		})
	}
}

func actions(v interface{}) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []interface{}:
		out := make([]string, 0, len(a))
		for _, x := range a {
			out = append(out, x.(string))
		}
		return out
	}
	return nil
}
