package queues_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/alto/alto/infra/cdk/cdktest"
	"github.com/alto/alto/infra/cdk/queues"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

func build(t *testing.T, props queues.Props) (awscdk.Stack, queues.Queue) {
	t.Helper()
	stack := cdktest.Stack(t)
	props.Key = awskms.NewKey(stack, jsii.String("Key"), nil)
	return stack, queues.NewQueue(stack, "Ingress", &props)
}

func consumer(t *testing.T, stack awscdk.Stack, timeout time.Duration) awslambda.Function {
	t.Helper()
	return awslambda.NewFunction(stack, jsii.String("Consumer"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_PROVIDED_AL2023(), Handler: jsii.String("bootstrap"),
		Code:    awslambda.Code_FromAsset(jsii.String(cdktest.Assets(t, "ingest")+"/ingest"), nil),
		Timeout: awscdk.Duration_Seconds(jsii.Number(timeout.Seconds())),
	})
}

func TestQueue_RetentionVisibilityAndRedrive(t *testing.T) {
	for _, tc := range []struct {
		name                               string
		props                              queues.Props
		retention, dlRetention, visibility int
		receives                           int
	}{
		{"defaults", queues.Props{ConsumerTimeout: time.Minute}, 4 * 86400, 14 * 86400, 360, 5},
		{"ingress", queues.Props{ConsumerTimeout: 5 * time.Minute, Retention: 24 * time.Hour, DeadLetterRetention: 24 * time.Hour, MaxReceives: 3}, 86400, 86400, 1800, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stack, q := build(t, tc.props)
			tmpl := cdktest.Template(t, stack)
			res := cdktest.Resources(t, tmpl)
			main, dl := res[cdktest.ID(t, q.Queue)], res[cdktest.ID(t, q.DeadLetter)]
			if got := main.Properties["MessageRetentionPeriod"]; got != float64(tc.retention) {
				t.Errorf("queue retention: got %v, want %d", got, tc.retention)
			}
			if got := dl.Properties["MessageRetentionPeriod"]; got != float64(tc.dlRetention) {
				t.Errorf("dead-letter retention: got %v, want %d", got, tc.dlRetention)
			}
			if got := main.Properties["VisibilityTimeout"]; got != float64(tc.visibility) {
				t.Errorf("visibility: got %v, want %d", got, tc.visibility)
			}
			want := fmt.Sprint(map[string]interface{}{
				"deadLetterTargetArn": map[string]interface{}{"Fn::GetAtt": []interface{}{cdktest.ID(t, q.DeadLetter), "Arn"}},
				"maxReceiveCount":     float64(tc.receives),
			})
			if got := fmt.Sprint(main.Properties["RedrivePolicy"]); got != want {
				t.Errorf("redrive: got %s, want %s", got, want)
			}
		})
	}
}

func TestENC01_QueuesUseTheCustomerManagedKey(t *testing.T) {
	stack, _ := build(t, queues.Props{ConsumerTimeout: time.Minute})
	tmpl := cdktest.Template(t, stack)
	key := cdktest.LogicalID(t, tmpl, "AWS::KMS::Key")
	got := cdktest.OfType(t, tmpl, "AWS::SQS::Queue")
	if len(got) != 2 {
		t.Fatalf("queues: got %d, want 2", len(got))
	}
	for id, q := range got {
		if want := fmt.Sprint(map[string]interface{}{"Fn::GetAtt": []interface{}{key, "Arn"}}); fmt.Sprint(q.Properties["KmsMasterKeyId"]) != want {
			t.Errorf("%s KmsMasterKeyId: got %v, want %s", id, q.Properties["KmsMasterKeyId"], want)
		}
	}
}

func TestACC06_QueuesRefuseRequestsWithoutTLS(t *testing.T) {
	stack, q := build(t, queues.Props{ConsumerTimeout: time.Minute})
	tmpl := cdktest.Template(t, stack)
	for _, id := range []string{cdktest.ID(t, q.Queue), cdktest.ID(t, q.DeadLetter)} {
		cdktest.Has(t, tmpl, "AWS::SQS::QueuePolicy", map[string]interface{}{
			"Queues": []interface{}{map[string]interface{}{"Ref": id}},
			"PolicyDocument": assertions.Match_ObjectLike(&map[string]interface{}{
				"Statement": assertions.Match_ArrayWith(&[]interface{}{assertions.Match_ObjectLike(&map[string]interface{}{
					"Effect":    "Deny",
					"Action":    "sqs:*",
					"Principal": map[string]interface{}{"AWS": "*"},
					"Condition": map[string]interface{}{"Bool": map[string]interface{}{"aws:SecureTransport": "false"}},
				})}),
			}),
		})
	}
}

func TestING05_ConsumerReportsBatchItemFailures(t *testing.T) {
	stack, q := build(t, queues.Props{ConsumerTimeout: time.Minute})
	q.Consume(consumer(t, stack, time.Minute), queues.ConsumeOptions{MaxConcurrency: 5})
	tmpl := cdktest.Template(t, stack)
	cdktest.Has(t, tmpl, "AWS::Lambda::EventSourceMapping", map[string]interface{}{
		"EventSourceArn":        map[string]interface{}{"Fn::GetAtt": []interface{}{cdktest.ID(t, q.Queue), "Arn"}},
		"FunctionResponseTypes": []interface{}{"ReportBatchItemFailures"},
		"BatchSize":             10,
		"ScalingConfig":         map[string]interface{}{"MaximumConcurrency": 5},
	})
}

func TestQueue_VisibilityBelowSixConsumerTimeoutsPanics(t *testing.T) {
	stack, q := build(t, queues.Props{ConsumerTimeout: time.Minute})
	defer func() {
		if recover() == nil {
			t.Errorf("Consume by a 2-minute function of a queue made for 1 minute: no panic, want one")
		}
	}()
	q.Consume(consumer(t, stack, 2*time.Minute), queues.ConsumeOptions{})
}

func TestQueue_BadPropsPanic(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props queues.Props
	}{
		{"no consumer timeout", queues.Props{}},
		{"retention over 14 days", queues.Props{ConsumerTimeout: time.Minute, Retention: 15 * 24 * time.Hour}},
		{"visibility over 12 h", queues.Props{ConsumerTimeout: 3 * time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("NewQueue(%+v): no panic, want one", tc.props)
				}
			}()
			build(t, tc.props)
		})
	}
}
