package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestConfigFrom(t *testing.T) {
	const cert = "arn:aws:acm:eu-central-1:111111111111:certificate/1"
	for _, tc := range []struct {
		name    string
		ctx     map[string]interface{}
		want    func(c *Config) // edits the defaults into the expected config
		wantErr string
	}{
		{name: "defaults", want: func(c *Config) {}},
		{name: "EU with a domain", ctx: map[string]interface{}{ctxRegion: "eu-central-1", ctxDomain: "api.example.eu", ctxCertificateArn: cert},
			want: func(c *Config) {
				c.Region, c.Residency, c.Domain, c.CertificateArn = "eu-central-1", "eu", "api.example.eu", cert
			}},
		{name: "numbers from cdk.json and from -c", ctx: map[string]interface{}{ctxAuditDays: 2555.0, ctxRateLimit: "20", ctxBurstLimit: " 40 ", ctxWAFRateLimit: 300.0},
			want: func(c *Config) { c.AuditRetentionDays, c.RateLimit, c.BurstLimit, c.WAFRateLimit = 2555, 20, 40, 300 }},
		{name: "identity provider", ctx: map[string]interface{}{ctxIssuer: "https://idp.example.com/", ctxAudience: "alto", ctxJWKSURL: "https://idp.example.com/jwks"},
			want: func(c *Config) {
				c.Issuer, c.Audience, c.JWKSURL = "https://idp.example.com/", "alto", "https://idp.example.com/jwks"
			}},
		{name: "account", ctx: map[string]interface{}{ctxAccount: "123456789012"}, want: func(c *Config) { c.Account = "123456789012" }},
		{name: "region outside US and EU", ctx: map[string]interface{}{ctxRegion: "ap-south-1"}, wantErr: ctxRegion},
		{name: "GovCloud", ctx: map[string]interface{}{ctxRegion: "us-gov-west-1"}, wantErr: ctxRegion},
		{name: "region not a string", ctx: map[string]interface{}{ctxRegion: 1.0}, wantErr: ctxRegion},
		{name: "audit retention over 7 years", ctx: map[string]interface{}{ctxAuditDays: "2556"}, wantErr: ctxAuditDays},
		{name: "audit retention of no days", ctx: map[string]interface{}{ctxAuditDays: 0.5}, wantErr: ctxAuditDays},
		{name: "rate not a number", ctx: map[string]interface{}{ctxRateLimit: "fast"}, wantErr: ctxRateLimit},
		{name: "WAF limit below 10", ctx: map[string]interface{}{ctxWAFRateLimit: "5"}, wantErr: ctxWAFRateLimit},
		{name: "domain without certificate", ctx: map[string]interface{}{ctxDomain: "api.example.com"}, wantErr: ctxCertificateArn},
		{name: "certificate of another region", ctx: map[string]interface{}{ctxDomain: "api.example.com", ctxCertificateArn: cert}, wantErr: ctxCertificateArn},
		{name: "issuer alone", ctx: map[string]interface{}{ctxIssuer: "https://idp.example.com/"}, wantErr: ctxJWKSURL},
		{name: "JWKS over plain HTTP", ctx: map[string]interface{}{ctxIssuer: "i", ctxAudience: "a", ctxJWKSURL: "http://idp/jwks"}, wantErr: ctxJWKSURL},
		{name: "account not 12 digits", ctx: map[string]interface{}{ctxAccount: "12345"}, wantErr: ctxAccount},
		{name: "alarm e-mail not an address", ctx: map[string]interface{}{ctxAlarmEmail: "ops"}, wantErr: ctxAlarmEmail},
		{name: "mail sender", ctx: map[string]interface{}{ctxMailFrom: "alto@acme.example"}, want: func(c *Config) { c.MailFrom = "alto@acme.example" }},
		{name: "mail sender with a name", ctx: map[string]interface{}{ctxMailFrom: "Alto <alto@acme.example>"}, wantErr: ctxMailFrom},
		{name: "mail sender not an address", ctx: map[string]interface{}{ctxMailFrom: "alto"}, wantErr: ctxMailFrom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFrom(func(key string) interface{} { return tc.ctx[key] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ConfigFrom: got error %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ConfigFrom: %v", err)
			}
			want := Config{Region: "us-east-1", Residency: "us", FunctionsDir: "functions", AssetDir: "build"}
			tc.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ConfigFrom:\ngot  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestFileContext(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cdk.json")
	if got, err := fileContext(path); err != nil || len(got) != 0 {
		t.Errorf("fileContext without a file: got %v, %v; want empty, nil", got, err)
	}
	if err := os.WriteFile(path, []byte(`{"app":"go run ./infra/cdk","context":{"alto:region":"eu-west-1","alto:rateLimit":20}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := fileContext(path)
	if want := map[string]interface{}{"alto:region": "eu-west-1", "alto:rateLimit": 20.0}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("fileContext: got %v, %v; want %v", got, err, want)
	}
	if err := os.WriteFile(path, []byte(`{"context":`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fileContext(path); err == nil {
		t.Errorf("fileContext of broken JSON: got nil error, want one")
	}
	// The repository's own cdk.json is readable and names a valid region.
	repo, err := fileContext("../../cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ConfigFrom(func(key string) interface{} { return repo[key] }); err != nil {
		t.Errorf("cdk.json: %v", err)
	}
}
