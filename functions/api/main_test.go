package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/alto/alto/shared/apigw"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/stack"
)

// invoke loads a sample event from events/, puts token in place of TOKEN and
// invokes the function the way the Lambda runtime does.
func invoke(t *testing.T, st *stack.Stack, event, token string) events.APIGatewayProxyResponse {
	t.Helper()
	raw, err := os.ReadFile("../../events/" + event)
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.ReplaceAll(string(raw), "TOKEN", token)
	out, err := lambda.NewHandler(apigw.Handler(st.API)).Invoke(context.Background(), []byte(payload))
	if err != nil {
		t.Fatalf("invoke %s: %v", event, err)
	}
	var res events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("decode response of %s: %v", event, err)
	}
	return res
}

func openStack(t *testing.T) *stack.Stack {
	t.Helper()
	st, err := stack.Open(stack.Config{Data: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestAPIFunctionServesSampleEvents(t *testing.T) {
	st := openStack(t)
	tok, err := st.Issuer.Mint(auth.Principal{Sub: "u1", Org: "acme", Role: auth.Admin}, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	res := invoke(t, st, "apigw-healthz.json", "")
	if res.StatusCode != 200 || strings.TrimSpace(res.Body) != `{"status":"ok"}` {
		t.Errorf("healthz = %d %s, want 200 {\"status\":\"ok\"}", res.StatusCode, res.Body)
	}

	res = invoke(t, st, "apigw-me.json", tok)
	var me auth.Principal
	if err := json.Unmarshal([]byte(res.Body), &me); err != nil || res.StatusCode != 200 {
		t.Fatalf("me = %d %s", res.StatusCode, res.Body)
	}
	if me.Org != "acme" || me.Role != auth.Admin || me.Sub != "u1" {
		t.Errorf("me = %+v, want acme/admin/u1", me)
	}

	res = invoke(t, st, "apigw-audit-query.json", tok)
	var page struct {
		Items []struct{ Type string } `json:"items"`
	}
	if err := json.Unmarshal([]byte(res.Body), &page); err != nil || res.StatusCode != 200 {
		t.Fatalf("audit = %d %s", res.StatusCode, res.Body)
	}
	if len(page.Items) != 1 || page.Items[0].Type != "auth.login" {
		t.Errorf("audit items = %+v, want the one log-in of the token", page.Items)
	}
}

func TestACC05_APIFunctionSetsSecureHeaders(t *testing.T) {
	st := openStack(t)
	for _, event := range []string{"apigw-healthz.json", "apigw-me.json"} {
		res := invoke(t, st, event, "not-a-token")
		for _, h := range []string{"Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options",
			"Content-Security-Policy", "Referrer-Policy", "Cache-Control"} {
			if len(res.MultiValueHeaders[h]) == 0 {
				t.Errorf("%s: response lacks %s", event, h)
			}
		}
	}
	if res := invoke(t, st, "apigw-me.json", "not-a-token"); res.StatusCode != 401 {
		t.Errorf("me with a bad token = %d, want 401", res.StatusCode)
	}
}
