// Command export is the Lambda function on the jobs queue: exports (subject
// access and portability, whole workspaces), import parses, and whatever
// other long-running work registers a kind with the stack's jobs
// dispatcher. One queue and one function serve them all, so a capability
// adds a handler, not a queue, a dead-letter queue, alarms and a function.
// Jobs to retry come back as batch item failures (partial batch responses
// must be on in the event source mapping).
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

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/alto/alto/shared/stack"
)

func main() {
	st, err := stack.OpenEnv(context.Background())
	if err != nil {
		log.Fatalf("export: %v", err)
	}
	lambda.Start(st.Jobs.HandleSQS)
}
