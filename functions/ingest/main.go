// Command ingest is the Lambda function of two sources: the ingress queue,
// whose batches it stores, reporting the messages to retry as batch item
// failures (partial batch responses must be on in the event source
// mapping), and the imports bucket's ObjectCreated events, each upload
// starting its import's parse (stack.HandleIngest tells them apart).
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
		log.Fatalf("ingest: %v", err)
	}
	lambda.Start(st.HandleIngest)
}
