package alarms_test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/alto/alto/infra/cdk/alarms"
	"github.com/alto/alto/infra/cdk/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

func TestOPS04_AlarmsOnDeadLettersAndFunctionsReachTheTopic(t *testing.T) {
	stack := cdktest.Stack(t)
	a := alarms.NewAlarms(stack, "Alarms", &alarms.Props{Key: awskms.NewKey(stack, jsii.String("Key"), nil)})
	dlq := awssqs.NewQueue(stack, jsii.String("Dlq"), nil)
	fn := awslambda.NewFunction(stack, jsii.String("Fn"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_PROVIDED_AL2023(), Handler: jsii.String("bootstrap"),
		Code: awslambda.Code_FromAsset(jsii.String(cdktest.Assets(t, "api")+"/api"), nil),
	})
	a.OnDeadLetter("ingress", dlq)
	a.OnFunction("api", fn)
	tmpl := cdktest.Template(t, stack)

	topic := map[string]interface{}{"Ref": cdktest.ID(t, a.Topic)}
	for _, tc := range []struct {
		name, metric, namespace, stat string
		dim                           map[string]interface{}
	}{
		{"dead letter", "ApproximateNumberOfMessagesVisible", "AWS/SQS", "Maximum",
			map[string]interface{}{"Name": "QueueName", "Value": map[string]interface{}{"Fn::GetAtt": []interface{}{cdktest.ID(t, dlq), "QueueName"}}}},
		{"errors", "Errors", "AWS/Lambda", "Sum", map[string]interface{}{"Name": "FunctionName", "Value": map[string]interface{}{"Ref": cdktest.ID(t, fn)}}},
		{"throttles", "Throttles", "AWS/Lambda", "Sum", map[string]interface{}{"Name": "FunctionName", "Value": map[string]interface{}{"Ref": cdktest.ID(t, fn)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cdktest.Has(t, tmpl, "AWS::CloudWatch::Alarm", map[string]interface{}{
				"MetricName": tc.metric, "Namespace": tc.namespace, "Statistic": tc.stat,
				"Dimensions":         []interface{}{tc.dim},
				"Threshold":          1,
				"ComparisonOperator": "GreaterThanOrEqualToThreshold",
				"EvaluationPeriods":  1,
				"Period":             300,
				"AlarmActions":       []interface{}{topic},
				"TreatMissingData":   "notBreaching",
			})
		})
	}
	cdktest.Count(t, tmpl, "AWS::CloudWatch::Alarm", 3)
}

func TestENC01_AlarmTopicUsesTheKeyAndTLS(t *testing.T) {
	stack := cdktest.Stack(t)
	a := alarms.NewAlarms(stack, "Alarms", &alarms.Props{Key: awskms.NewKey(stack, jsii.String("Key"), nil), Email: "ops@example.com"})
	tmpl := cdktest.Template(t, stack)
	cdktest.Has(t, tmpl, "AWS::SNS::Topic", map[string]interface{}{
		"KmsMasterKeyId": map[string]interface{}{"Fn::GetAtt": []interface{}{cdktest.LogicalID(t, tmpl, "AWS::KMS::Key"), "Arn"}},
	})
	cdktest.Has(t, tmpl, "AWS::SNS::TopicPolicy", map[string]interface{}{
		"Topics": []interface{}{map[string]interface{}{"Ref": cdktest.ID(t, a.Topic)}},
		"PolicyDocument": assertions.Match_ObjectLike(&map[string]interface{}{
			"Statement": assertions.Match_ArrayWith(&[]interface{}{assertions.Match_ObjectLike(&map[string]interface{}{
				"Effect":    "Deny",
				"Condition": map[string]interface{}{"Bool": map[string]interface{}{"aws:SecureTransport": "false"}},
			})}),
		}),
	})
	cdktest.Has(t, tmpl, "AWS::SNS::Subscription", map[string]interface{}{"Protocol": "email", "Endpoint": "ops@example.com"})
}
