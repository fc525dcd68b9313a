// Command export is the Lambda function on the jobs queue: exports (subject
// access and portability, whole workspaces), import parses, and whatever
// other long-running work registers a kind with the stack's jobs
// dispatcher. One queue and one function serve them all, so a capability
// adds a handler, not a queue, a dead-letter queue, alarms and a function.
// Jobs to retry come back as batch item failures (partial batch responses
// must be on in the event source mapping).
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
		log.Fatalf("export: %v", err)
	}
	lambda.Start(st.Jobs.HandleSQS)
}
