// Package alarms defines Alto's operational alarms (OPS-04): an SNS topic
// encrypted with a customer-managed key (ENC-01) that refuses publishers
// without TLS (ACC-06), and CloudWatch alarms on it for every dead-letter
// queue that holds a message and every function that errs or is
// throttled. The functions' own SLA alerts (overdue subject requests,
// purges, incident notices) are published to the same topic.
package alarms

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Period is the evaluation period of every alarm.
const Period = 5 * 60 // seconds

// Props configures the alarms.
type Props struct {
	// Key encrypts the topic; its key policy must let CloudWatch alarms use
	// it (see package keys). Required.
	Key awskms.IKey
	// Email, if set, subscribes that address to the topic (it must confirm).
	Email string
}

// Alarms holds the topic; OnDeadLetter and OnFunction add alarms to it.
type Alarms struct {
	constructs.Construct
	Topic awssns.Topic
}

// NewAlarms defines the topic under scope/id.
func NewAlarms(scope constructs.Construct, id string, props *Props) Alarms {
	c := constructs.NewConstruct(scope, jsii.String(id))
	topic := awssns.NewTopic(c, jsii.String("Topic"), &awssns.TopicProps{
		DisplayName: jsii.String("Alto alarms"),
		MasterKey:   props.Key,
		EnforceSSL:  jsii.Bool(true),
	})
	if props.Email != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.Email), nil))
	}
	return Alarms{Construct: c, Topic: topic}
}

// OnDeadLetter alarms as soon as the dead-letter queue q, named name, holds
// a message.
func (a Alarms) OnDeadLetter(name string, q awssqs.IQueue) awscloudwatch.Alarm {
	m := q.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
		Period:    awscdk.Duration_Seconds(jsii.Number(Period)),
		Statistic: jsii.String("Maximum"),
	})
	return a.alarm("DeadLetter"+name, m, "Alto: the "+name+" dead-letter queue holds messages that failed every retry")
}

// OnFunction alarms when fn, named name, errs or is throttled.
func (a Alarms) OnFunction(name string, fn awslambda.IFunction) (errs, throttles awscloudwatch.Alarm) {
	opts := &awscloudwatch.MetricOptions{Period: awscdk.Duration_Seconds(jsii.Number(Period)), Statistic: jsii.String("Sum")}
	errs = a.alarm("Errors"+name, fn.MetricErrors(opts), "Alto: the "+name+" function returned errors")
	throttles = a.alarm("Throttles"+name, fn.MetricThrottles(opts), "Alto: the "+name+" function was throttled")
	return errs, throttles
}

func (a Alarms) alarm(id string, m awscloudwatch.Metric, description string) awscloudwatch.Alarm {
	al := m.CreateAlarm(a.Construct, jsii.String(id), &awscloudwatch.CreateAlarmOptions{
		AlarmDescription:   jsii.String(description),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	al.AddAlarmAction(awscloudwatchactions.NewSnsAction(a.Topic))
	return al
}
