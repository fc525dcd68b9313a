// Command purge is the Lambda function of the hourly `sweep` schedule (an
// EventBridge rule): workspace purge steps, erasures, retention,
// subject-request deadlines and notice reminders, bounded per run and
// resumed by the next. (Expired items and messages are forgotten by
// DynamoDB's time to live and SQS's retention on AWS, by the sweep on the
// embedded stack.)
//
// It opens the stack from its environment (stack.OpenEnv): on the AWS
// adapters (DynamoDB, S3, SQS, KMS, SES, SNS) when ALTO_TABLE is set, as
// the CDK stack sets it with the other ALTO_* variables; otherwise the
// embedded stack in ALTO_DATA (default /tmp/alto), which each instance
// keeps to itself: fit for trying, not for keeping data.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/alto/alto/shared/stack"
)

func main() {
	st, err := stack.OpenEnv(context.Background())
	if err != nil {
		log.Fatalf("purge: %v", err)
	}
	lambda.Start(handler(st))
}

// handler runs the sweep once per scheduled event; an error makes
// EventBridge's retry policy deliver the event again (the sweep is
// idempotent).
func handler(sweep interface{ Sweep(context.Context) error }) func(context.Context, events.EventBridgeEvent) error {
	return func(ctx context.Context, _ events.EventBridgeEvent) error { return sweep.Sweep(ctx) }
}
