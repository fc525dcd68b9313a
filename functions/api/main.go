// Command api is the Lambda function behind API Gateway: it serves Alto's
// HTTP API to REST proxy events.
//
// It runs the stack on embedded storage in ALTO_DATA (default /tmp/alto):
// each function instance has its own. The AWS adapters (DynamoDB, S3, KMS)
// replace it when they exist; until then this function is fit for trying
// the API behind API Gateway, not for keeping data.
package main

import (
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/alto/alto/shared/apigw"
	"github.com/alto/alto/shared/stack"
)

func main() {
	st, err := stack.Open(stack.ConfigFromEnv())
	if err != nil {
		log.Fatalf("api: %v", err)
	}
	lambda.Start(apigw.Handler(st.API))
}
