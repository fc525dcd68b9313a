// Command hello is the hello-world aws-lambda-go function the benchmarks of
// package runtimeapi measure Alto's functions against.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (string, error) { return "hello", nil })
}
