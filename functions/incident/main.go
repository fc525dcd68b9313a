// Command incident is the Lambda function of the `sla` schedule (an
// EventBridge rule, every 15 minutes): incident notice, update and RCA
// timers and the detectors, one incident.Service.Tick per event.
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
		log.Fatalf("incident: %v", err)
	}
	lambda.Start(handler(st.Incidents))
}

// handler runs the schedule once per scheduled event; an error makes
// EventBridge's retry policy deliver the event again (Tick is idempotent).
func handler(sla interface{ Tick(context.Context) error }) func(context.Context, events.EventBridgeEvent) error {
	return func(ctx context.Context, _ events.EventBridgeEvent) error { return sla.Tick(ctx) }
}
