// Command personalize is the Lambda function on the personalization queue:
// it renders each job into a draft and reports the jobs to retry as batch
// item failures.
//
// Like functions/api, it runs the stack on embedded storage in ALTO_DATA
// until the AWS adapters are wired in; fit for trying, not for keeping data.
package main

import (
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/alto/alto/shared/stack"
)

func main() {
	st, err := stack.Open(stack.ConfigFromEnv())
	if err != nil {
		log.Fatalf("personalize: %v", err)
	}
	lambda.Start(st.Campaigns.HandleSQS)
}
