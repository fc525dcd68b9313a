// Command purge is the Lambda function of the hourly `sweep` schedule (an
// EventBridge rule): expiry of stored items and queued messages, workspace
// purge steps, subject-request deadlines and notice reminders, bounded per
// run and resumed by the next.
//
// Like functions/api, it runs the stack on embedded storage in ALTO_DATA
// until the AWS adapters are wired in; fit for trying, not for keeping data.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/alto/alto/shared/stack"
)

func main() {
	st, err := stack.Open(stack.ConfigFromEnv())
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
