// Command personalize is the Lambda function on the personalization queue:
// it renders each job into a draft and reports the jobs to retry as batch
// item failures.
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
		log.Fatalf("personalize: %v", err)
	}
	lambda.Start(st.Campaigns.HandleSQS)
}
