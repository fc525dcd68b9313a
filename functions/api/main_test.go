package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/alto/alto/shared/apigw"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/awstest"
	"github.com/alto/alto/shared/stacktest"
)

func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }

// invoke loads a sample event from events/, puts token in place of TOKEN
// (when given) and invokes the function's handler the way the Lambda
// runtime does.
func invoke(t *testing.T, w *stacktest.World, event, token string) events.APIGatewayProxyResponse {
	t.Helper()
	var replace []string
	if token != "" {
		replace = []string{"TOKEN", token}
	}
	out, err := lambda.NewHandler(apigw.Handler(w.Stack.API)).Invoke(context.Background(), stacktest.Event(t, event, replace...))
	if err != nil {
		t.Fatalf("invoke %s: %v", event, err)
	}
	var res events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("decode response of %s: %v", event, err)
	}
	return res
}

func TestAPIFunctionServesSampleEvents(t *testing.T) {
	stacktest.Each(t, func(t *testing.T, w *stacktest.World) {
		tok := w.Token(t, "acme", auth.Principal{Sub: "u1", Role: auth.Admin})

		res := invoke(t, w, "apigw-healthz.json", "")
		if res.StatusCode != 200 || strings.TrimSpace(res.Body) != `{"status":"ok"}` {
			t.Errorf("healthz = %d %s, want 200 {\"status\":\"ok\"}", res.StatusCode, res.Body)
		}

		res = invoke(t, w, "apigw-me.json", tok)
		var me auth.Principal
		if err := json.Unmarshal([]byte(res.Body), &me); err != nil || res.StatusCode != 200 {
			t.Fatalf("me = %d %s", res.StatusCode, res.Body)
		}
		if me.Org != "acme" || me.Role != auth.Admin || me.Sub != "u1" {
			t.Errorf("me = %+v, want acme/admin/u1", me)
		}

		res = invoke(t, w, "apigw-audit-query.json", tok)
		var page struct {
			Items []struct{ Type string } `json:"items"`
		}
		if err := json.Unmarshal([]byte(res.Body), &page); err != nil || res.StatusCode != 200 {
			t.Fatalf("audit = %d %s", res.StatusCode, res.Body)
		}
		if len(page.Items) != 1 || page.Items[0].Type != "auth.login" {
			t.Errorf("audit items = %+v, want the one log-in of the token", page.Items)
		}
	})
}

func TestACC05_APIFunctionSetsSecureHeaders(t *testing.T) {
	stacktest.Each(t, func(t *testing.T, w *stacktest.World) {
		for event, token := range map[string]string{"apigw-healthz.json": "", "apigw-me.json": "not-a-token"} {
			res := invoke(t, w, event, token)
			for _, h := range []string{"Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options",
				"Content-Security-Policy", "Referrer-Policy", "Cache-Control"} {
				if len(res.MultiValueHeaders[h]) == 0 {
					t.Errorf("%s: response lacks %s", event, h)
				}
			}
		}
		if res := invoke(t, w, "apigw-me.json", "not-a-token"); res.StatusCode != 401 {
			t.Errorf("me with a bad token = %d, want 401", res.StatusCode)
		}
	})
}
