// Command ingest is the Lambda function on the ingress queue: it stores the
// contacts of each batch and reports the messages to retry as batch item
// failures (partial batch responses must be on in the event source mapping).
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
		log.Fatalf("ingest: %v", err)
	}
	lambda.Start(st.Ingest.HandleSQS)
}
